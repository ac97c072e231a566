"""A calculator tool that walks the expression's AST itself and never calls ``eval``.

Allowed: int/float literals, ``+ - * / // % **``, unary ``+ -``, parentheses, and a short whitelist
of ``math`` functions and constants (``sqrt, log, exp, sin, ..., pi, e``). Everything else -- names,
attribute access (``().__class__``), subscripts, strings, lambdas, comprehensions -- is refused with
a ``CalculatorError`` naming the construct.

Bounds, checked *before* the work is done so a request cannot hang or exhaust memory:
``|exponent| <= 10_000`` and an estimated result of at most ``MAX_INT_BITS`` bits for integer
``**``/``*``; at most ``MAX_EXPRESSION_CHARS`` characters; float overflow is an error, not ``inf``.

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
MAX_FACTORIAL = 2000


class CalculatorError(ValueError):
    """The expression is not allowed or cannot be computed within the bounds."""


def _bits(x: int | float) -> int:
    return abs(int(x)).bit_length() if isinstance(x, int) else 64


def _check_pow(base: int | float, exp: int | float) -> None:
    if abs(exp) > MAX_EXPONENT:
        raise CalculatorError(f"exponent {exp} is too large (limit {MAX_EXPONENT})")
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if exp * math.log2(abs(base)) > MAX_INT_BITS:
            raise CalculatorError(f"{base} ** {exp} would have more than {MAX_INT_BITS} bits")


def _eval(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise CalculatorError(f"only numbers are allowed, got {node.value!r}")
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
        if node.func.id == "factorial" and args and args[0] > MAX_FACTORIAL:
            raise CalculatorError(f"factorial argument is too large (limit {MAX_FACTORIAL})")
        try:
            return _FUNCS[node.func.id](*args)
        except (ValueError, TypeError, OverflowError) as e:
            raise CalculatorError(f"{node.func.id}: {e}") from None
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
    return _eval(tree)


def format_number(x: int | float) -> str:
    """Integers exactly; floats to 12 significant digits (0.1 + 0.2 -> 0.3)."""
    if isinstance(x, int):
        return str(x)
    return f"{x:.12g}"


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression and return the number.

    Args:
        expression: the expression, e.g. "2 * (3 + 4) ** 2" or "sqrt(2) / 3". Supports + - * / // % **,
            parentheses, sqrt, log, exp, sin, cos, tan, floor, ceil, abs, round, min, max, pi and e.
    """
    return format_number(evaluate(expression))
