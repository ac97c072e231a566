"""Gold and perturbed predictions built from BFCL ``possible_answer`` entries (for parity tests).

``cases(functions, answers)`` yields ``(label, calls)``: two gold predictions (every parameter at its
first accepted value; only the parameters without ``""``), then deterministic perturbations: wrong
name, missing required parameter, extra parameter, changed value, retyped value (str<->int,
int->float, value -> None), reversed list, dropped/duplicated call, reversed call order.
"""

from __future__ import annotations

import copy
from typing import Any


def _first(accepted: list) -> tuple[bool, Any]:
    for a in accepted:
        if a != "":
            return True, _concrete(a)
    return False, None


def _concrete(value: Any) -> Any:
    """An accepted value as a prediction: dict answers are ``{key: [accepted]}`` again."""
    if isinstance(value, dict):
        out = {}
        for k, acc in value.items():
            ok, v = _first(acc if isinstance(acc, list) else [acc])
            if ok:
                out[k] = v
        return out
    if isinstance(value, list):
        return [_concrete(v) for v in value]
    return value


def gold(answers: list[dict], optional: bool = True) -> list[dict]:
    calls = []
    for ans in answers:
        name, params = next(iter(ans.items()))
        args = {}
        for p, acc in params.items():
            if not optional and "" in acc:
                continue
            ok, v = _first(acc)
            if ok:
                args[p] = v
        calls.append({name: args})
    return calls


def _changed(v: Any) -> list[tuple[str, Any]]:
    if isinstance(v, bool):
        return [("flip", not v), ("bool->str", str(v).lower())]
    if isinstance(v, int):
        return [("+1", v + 1), ("int->float", float(v)), ("int->str", str(v)), ("None", None)]
    if isinstance(v, float):
        return [("+1.5", v + 1.5), ("float->str", str(v)), ("float->int", int(v))]
    if isinstance(v, str):
        return [("str+x", v + "x"), ("str->int", 12345), ("case", v.upper())]
    if isinstance(v, list):
        out = [("list+", [*v, v[0] if v else "x"]), ("list->str", str(v))]
        if len(v) > 1:
            out.append(("reversed", v[::-1]))
        if v and isinstance(v[0], str):
            out.append(("elem->int", [7, *v[1:]]))
        return out
    if isinstance(v, dict):
        out = [("dict+key", {**v, "zz_key": 1})]
        if v:
            k = next(iter(v))
            out.append(("dict-key", {kk: vv for kk, vv in v.items() if kk != k}))
            out += [(f"dict.{k}:{lab}", {**v, k: nv}) for lab, nv in _changed(v[k])[:2]]
        return out
    return [("None->str", "None")]


def cases(functions: list[dict], answers: list[dict]):
    base = gold(answers)
    yield "gold", base
    yield "gold-required-only", gold(answers, optional=False)
    name, args = next(iter(base[0].items()))
    func = next((f for f in functions if f["name"] == name), {"parameters": {}})
    required = func.get("parameters", {}).get("required", [])

    def first(new_name: str, new_args: dict) -> list[dict]:
        out = copy.deepcopy(base)
        out[0] = {new_name: new_args}
        return out

    yield "wrong-name", first(name + "_x", args)
    yield "extra-param", first(name, {**args, "zz_extra": 1})
    for p in required:
        if p in args:
            yield f"missing-{p}", first(name, {k: v for k, v in args.items() if k != p})
            break
    for p, v in args.items():
        for label, nv in _changed(v):
            yield f"{p}:{label}", first(name, {**args, p: nv})
    if len(base) > 1:
        yield "dropped-call", base[:-1]
        yield "reversed-order", base[::-1]
    yield "duplicated-call", [*base, base[0]]
    yield "no-call", []
