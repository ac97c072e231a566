"""The strict tool-call checker: ``tinyagent.bfcl.check(..., strict=True)``.

Same data shapes as :mod:`tinyagent.bfcl` (predictions ``[{name: {param: value}}]``, answers
``[{name: {param: [accepted, ...]}}]`` with ``""`` marking an optional parameter), but stricter than
the Berkeley Function Calling Leaderboard, on purpose:

    >>> schema = [{"name": "f", "parameters": {"type": "object", "properties": {
    ...     "xs": {"type": "array", "items": {"type": "integer"}}}}}]
    >>> answer = [{"f": {"xs": [[1, 2]]}}]
    >>> check_strict(schema, [{"f": {"xs": [1, 2]}}], answer).valid
    True
    >>> check_strict(schema, [{"f": {"xs": [1, "2"]}}], answer).error_type
    'type_error'

Rules (``error_type`` in parentheses), checked in this order for each call:

1. exact function name (``wrong_func_name``);
2. every required parameter present (``missing_required``);
3. no parameter that the schema or the answer does not list (``unexpected_param``);
4. value types match the schema **at every nesting level** -- ``int`` is accepted where
   ``float``/``number`` is expected, ``bool`` never counts as a number (``type_error``);
5. values are among the accepted ones: strings compared after BFCL's normalisation, numbers/bools
   exactly, lists element-wise in order, dicts key by key **recursively** with the same rules
   (``value_error:string|list|dict|others``, ``value_error:dict_key``);
6. every answer parameter without ``""`` is present (``missing_optional``).

Parallel calls are matched to the answers in any order by a full bipartite matching (BFCL's greedy
loop can reject a valid permutation); the count must agree (``wrong_count``). Irrelevance: valid
iff there is no call (``irrelevance:called``).

How this differs from the leaderboard (``tinyagent.bfcl``, the default), each a case BFCL accepts
and this checker rejects or the reverse:

- BFCL accepts a value whose type is the type of the answer's own first accepted value (its
  "variable" rule): ``None`` for an optional float whose answer lists ``None``, a string for an
  array when the answer gives a string, a bool for a string when the answer gives a bool. Here the
  schema type always wins.
- BFCL type-checks one level (a list's elements), here every level (dict values, lists in dicts).
- BFCL compares a nested dict inside a dict with ``==`` against the accepted list, here recursively.
- BFCL's greedy parallel matcher pairs each answer with the first call that fits; here any
  complete pairing counts.
- ``"number"``/``"object"`` JSON-schema types are understood (BFCL's data says ``float``/``dict``).
"""

from __future__ import annotations

from typing import Any

from tinyagent.bfcl import CheckResult, standardize_string

__all__ = ["check_strict", "check_call", "check_parallel", "check_value"]

_PY_TYPES: dict[str, type | tuple[type, ...] | None] = {
    "string": str,
    "integer": int,
    "number": float,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "object": dict,
    "dict": dict,
    "any": None,
}


_OK = CheckResult(True)


def _fail(kind: str, msg: str) -> CheckResult:
    return CheckResult(False, kind, msg)


def _type_ok(value: Any, schema: dict) -> bool:
    kind = schema.get("type")
    if kind is None or kind == "any":
        return True
    if kind not in _PY_TYPES:
        raise ValueError(f"schema type {kind!r} is not a BFCL/JSON-schema type")
    expected = _PY_TYPES[kind]
    if expected is float:
        return type(value) in (int, float)  # int accepted for float
    return type(value) is expected  # exact: True is not an int here


def _same_scalar(value: Any, candidate: Any) -> bool:
    if isinstance(value, bool) or isinstance(candidate, bool):
        return type(value) is type(candidate) and value == candidate
    if isinstance(value, str) and isinstance(candidate, str):
        return standardize_string(value) == standardize_string(candidate)
    return value == candidate


def _element_matches(value: Any, candidate: Any, schema: dict, path: str) -> CheckResult:
    """One list element against one answer element (a dict element is in accepted-values form)."""
    if not _type_ok(value, schema):
        return _fail(
            "type_error",
            f"{path}: expected {schema.get('type')}, got {type(value).__name__} {value!r}",
        )
    if isinstance(candidate, dict) and isinstance(value, dict):
        return _dict_matches(value, candidate, schema, path)
    if isinstance(candidate, list) and isinstance(value, list):
        return _list_matches(value, candidate, schema, path)
    if _same_scalar(value, candidate):
        return _OK
    kind = "value_error:string" if isinstance(value, str) else "value_error:others"
    return _fail(kind, f"{path}: {value!r} != expected {candidate!r}")


def _list_matches(value: list, candidate: list, schema: dict, path: str) -> CheckResult:
    if len(value) != len(candidate):
        return _fail(
            "value_error:list", f"{path}: {len(value)} elements, expected {len(candidate)}"
        )
    items = schema.get("items", {}) if isinstance(schema.get("items"), dict) else {}
    for i, (v, c) in enumerate(zip(value, candidate)):
        r = _element_matches(v, c, items, f"{path}[{i}]")
        if not r.valid:
            if r.error_type.startswith("value_error") and r.error_type != "value_error:dict_key":
                r.error_type = "value_error:list" if not isinstance(c, dict) else r.error_type
            return r
    return _OK


def _dict_matches(value: dict, candidate: dict, schema: dict, path: str) -> CheckResult:
    props = schema.get("properties", {}) if isinstance(schema.get("properties"), dict) else {}
    for key, v in value.items():
        if key not in candidate:
            return _fail("value_error:dict_key", f"{path}: unexpected key {key!r}")
        r = check_value(v, candidate[key], props.get(key, {}), f"{path}.{key}")
        if not r.valid:
            return r
    for key, accepted in candidate.items():
        if key not in value and "" not in _as_list(accepted):
            return _fail("value_error:dict_key", f"{path}: missing key {key!r}")
    return _OK


def _as_list(accepted: Any) -> list:
    return accepted if isinstance(accepted, list) else [accepted]


def check_value(value: Any, accepted: list, schema: dict, path: str) -> CheckResult:
    """``value`` has the schema's type and equals one of the ``accepted`` values."""
    if not _type_ok(value, schema):
        return _fail(
            "type_error",
            f"{path}: expected type {schema.get('type')}, got {type(value).__name__} {value!r}",
        )
    candidates = [c for c in _as_list(accepted) if not (isinstance(c, str) and c == "")]
    first_error = None
    for cand in candidates:
        if isinstance(value, dict) and isinstance(cand, dict):
            r = _dict_matches(value, cand, schema, path)
        elif isinstance(value, list) and isinstance(cand, list):
            r = _list_matches(value, cand, schema, path)
        elif _same_scalar(value, cand):
            r = _OK
        else:
            kind = {str: "value_error:string", dict: "value_error:dict", list: "value_error:list"}
            r = _fail(
                kind.get(type(value), "value_error:others"),
                f"{path}: {value!r} is not one of {candidates!r}",
            )
        if r.valid:
            return r
        first_error = first_error or r
    return first_error or _fail("value_error:others", f"{path}: no accepted value for {value!r}")


def check_call(func: dict, call: dict, answer: dict) -> CheckResult:
    """One predicted call ``{name: args}`` against one answer ``{name: {param: [accepted]}}``."""
    if len(call) != 1 or len(answer) != 1:
        raise ValueError(
            f"a call and an answer are one-key dicts, got {list(call)} and {list(answer)}"
        )
    (name, args), (want_name, accepted) = next(iter(call.items())), next(iter(answer.items()))
    if name != func["name"] or name != want_name:
        return _fail("wrong_func_name", f"called {name!r}, expected {want_name!r}")
    if not isinstance(args, dict):
        return _fail("type_error", f"{name}: arguments are {type(args).__name__}, not an object")
    params = func.get("parameters") or {}
    props = params.get("properties", {}) or {}
    for p in params.get("required", []) or []:
        if p not in args:
            return _fail("missing_required", f"{name}: missing required parameter {p!r}")
    for p, v in args.items():
        if p not in props or p not in accepted:
            return _fail("unexpected_param", f"{name}: unexpected parameter {p!r}")
        r = check_value(v, accepted[p], props[p], f"{name}.{p}")
        if not r.valid:
            return r
    for p, acc in accepted.items():
        if p not in args and "" not in _as_list(acc):
            return _fail("missing_optional", f"{name}: parameter {p!r} is expected but missing")
    return _OK


def _find_func(funcs: list[dict], name: str) -> dict | None:
    return next((f for f in funcs if f.get("name") == name), None)


def check_parallel(funcs: list[dict], calls: list[dict], answers: list[dict]) -> CheckResult:
    """Every answer matched by exactly one call, in any order."""
    if len(calls) != len(answers):
        return _fail("wrong_count", f"{len(calls)} calls, expected {len(answers)}")
    results = []
    for ans in answers:
        func = _find_func(funcs, next(iter(ans)))
        if func is None:
            raise ValueError(f"answer names {next(iter(ans))!r}, which is not among the functions")
        results.append([check_call(func, call, ans) for call in calls])
    ok = [[r.valid for r in row] for row in results]
    match = [-1] * len(calls)  # call j -> answer i (Kuhn's augmenting paths)

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(len(calls)):
            if ok[i][j] and j not in seen:
                seen.add(j)
                if match[j] == -1 or augment(match[j], seen):
                    match[j] = i
                    return True
        return False

    unmatched = [i for i in range(len(answers)) if not augment(i, set())]
    if unmatched:
        # blame a call that the best matching left over: one with the expected name if any
        i = unmatched[0]
        want = next(iter(answers[i]))
        spare = [j for j in range(len(calls)) if match[j] == -1]
        j = next((j for j in spare if next(iter(calls[j])) == want), spare[0])
        r = results[i][j]
        return _fail(
            r.error_type, f"no call matches expected call #{i} (closest: call #{j}): {r.error}"
        )
    return _OK


def check_strict(
    funcs: list[dict], calls: list[dict], answers: list[dict], category: str = "auto"
) -> CheckResult:
    """Check predicted ``calls`` against ``answers``.

    ``category``: ``"irrelevance"`` (no call expected), ``"simple"`` (exactly one call),
    ``"parallel"`` (any order), or ``"auto"`` (irrelevance when ``answers`` is empty, else parallel).
    """
    if category == "irrelevance" or (category == "auto" and not answers):
        return (
            _OK if not calls else _fail("irrelevance:called", f"expected no call, got {len(calls)}")
        )
    if not answers:
        raise ValueError(f"category {category!r} needs at least one answer")
    if category == "simple":
        if len(calls) != 1:
            return _fail("wrong_count", f"{len(calls)} calls, expected 1")
        func = _find_func(funcs, next(iter(answers[0])))
        if func is None:
            raise ValueError(f"answer names {next(iter(answers[0]))!r}, not among the functions")
        return check_call(func, calls[0], answers[0])
    if category not in ("parallel", "auto"):
        raise ValueError(
            f"unknown category {category!r}; use auto, simple, parallel or irrelevance"
        )
    return check_parallel(funcs, calls, answers)
