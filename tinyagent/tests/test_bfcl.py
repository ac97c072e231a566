"""The strict tool-call checker (``check(..., strict=True)``): one case per rule, then ACEBench
ground truth (must pass) and perturbed ground truth (must fail with the rule that was broken).
The leaderboard-parity default is tested in test_bfcl_parity.py."""

from __future__ import annotations

import copy
import random

import pytest

from tinyagent.acebench import (
    ground_truth_calls,
    load_examples,
    parse_python_calls,
    predict_calls,
    score_calls,
    to_accepted,
)
from tinyagent.bfcl import calls_from_openai, check, standardize_string
from tinyagent.scripted import ScriptedChatModel

FUNCS = [
    {
        "name": "book_flight",
        "parameters": {
            "type": "object",
            "properties": {
                "origin": {"type": "string"},
                "dest": {"type": "string"},
                "seats": {"type": "integer"},
                "budget": {"type": "float"},
                "flexible": {"type": "boolean"},
                "stops": {"type": "array", "items": {"type": "string"}},
                "passenger": {
                    "type": "dict",
                    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                },
                "legs": {
                    "type": "array",
                    "items": {
                        "type": "dict",
                        "properties": {"from": {"type": "string"}, "km": {"type": "number"}},
                    },
                },
            },
            "required": ["origin", "dest"],
        },
    },
    {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": []},
    },
]
ANSWER = [
    {
        "book_flight": {
            "origin": ["San Francisco", "SFO"],
            "dest": ["New York, NY", "JFK"],
            "seats": [2, ""],
            "budget": [300.0, ""],
            "flexible": [True, ""],
            "stops": [["Denver", "Chicago"], ""],
            "passenger": [{"name": ["Li Lei"], "age": [30, ""]}, ""],
            "legs": [[{"from": ["SFO"], "km": [1500]}], ""],
        }
    }
]
GOOD = {"origin": "sfo", "dest": "new york ny", "seats": 2, "budget": 300, "flexible": True}


def one(args: dict, name: str = "book_flight"):
    return check(FUNCS, [{name: args}], ANSWER, "simple", strict=True)


def test_standardize_string_is_bfcl():
    assert standardize_string("April 1, 2024") == standardize_string("april 1 2024") == "april12024"
    assert standardize_string("New-York_city.*^/") == "newyorkcity"
    assert standardize_string("it's") == 'it"s'


def test_valid_call_with_normalisation_and_int_for_float():
    assert one(GOOD).valid  # budget 300 (int) accepted for float; strings normalised
    assert one({"origin": "San Francisco", "dest": "JFK"}).valid  # optionals omitted


@pytest.mark.parametrize(
    "args, name, error_type",
    [
        (GOOD, "book_flights", "wrong_func_name"),
        ({"origin": "SFO"}, "book_flight", "missing_required"),
        ({**GOOD, "class": "economy"}, "book_flight", "unexpected_param"),
        ({**GOOD, "seats": 2.0}, "book_flight", "type_error"),  # float is not accepted for int
        ({**GOOD, "seats": "2"}, "book_flight", "type_error"),
        ({**GOOD, "budget": True}, "book_flight", "type_error"),  # bool is not a number
        ({**GOOD, "flexible": 1}, "book_flight", "type_error"),
        ({**GOOD, "origin": "Oakland"}, "book_flight", "value_error:string"),
        ({**GOOD, "seats": 3}, "book_flight", "value_error:others"),
        ({**GOOD, "budget": 300.5}, "book_flight", "value_error:others"),
        (
            {**GOOD, "stops": ["Chicago", "Denver"]},
            "book_flight",
            "value_error:list",
        ),  # order matters
        ({**GOOD, "stops": ["Denver"]}, "book_flight", "value_error:list"),
        ({**GOOD, "stops": ["Denver", 7]}, "book_flight", "type_error"),
        ({**GOOD, "passenger": {"name": "Han Meimei"}}, "book_flight", "value_error:string"),
        (
            {**GOOD, "passenger": {"name": "Li Lei", "vip": True}},
            "book_flight",
            "value_error:dict_key",
        ),
        (
            {**GOOD, "passenger": {"age": 30}},
            "book_flight",
            "value_error:dict_key",
        ),  # name is required
        ({**GOOD, "passenger": {"name": "Li Lei", "age": "30"}}, "book_flight", "type_error"),
        ({**GOOD, "legs": [{"from": "SFO", "km": 1500.0}]}, "book_flight", None),  # 1500.0 == 1500
        ({**GOOD, "legs": [{"from": "SFO", "km": 1400}]}, "book_flight", "value_error:others"),
        ({**GOOD, "legs": [{"from": "SFO"}]}, "book_flight", "value_error:dict_key"),
    ],
)
def test_each_rule(args, name, error_type):
    r = one(args, name)
    assert r.valid == (error_type is None), r
    assert r.error_type == (error_type or "")


def test_missing_optional_without_empty_marker():
    answer = [{"get_time": {"tz": ["UTC"]}}]  # no "" => the model must pass tz
    assert (
        check(FUNCS, [{"get_time": {}}], answer, "simple", strict=True).error_type
        == "missing_optional"
    )
    assert check(FUNCS, [{"get_time": {"tz": "utc"}}], answer, "simple", strict=True).valid


def test_parallel_any_order_and_count():
    answers = [{"get_time": {"tz": ["UTC"]}}, {"get_time": {"tz": ["Asia/Shanghai"]}}, ANSWER[0]]
    calls = [
        {"book_flight": GOOD},
        {"get_time": {"tz": "Asia/Shanghai"}},
        {"get_time": {"tz": "UTC"}},
    ]
    assert check(FUNCS, calls, answers, "parallel", strict=True).valid
    assert check(FUNCS, calls[:2], answers, "parallel", strict=True).error_type == "wrong_count"
    assert check(FUNCS, calls[:1], answers[2:], "simple", strict=True).valid
    assert check(FUNCS, calls, answers[2:], "simple", strict=True).error_type == "wrong_count"
    bad = [calls[0], {"get_time": {"tz": "Europe/Paris"}}, calls[2]]
    r = check(FUNCS, bad, answers, "parallel", strict=True)
    assert r.error_type == "value_error:string" and "expected call #1" in r.error


def test_parallel_needs_full_matching_not_greedy():
    # answer 0 accepts both values, answer 1 only "b": a greedy first-fit pairs answer 0 with the
    # first call "b" and then fails answer 1; a bipartite matching finds the valid assignment.
    funcs = [
        {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}
    ]
    answers = [{"f": {"x": ["a", "b"]}}, {"f": {"x": ["b"]}}]
    assert check(
        funcs, [{"f": {"x": "b"}}, {"f": {"x": "a"}}], answers, "parallel", strict=True
    ).valid


def test_irrelevance():
    assert check(FUNCS, [], [], "irrelevance", strict=True).valid
    assert (
        check(FUNCS, [{"get_time": {}}], [], "irrelevance", strict=True).error_type
        == "irrelevance:called"
    )
    assert check(FUNCS, [], [], "auto", strict=True).valid


def test_openai_and_python_call_forms():
    tc = [
        {
            "id": "x",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'},
        }
    ]
    assert calls_from_openai(tc) == [{"get_time": {"tz": "UTC"}}]
    text = (
        "[book_flight(origin='SFO', dest=\"JFK\", seats=2, stops=['Denver']), get_time(tz='UTC')]"
    )
    assert parse_python_calls(text) == [
        {"book_flight": {"origin": "SFO", "dest": "JFK", "seats": 2, "stops": ["Denver"]}},
        {"get_time": {"tz": "UTC"}},
    ]


def test_to_accepted_form():
    assert to_accepted({"a": 1, "b": [{"c": "x"}, 2], "d": {"e": [1, 2]}}) == {
        "a": [1],
        "b": [[{"c": ["x"]}, 2]],
        "d": [{"e": [[1, 2]]}],
    }


# ------------------------------------------------------------------------------- ACEBench sweeps

NORMAL = ["normal_single_turn_single_function", "normal_single_turn_parallel_function"]


@pytest.mark.parametrize(
    "category", NORMAL + ["normal_similar_api", "normal_atom_list", "special_irrelevant"]
)
def test_acebench_ground_truth_scores_100_percent(acebench_dir, category):
    examples = load_examples(acebench_dir, category)
    assert len(examples) >= 50
    failures = [
        (e.id, r) for e in examples if not (r := score_calls(e, ground_truth_calls(e))).valid
    ]
    assert failures == []


def _props(ex, name):
    func = next(f for f in ex.functions if f["name"] == name)
    return func["parameters"].get("properties", {}), func["parameters"].get("required", [])


def _first_string_leaf(value, schema, path=()):
    """Path to the first string the schema types as string, through dicts and lists of dicts."""
    if isinstance(value, str) and schema.get("type") == "string":
        return path
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k, v in value.items():
            found = _first_string_leaf(v, props.get(k, {}), (*path, k))
            if found is not None:
                return found
    if isinstance(value, list) and schema.get("type") == "array":
        for i, v in enumerate(value):
            if isinstance(v, dict):
                found = _first_string_leaf(v, schema.get("items", {}), (*path, i))
                if found is not None:
                    return found
    return None


def _set(args, path, change):
    out = copy.deepcopy(args)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = change(node[path[-1]])
    return out


def _perturbations(ex):
    """(description, predicted calls, expected error_type) for the first call of the ground truth."""
    calls = ground_truth_calls(ex)
    name, args = next(iter(calls[0].items()))
    props, required = _props(ex, name)

    def with_first(new_name, new_args):
        out = copy.deepcopy(calls)
        out[0] = {new_name: new_args}
        return out

    yield "renamed", with_first(name + "_v2", args), "wrong_func_name"
    yield "extra param", with_first(name, {**args, "zz_unknown": 1}), "unexpected_param"
    for p in required:
        if p in args:
            yield (
                f"drop {p}",
                with_first(name, {k: v for k, v in args.items() if k != p}),
                "missing_required",
            )
            break
    path = _first_string_leaf(args, {"type": "object", "properties": props})
    if path is not None:
        yield (
            f"change {path}",
            with_first(name, _set(args, path, lambda v: v + "不对")),
            "value_error:string",
        )
        yield f"retype {path}", with_first(name, _set(args, path, lambda v: 12345)), "type_error"
    for p, v in args.items():
        if props.get(p, {}).get("type") == "integer" and type(v) is int:
            yield f"int->float {p}", with_first(name, {**args, p: float(v)}), "type_error"
            yield f"int+1 {p}", with_first(name, {**args, p: v + 1}), "value_error:others"
            break
    if len(calls) > 1:
        yield "dropped call", calls[:-1], "wrong_count"


@pytest.mark.parametrize("category", NORMAL)
def test_acebench_perturbations_fail_the_right_rule(acebench_dir, category):
    examples = load_examples(acebench_dir, category)
    counts: dict[str, int] = {}
    for ex in examples:
        for what, calls, expected in _perturbations(ex):
            r = score_calls(ex, calls)
            assert not r.valid and r.error_type == expected, (ex.id, what, r)
            counts[expected] = counts.get(expected, 0) + 1
    # every rule was exercised many times on real data
    assert counts["wrong_func_name"] == counts["unexpected_param"] == len(examples)
    assert counts["missing_required"] >= 0.8 * len(examples)
    assert counts["value_error:string"] >= 0.9 * len(examples)
    if category.endswith("parallel_function"):
        assert counts["wrong_count"] == len(examples)


def test_acebench_parallel_order_does_not_matter(acebench_dir):
    rng = random.Random(0)
    for ex in load_examples(acebench_dir, "normal_single_turn_parallel_function"):
        calls = ground_truth_calls(ex)
        rng.shuffle(calls)
        assert score_calls(ex, calls).valid, ex.id


def test_acebench_conversion_details(acebench_dir):
    ex = load_examples(acebench_dir, "normal_multi_turn_user_adjust", limit=1)[0]
    assert [m["role"] for m in ex.messages] == ["system", "user", "assistant", "user"]
    assert ex.messages[0]["content"].startswith("今天是")
    par = load_examples(acebench_dir, "normal_single_turn_parallel_function", limit=1)[0]
    names = [next(iter(c)) for c in ground_truth_calls(par)]
    assert names == ["route_optimization_tool"] * 4  # "_1".."_4" suffixes mapped back
    alt = next(
        e for e in load_examples(acebench_dir, "normal_atom_bool") if e.id == "normal_atom_bool_21"
    )
    assert len(alt.alternatives) == 2  # a list ground truth = alternative correct answers
    assert score_calls(alt, ground_truth_calls(alt, 1)).valid


def test_runner_scores_a_scripted_model(acebench_dir):
    examples = load_examples(acebench_dir, "normal_single_turn_single_function", limit=3)
    gt = [ground_truth_calls(e)[0] for e in examples]
    name, args = next(iter(gt[1].items()))
    outputs = [
        {
            "tool_calls": [
                {"function": {"name": next(iter(gt[0])), "arguments": next(iter(gt[0].values()))}}
            ]
        },
        f"<tool_call>\n{ {'name': name, 'arguments': args} }\n</tool_call>",  # Python-repr quotes
        "[" + ", ".join(f"{k}={v!r}" for k, v in {"wrong": 1}.items()) + "]",
    ]
    model = ScriptedChatModel(outputs)
    results = [score_calls(e, predict_calls(model, e)[0]) for e in examples]
    assert [r.valid for r in results] == [True, True, False]
    assert model.chats[0]["tools"][0]["type"] == "function"
