"""A tool-call checker that gives the Berkeley Function Calling Leaderboard's verdict.

A prediction is a list of calls ``[{"func_name": {"param": value, ...}}, ...]`` (BFCL's decoded
form; ``calls_from_openai`` converts OpenAI ``tool_calls``). An answer is the same shape, but every
parameter maps to a **list of accepted values**; ``""`` in that list marks the parameter optional.
Dict values inside an answer are again ``{key: [accepted...]}``::

    >>> schema = [{"name": "get_weather", "parameters": {"type": "dict",
    ...     "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    ...     "required": ["city"]}}]
    >>> answer = [{"get_weather": {"city": ["Paris", "paris, france"], "days": [3, ""]}}]
    >>> check(schema, [{"get_weather": {"city": "PARIS", "days": 3}}], answer, "simple").valid
    True
    >>> check(schema, [{"get_weather": {"town": "Paris"}}], answer, "simple").error_type
    'simple_function_checker:missing_required'

``check`` reproduces BFCL's Python ``ast_checker`` (``bfcl_eval/eval_checker/ast_eval/
ast_checker.py``, v4) rule for rule, with its ``error_type`` names, so a score from here can be put
next to the leaderboard's. For each call, in this order:

1. the function's name is a key of the call (``simple_function_checker:wrong_func_name``);
2. every ``required`` parameter is there (``...:missing_required``);
3. every parameter is in the schema and in the answer (``...:unexpected_param``);
4. its type: ``PYTHON_TYPE_MAPPING`` (``any`` means ``str``; an ``int`` is converted to ``float``
   where ``float`` is declared). A value of another type is still accepted when its type is the
   type of the answer's first non-``""`` value (BFCL's "variable" rule: ``None`` for an optional
   float whose answer lists ``None``, a bool where a string is declared and the answer is a bool).
   Only arrays/tuples look one level down: every element must have the ``items`` type (or the type
   of that answer's elements) for at least one accepted list (``type_error:simple`` /
   ``type_error:nested``);
5. its value, unless the variable rule applied: strings after ``standardize_string``
   (``value_error:string``), lists element-wise after normalising their strings
   (``value_error:list/tuple``), dicts key by key, each value compared with ``==`` after
   normalising strings (``value_error:dict_key`` / ``value_error:dict_value``), lists of dicts
   element by element (``value_error:list_dict_count``), anything else ``value in accepted``
   (Python ``==``: ``1 == 1.0 == True``; ``value_error:others``);
6. every answer parameter without ``""`` is present (``...:missing_optional``).

Categories follow BFCL's names: one containing ``parallel`` matches calls to answers greedily (each
answer takes the first unmatched call that passes, so a valid permutation can be rejected --
``parallel_function_checker_no_order:cannot_find_match``); one containing ``multiple`` checks the
first call against the first answer; anything else is ``simple`` (one call, checked against the
*first* function). Counts must agree (``...:wrong_count``). ``irrelevance`` is valid iff there is
no call. ``strict=True`` runs :mod:`tinyagent.bfcl_strict` instead (types at every level, nested
dicts recursively, a full bipartite matching of parallel calls; its docstring lists each difference).

Limits: Python categories only (BFCL's Java/JavaScript type converters are not reproduced); a
type name BFCL does not know is a ``ValueError`` except JSON schema's ``number``/``object``, taken
as ``float``/``dict``; where BFCL's own code would crash (a non-dict inside a list of dicts) the
call is reported invalid instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckResult", "check", "check_call", "standardize_string", "calls_from_openai"]

PYTHON_TYPES: dict[str, type] = {  # BFCL's PYTHON_TYPE_MAPPING + JSON schema's number/object
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}


@dataclass
class CheckResult:
    valid: bool
    error_type: str = ""
    error: str = ""


_OK = CheckResult(True)


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lower-case, ``'`` -> ``"``."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _std(value: Any) -> Any:
    return standardize_string(value) if type(value) is str else value


def _python_type(kind: Any, where: str) -> type:
    if kind not in PYTHON_TYPES:
        raise ValueError(f"{where}: type {kind!r} is not a BFCL Python type")
    return PYTHON_TYPES[kind]


def _answer_type(accepted: list) -> type | None:
    """The type of the first accepted value that is not the optional marker ``""``."""
    return next((type(a) for a in accepted if a != ""), None)


def _type_check(
    value: Any, accepted: list, expected: type, nested: type | None
) -> tuple[str, bool]:
    """(error type or "", is_variable): BFCL's ``type_checker``, one level of nesting."""
    answer_type = _answer_type(accepted)
    is_variable = answer_type is not None and answer_type is not expected
    error = "type_error:simple"
    if type(value) is expected:
        if nested is None:
            return "", is_variable
        for option in accepted:
            # an option that is not a list (e.g. the optional marker) constrains nothing
            if type(option) is not list or all(
                _type_check(v, option, nested, None)[0] == "" for v in value
            ):
                return "", is_variable
        error = "type_error:nested"
    elif answer_type is not None and type(value) is answer_type:
        return "", True
    return error, is_variable


def _dict_check(value: dict, accepted: list) -> CheckResult:
    result = CheckResult(False, "dict_checker:unclear", "no accepted dict")
    for option in accepted:
        if option == "":
            continue
        result = _OK
        for key, v in value.items():
            if key not in option:
                result = CheckResult(False, "value_error:dict_key", f"unexpected key {key!r}")
                break
            if _std(v) not in [_std(a) for a in option[key]]:
                result = CheckResult(
                    False, "value_error:dict_value", f"{key}: {v!r} is not one of {option[key]!r}"
                )
                break
        missing = [k for k, acc in option.items() if k not in value and "" not in acc]
        if missing:  # checked (and reported) even after a bad key, as BFCL does
            result = CheckResult(False, "value_error:dict_key", f"missing key {missing[0]!r}")
        if result.valid:
            return _OK
    return result


def _list_dict_check(value: list, accepted: list) -> CheckResult:
    result = CheckResult(False, "list_dict_checker:unclear", "no accepted list")
    for option in accepted:
        if len(value) != len(option):
            result = CheckResult(False, "value_error:list_dict_count", "wrong number of dicts")
            continue
        result = _OK
        for v, want in zip(value, option):
            if type(v) is not dict:  # BFCL itself would crash here
                result = CheckResult(False, "value_error:dict_value", f"{v!r} is not a dict")
            else:
                result = _dict_check(v, [want])
            if not result.valid:
                break
        if result.valid:
            return _OK
    return result


def _value_check(value: Any, accepted: list, expected: type, nested: type | None) -> CheckResult:
    if expected is dict:
        return _dict_check(value, accepted)
    if expected is list and nested is dict:
        return _list_dict_check(value, accepted)
    if expected is str:
        if _std(value) in [standardize_string(a) for a in accepted if type(a) is str]:
            return _OK
        return CheckResult(False, "value_error:string", f"{value!r} is not one of {accepted!r}")
    if expected is list:
        options = [[_std(x) for x in a] for a in accepted if type(a) in (list, str)]  # "" -> []
        if [_std(x) for x in value] in options:
            return _OK
        return CheckResult(False, "value_error:list/tuple", f"{value!r} is not one of {accepted!r}")
    if value in accepted:
        return _OK
    return CheckResult(False, "value_error:others", f"{value!r} is not one of {accepted!r}")


def check_call(func: dict, call: dict, answer: dict) -> CheckResult:
    """One call ``{name: args}`` against one answer ``{name: {param: [accepted]}}`` and the function
    schema ``func`` (BFCL's ``simple_function_checker``)."""
    accepted = next(iter(answer.values()))
    name = func["name"]
    params = func.get("parameters") or {}
    props = params.get("properties") or {}
    if name not in call:
        return CheckResult(
            False, "simple_function_checker:wrong_func_name", f"{name!r} not in {list(call)}"
        )
    args = call[name]
    for p in params.get("required") or []:
        if p not in args:
            return CheckResult(
                False, "simple_function_checker:missing_required", f"{name}: missing {p!r}"
            )
    for p, value in args.items():
        if p not in props or p not in accepted:
            return CheckResult(
                False, "simple_function_checker:unexpected_param", f"{name}: unexpected {p!r}"
            )
        kind = props[p].get("type")
        expected = _python_type(kind, f"{name}.{p}")
        nested = None
        if kind in ("array", "tuple"):
            nested = _python_type((props[p].get("items") or {}).get("type"), f"{name}.{p}[]")
        if kind == "tuple" and type(value) is tuple:
            value = list(value)
        if kind in ("float", "number") and type(value) is int:
            value = float(value)
        error, is_variable = _type_check(value, accepted[p], expected, nested)
        if error:
            return CheckResult(
                False, error, f"{name}.{p}: expected {kind}, got {type(value).__name__} {value!r}"
            )
        if is_variable or expected not in (dict, list, str):
            r = (
                _OK
                if value in accepted[p]
                else CheckResult(
                    False, "value_error:others", f"{name}.{p}: {value!r} not in {accepted[p]!r}"
                )
            )
        else:
            r = _value_check(value, accepted[p], expected, nested)
        if not r.valid:
            return CheckResult(False, r.error_type, f"{name}.{p}: {r.error}")
    for p, acc in accepted.items():
        if p not in args and "" not in acc:
            return CheckResult(
                False,
                "simple_function_checker:missing_optional",
                f"{name}: {p!r} not provided and not marked optional",
            )
    return _OK


def _find_func(funcs: list[dict], answer: dict) -> dict:
    name = next(iter(answer))
    func = next((f for f in funcs if f.get("name") == name), None)
    if func is None:
        raise ValueError(f"answer names {name!r}, which is not among the functions")
    return func


def _parallel(funcs: list[dict], calls: list[dict], answers: list[dict]) -> CheckResult:
    if len(calls) != len(answers):
        return CheckResult(
            False,
            "parallel_function_checker_no_order:wrong_count",
            f"{len(calls)} calls, expected {len(answers)}",
        )
    matched: set[int] = set()
    for i, answer in enumerate(answers):
        func = _find_func(funcs, answer)
        first_error = None
        for j, call in enumerate(calls):
            if j in matched:
                continue
            r = check_call(func, call, answer)
            if r.valid:
                matched.add(j)
                break
            first_error = first_error or r
        else:
            why = f" (first: {first_error.error_type}: {first_error.error})" if first_error else ""
            return CheckResult(
                False,
                "parallel_function_checker_no_order:cannot_find_match",
                f"no unmatched call matches expected call #{i}{why}",
            )
    return _OK


def _no_call(calls: Any) -> bool:
    """BFCL's ``is_empty_output``: ``[]``, ``[{}]`` or anything not in ``[{name: {args}}]`` form."""
    well_formed = type(calls) is list and all(
        type(c) is dict and len(c) == 1 and type(next(iter(c.values()))) is dict for c in calls
    )
    return not well_formed or len(calls) == 0 or (len(calls) == 1 and len(calls[0]) == 0)


def check(
    funcs: list[dict],
    calls: list[dict],
    answers: list[dict],
    category: str = "auto",
    strict: bool = False,
) -> CheckResult:
    """Check predicted ``calls`` against ``answers`` under a BFCL ``category``.

    ``category``: a BFCL category name (``simple``, ``live_multiple``, ``parallel_multiple``,
    ``irrelevance``...: its substrings decide, as in BFCL), or ``"auto"``: irrelevance when
    ``answers`` is empty, else parallel. ``strict=True``: :func:`tinyagent.bfcl_strict.check_strict`
    (which knows ``simple``, ``parallel``, ``irrelevance`` and ``auto``; other names map onto them).
    """
    if strict:
        from tinyagent.bfcl_strict import check_strict

        if "irrelevance" in category:
            category = "irrelevance"
        elif "parallel" in category or "multiple" in category:
            category = "parallel"
        elif category != "auto":
            category = "simple"
        return check_strict(funcs, calls, answers, category)
    if "irrelevance" in category or (category == "auto" and not answers):
        if not _no_call(calls):
            return CheckResult(False, "irrelevance_error:decoder_success", f"{len(calls)} calls")
        return _OK
    if "relevance" in category:  # live_relevance: any call counts
        if _no_call(calls):
            return CheckResult(False, "relevance_error:decoder_failed", "no function call")
        return _OK
    if not answers:
        raise ValueError(f"category {category!r} needs at least one answer")
    if "parallel" in category or category == "auto":
        return _parallel(funcs, calls, answers)
    if "multiple" in category:
        if len(calls) != len(answers):
            return CheckResult(
                False, "multiple_function_checker:wrong_count", f"{len(calls)} calls"
            )
        return check_call(_find_func(funcs, answers[0]), calls[0], answers[0])
    if len(calls) != 1:
        return CheckResult(False, "simple_function_checker:wrong_count", f"{len(calls)} calls")
    return check_call(funcs[0], calls[0], answers[0])


def calls_from_openai(tool_calls: list[dict]) -> list[dict]:
    """OpenAI ``tool_calls`` (arguments as a JSON string or dict) -> ``[{name: args}]``."""
    out = []
    for tc in tool_calls:
        fn = tc.get("function", tc)
        args = fn.get("arguments", {})
        if isinstance(args, str):
            args = json.loads(args) if args.strip() else {}
        out.append({fn["name"]: args})
    return out
