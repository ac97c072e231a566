"""Scoring tiny-universe's held-out skills: tool calls, grounded answers with citations, refusals.

One reply is scored per held-out conversation (``tinyeval/universe.py`` builds the requests from
``heldout.jsonl``). What counts as right, per subtask:

* ``calc_qwen`` / ``clock_qwen`` (Qwen2.5 ``<tool_call>`` protocol, tools passed as ``tools=``): the
  reply's first tool call is *valid* when it is well-formed JSON naming an offered tool with an
  object of arguments; it is *correct* when it names the gold tool and, for the calculator, its
  ``expression`` evaluates (safely, see ``evaluate``) to the gold ``value``; for any other tool its
  arguments equal the gold ones once the schema's defaults are filled in (``current_time`` with no
  ``timezone_name`` is ``"UTC"``).
* ``calc_react`` / ``clock_react`` (ReAct scratchpad continued after ``Thought:``): the same, on the
  first ``Action:`` line and the ``Action Input:`` JSON object after it (text after an
  ``Observation`` the model wrote itself is ignored).
* ``rag``: the reply is not a refusal, contains the gold ``value`` as a whole word / number (``992``
  does not match inside ``1992``; Chinese values match as substrings), and the ``[n]`` citations it
  writes are exactly the gold source, nothing more.
* ``refuse``: the reply contains one of tinyrag's refusal sentences.

    >>> calc = {"subtask": "calc_qwen", "protocol": "qwen", "offered": ["calculator"],
    ...         "tool": "calculator", "value": "219"}
    >>> call = {"type": "function", "function": {"name": "calculator",
    ...                                          "arguments": '{"expression": "906 - 687"}'}}
    >>> universe_checks("", {**calc, "tool_calls": [call]})
    {'valid': True, 'correct': True}
    >>> universe_checks("906 - 687 = 219", calc)          # answered without calling the tool
    {'valid': False, 'correct': False}
    >>> react = {"subtask": "calc_react", "protocol": "react", "offered": ["calculator"],
    ...          "tool": "calculator", "value": "399"}
    >>> universe_checks(' I should use it.\\nAction: calculator\\nAction Input: {"expression": "69 + 330"}', react)
    {'valid': True, 'correct': True}
    >>> rag = {"subtask": "rag", "value": "honey", "citation": 2}
    >>> universe_checks("The local product of Mapleton is honey [2].", rag)
    {'correct': True, 'refused': False}
    >>> universe_checks("The local product of Mapleton is honey [1][2].", rag)   # extra citation
    {'correct': False, 'refused': False}
    >>> universe_checks("The documents do not say.", {"subtask": "refuse"})
    {'correct': True, 'refused': True}
    >>> s = universe_summary([{"subtask": "calc_qwen", "valid": True, "correct": True},
    ...                       {"subtask": "calc_qwen", "valid": True, "correct": False},
    ...                       {"subtask": "rag", "correct": True, "refused": False},
    ...                       {"subtask": "refuse", "correct": False, "refused": False}])
    >>> s["format_valid"], s["call_correct"], s["qa_exact"], s["refusal_acc"], s["false_refusal"]
    (100.0, 50.0, 100.0, 0.0, 0.0)
    >>> s["by_subtask"]["calc_qwen"]
    {'n': 2, 'score': 50.0, 'format_valid': 100.0}

The definitions follow ``python -m qwen_blog universe-eval`` (format_valid, call_correct, qa_exact,
refusal_acc, false_refusal), with two differences: only the model's *first reply* is scored (no
tool is run, so there is no "agent success"; tinyagent measures that through its real loop), and
the ReAct ``Action Input`` must be strict JSON (tinyagent's parser also repairs single quotes and
trailing commas).

Limits: the calculator check evaluates ``+ - * / // % **`` and parentheses on numbers only -- an
expression that uses ``sqrt(...)`` or names is not evaluated and counts as wrong; ``**`` exponents
above 64 (or results above 2**4096) are refused. Refusal is detected by the exact sentence, so a paraphrased refusal is missed.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from typing import Any

REFUSALS = ("文档中没有提到。", "The documents do not say.")
TOOL_SUBTASKS = ("calc_qwen", "calc_react", "clock_qwen", "clock_react")
ANSWER_SUBTASKS = ("rag", "refuse")
SUBTASKS = TOOL_SUBTASKS + ANSWER_SUBTASKS

_CITE = re.compile(r"\[(\d+)\]")
_OBSERVATION = re.compile(r"(?:^|\n)[ \t]*Observation[ \t]*\d*[ \t]*:")
_ACTION = re.compile(r"^[ \t]*Action[ \t]*:[ \t]*(.*?)[ \t]*$", re.M)
_ACTION_INPUT = re.compile(r"\A\s*Action[ \t]*Input[ \t]*:[ \t]*")
_NEXT_BLOCK = re.compile(r"\n[ \t]*(?:Thought|Action|Final[ \t]*Answer)[ \t]*:", re.I)

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
MAX_EXPONENT = 64


def evaluate(expression: str) -> float | int:
    """The value of an arithmetic ``expression``: numbers, ``+ - * / // % **``, parentheses.

    Walks Python's AST with a whitelist, so nothing else (names, calls, attributes) can run.

        >>> evaluate("906 - 687"), evaluate("2 * (3 + 4) ** 2"), evaluate("7 / 2")
        (219, 98, 3.5)
        >>> evaluate("__import__('os')")
        Traceback (most recent call last):
        ...
        ValueError: not plain arithmetic: Call
    """

    def walk(node: ast.AST) -> float | int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and (
                abs(right) > MAX_EXPONENT or abs(left) > 1 and math.log2(abs(left)) * right > 4096
            ):
                raise ValueError(f"power {left} ** {right} too large")
            try:
                return _BINARY[type(node.op)](left, right)
            except (ZeroDivisionError, OverflowError) as e:
                raise ValueError(str(e)) from e
        raise ValueError(f"not plain arithmetic: {type(node).__name__}")

    if not isinstance(expression, str) or len(expression) > 200:
        raise ValueError("expression must be a string of at most 200 characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"not an expression: {e.msg}") from e
    return walk(tree)


def same_number(result: float | int, value: str) -> bool:
    """``result`` equals the gold number ``value`` (relative tolerance 1e-9)."""
    try:
        gold = float(value)
    except (TypeError, ValueError):
        return False
    return math.isclose(float(result), gold, rel_tol=1e-9, abs_tol=1e-9)


def react_action(text: str) -> tuple[str, dict] | None:
    """``(tool name, arguments)`` of the first ``Action:`` / ``Action Input:`` pair in a ReAct
    continuation, or None when there is none or its input is not a JSON object.

        >>> react_action(' I should use it.\\nAction: current_time\\nAction Input: {}\\nObservation: x')
        ('current_time', {})
        >>> react_action(" I now know the final answer\\nFinal Answer: 42") is None
        True
    """
    invented = _OBSERVATION.search(text)
    text = text[: invented.start()] if invented else text
    action = _ACTION.search(text)
    if action is None:
        return None
    rest = text[action.end() :].lstrip("\n")
    inp = _ACTION_INPUT.match(rest)
    if inp is None:
        return None
    raw = rest[inp.end() :]
    nxt = _NEXT_BLOCK.search(raw)
    raw = (raw[: nxt.start()] if nxt else raw).strip()
    try:
        args = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return (action.group(1), args) if isinstance(args, dict) else None


def qwen_tool_call(tool_calls: list | None) -> tuple[str, dict] | None:
    """``(name, arguments)`` of the first OpenAI-format tool call, or None when there is none or
    its arguments are not a JSON object."""
    if not tool_calls or not isinstance(tool_calls[0], dict):
        return None
    fn = tool_calls[0].get("function") or {}
    args = fn.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(fn.get("name"), str) or not isinstance(args, dict):
        return None
    return fn["name"], args


def first_tool_call(prediction: str, example: dict) -> tuple[str, dict] | None:
    """The reply's first tool call: from ``example["tool_calls"]`` (qwen protocol, parsed by the
    backend) or from the ReAct text."""
    if example.get("protocol") == "react":
        return react_action(prediction)
    return qwen_tool_call(example.get("tool_calls"))


def contains_value(text: str, value: str) -> bool:
    """``value`` occurs in ``text`` as a whole token: letters/digits may not touch an ASCII value
    (``tea`` is not in ``steam``, ``992`` not in ``1992``); other values match as substrings."""
    if not value:
        return False
    if value.isascii():
        pattern = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
        return re.search(pattern, text, re.I) is not None
    return value in text


def citations(text: str) -> list[int]:
    """The distinct ``[n]`` source numbers in ``text``, sorted."""
    return sorted({int(n) for n in _CITE.findall(text)})


def _call_correct(call: tuple[str, dict], example: dict) -> bool:
    name, args = call
    if name != example.get("tool"):
        return False
    if name == "calculator":
        try:
            return same_number(evaluate(args.get("expression")), str(example.get("value")))
        except ValueError:
            return False
    defaults = example.get("defaults") or {}
    return {**defaults, **args} == {**defaults, **(example.get("arguments") or {})}


def universe_checks(prediction: str, example: dict) -> dict[str, bool]:
    """``{"valid", "correct"}`` for a tool subtask, ``{"correct", "refused"}`` for rag / refuse."""
    subtask = example.get("subtask")
    if subtask in TOOL_SUBTASKS:
        call = first_tool_call(prediction, example)
        valid = call is not None and call[0] in (example.get("offered") or ())
        return {"valid": valid, "correct": valid and _call_correct(call, example)}
    refused = any(r in prediction for r in REFUSALS)
    if subtask == "rag":
        right = contains_value(prediction, str(example.get("value") or ""))
        cited = citations(prediction) == [example.get("citation")]
        return {"correct": not refused and right and cited, "refused": refused}
    if subtask == "refuse":
        return {"correct": refused, "refused": refused}
    raise ValueError(f"unknown tiny-universe subtask {subtask!r}; expected one of {SUBTASKS}")


def universe_score(prediction: str, ground_truth: Any, **kwargs: Any) -> float:
    """Per-example metric (tinyeval's convention): 1.0 when ``universe_checks`` says correct.
    Needs the prediction record as ``example``; ``ground_truth`` (the gold reply) is not used."""
    example = kwargs.get("example")
    if not isinstance(example, dict):
        raise ValueError("metric 'universe' needs the prediction record (example=...)")
    return float(universe_checks(prediction, example)["correct"])


def _pct(flags: list[bool]) -> float | None:
    return round(100 * sum(flags) / len(flags), 2) if flags else None


def universe_summary(checks: list[dict]) -> dict[str, Any]:
    """Headline rates (0..100, None when a subtask is absent) and a per-subtask breakdown from
    ``universe_checks`` results, each carrying its ``subtask``."""
    by: dict[str, list[dict]] = {}
    for c in checks:
        by.setdefault(c["subtask"], []).append(c)
    tool = [c for t in TOOL_SUBTASKS for c in by.get(t, [])]
    calc = by.get("calc_qwen", []) + by.get("calc_react", [])
    breakdown = {}
    for sub in [*SUBTASKS, *sorted(set(by) - set(SUBTASKS))]:
        if sub in by:
            row = {"n": len(by[sub]), "score": _pct([c["correct"] for c in by[sub]])}
            if sub in TOOL_SUBTASKS:
                row["format_valid"] = _pct([c["valid"] for c in by[sub]])
            breakdown[sub] = row
    return {
        "format_valid": _pct([c["valid"] for c in tool]),
        "call_correct": _pct([c["correct"] for c in calc]),
        "clock_call_correct": _pct(
            [c["correct"] for t in ("clock_qwen", "clock_react") for c in by.get(t, [])]
        ),
        "qa_exact": _pct([c["correct"] for c in by.get("rag", [])]),
        "refusal_acc": _pct([c["correct"] for c in by.get("refuse", [])]),
        "false_refusal": _pct([c["refused"] for c in by.get("rag", [])]),
        "by_subtask": breakdown,
    }
