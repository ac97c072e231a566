"""A calculator tool that walks the expression's AST itself and never calls ``eval``.

Allowed: int/float literals, ``+ - * / // % **``, unary ``+ -``, parentheses, and a short whitelist
of ``math`` functions and constants (``sqrt, log, exp, sin, ..., pi, e``). Everything else -- names,
attribute access (``().__class__``), subscripts, strings, lambdas, comprehensions -- is refused with
a ``CalculatorError`` naming the construct.

Bounds, checked *before* the work is done so a request cannot hang or exhaust memory:
``|exponent| <= 10_000`` and an estimated result of at most ``MAX_INT_BITS`` bits for integer
``**``/``*``/``factorial`` (``factorial(1531)`` is the largest allowed; ``factorial(2000)`` is refused); at most
``MAX_EXPRESSION_CHARS`` characters; float overflow (``1e309``, ``exp(1000)``) is an error, not
``inf``. Every refusal is a ``CalculatorError`` with a short message: huge numbers are described
("a 14,000-bit integer"), never printed.

    >>> evaluate("2 * (3 + 4) ** 2")
    98
    >>> evaluate("sqrt(2) ** 2")
    2.0000000000000004
    >>> calculator("0.1 + 0.2")
    '0.3'
"""

from __future__ import annotations

import ast
import math
import operator

from tinyagent.tool import tool

__all__ = ["CalculatorError", "evaluate", "calculator"]

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 10_000
MAX_INT_BITS = 14_000  # about 4,200 decimal digits (Python prints ints up to 4,300 digits)

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {
    name: getattr(math, name)
    for name in (
        "sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan",
        "sinh", "cosh", "tanh", "floor", "ceil", "factorial", "gcd", "hypot", "radians", "degrees",
    )
}  # fmt: skip
_FUNCS.update({"abs": abs, "round": round, "min": min, "max": max})
_CONSTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
MAX_FACTORIAL = max(n for n in range(2, 5000) if math.lgamma(n + 1) / math.log(2) <= MAX_INT_BITS)
MAX_SHOWN_DIGITS = 30  # numbers in error messages longer than this are described, not printed


class CalculatorError(ValueError):
    """The expression is not allowed or cannot be computed within the bounds."""


def _short(x: int | float) -> str:
    """``x`` for an error message: huge integers are described by their size, never printed."""
    if isinstance(x, int) and x.bit_length() > MAX_SHOWN_DIGITS * 3:
        return f"a {x.bit_length():,}-bit integer"
    return repr(x)


def _bits(x: int | float) -> int:
    return abs(int(x)).bit_length() if isinstance(x, int) else 64


def _check_pow(base: int | float, exp: int | float) -> None:
    if abs(exp) > MAX_EXPONENT:
        raise CalculatorError(f"exponent {_short(exp)} is too large (limit {MAX_EXPONENT})")
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if exp * math.log2(abs(base)) > MAX_INT_BITS:
            raise CalculatorError(
                f"{_short(base)} ** {exp} would have more than {MAX_INT_BITS} bits"
            )


def _check_factorial(args: list) -> None:
    n = args[0] if len(args) == 1 else None
    if isinstance(n, int) and n > 1 and math.lgamma(n + 1) / math.log(2) > MAX_INT_BITS:
        raise CalculatorError(
            f"factorial({_short(n)}) would have more than {MAX_INT_BITS} bits "
            f"(the largest allowed is factorial({MAX_FACTORIAL}))"
        )


def _eval(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise CalculatorError(f"only numbers are allowed, got {str(node.value)[:40]!r}")
        if isinstance(node.value, float) and math.isinf(node.value):
            raise CalculatorError("the number is too large for a float (overflow)")
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_pow(left, right)
        if isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, int):
            if _bits(left) + _bits(right) > MAX_INT_BITS:
                raise CalculatorError(f"the product would have more than {MAX_INT_BITS} bits")
        try:
            result = _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalculatorError("division by zero") from None
        except OverflowError:
            raise CalculatorError("the result is too large for a float") from None
        if isinstance(result, complex):
            raise CalculatorError(
                "the result is a complex number (e.g. a fractional power of a negative)"
            )
        if isinstance(result, float) and math.isinf(result):
            raise CalculatorError("the result is too large for a float")
        return result
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        if node.id in _CONSTS:
            return _CONSTS[node.id]
        raise CalculatorError(
            f"unknown name {node.id!r}; allowed: {sorted(_CONSTS)} and functions {sorted(_FUNCS)}"
        )
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise CalculatorError(f"function {what!r} is not allowed; allowed: {sorted(_FUNCS)}")
        if node.keywords:
            raise CalculatorError("keyword arguments are not allowed")
        args = [_eval(a) for a in node.args]
        if node.func.id == "factorial":
            _check_factorial(args)
        try:
            result = _FUNCS[node.func.id](*args)
        except (ValueError, TypeError, OverflowError) as e:
            raise CalculatorError(f"{node.func.id}: {str(e)[:100]}") from None
        if isinstance(result, float) and math.isinf(result):
            raise CalculatorError(f"{node.func.id}: the result is too large for a float")
        return result
    kind = type(node).__name__
    hint = " (attribute access)" if isinstance(node, ast.Attribute) else ""
    raise CalculatorError(f"{kind}{hint} is not allowed in a calculator expression")


def evaluate(expression: str) -> int | float:
    """Evaluate an arithmetic expression safely; raise CalculatorError when refused."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    expression = expression.replace("^", "**").replace("×", "*").replace("÷", "/")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        raise CalculatorError(f"not a valid expression: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise CalculatorError("expression is nested too deeply") from None
    try:
        return _eval(tree)
    except CalculatorError:
        raise
    except (RecursionError, MemoryError):
        raise CalculatorError("expression is nested too deeply") from None
    except (ValueError, TypeError, OverflowError, ArithmeticError) as e:  # a bound we missed
        raise CalculatorError(f"cannot compute: {type(e).__name__}: {str(e)[:100]}") from None


def format_number(x: int | float) -> str:
    """Integers exactly; floats to 12 significant digits (0.1 + 0.2 -> 0.3)."""
    if isinstance(x, int):
        try:
            return str(x)
        except ValueError:  # more digits than Python prints (sys.get_int_max_str_digits)
            raise CalculatorError(
                f"the result ({_short(x)}) has too many digits to print"
            ) from None
    return f"{x:.12g}"


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression and return the number.

    Args:
        expression: the expression, e.g. "2 * (3 + 4) ** 2" or "sqrt(2) / 3". Supports + - * / // % **,
            parentheses, sqrt, log, exp, sin, cos, tan, floor, ceil, abs, round, min, max, pi and e.
    """
    return format_number(evaluate(expression))
