"""Lenient JSON recovery and stop-word clean-up on outputs small models really produce."""

from __future__ import annotations

import pytest

from tinyagent.parsing import (
    JSONParseError,
    cut_at_stop,
    loads_lenient,
    repair_json,
    strip_partial_stop,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ("```\n{'a': 'b'}\n```", {"a": "b"}),
        ("{'a': 'it\\'s', 'b': \"say \\\"hi\\\"\"}", {"a": "it's", "b": 'say "hi"'}),
        ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
        ('Sure! Here you go: {"city": "北京"} Let me know.', {"city": "北京"}),
        ("{'ok': True, 'none': None, 'no': False}", {"ok": True, "none": None, "no": False}),
        ('{"text": "a, } b", "n": 2,}', {"text": "a, } b", "n": 2}),
        ("{'q': \"O'Neil\"}", {"q": "O'Neil"}),
        ("[1, 2, 3,]", [1, 2, 3]),
        ('thinking... {broken} then {"x": 1}', {"x": 1}),
        ('```json\n{"a": 1', None),  # unterminated fence and object: not recoverable
    ],
)
def test_loads_lenient(text, expected):
    if expected is None:
        with pytest.raises(JSONParseError, match="could not find valid JSON"):
            loads_lenient(text)
    else:
        assert loads_lenient(text) == expected


def test_repair_leaves_string_contents_alone():
    assert repair_json("{'k': 'True, None,]'}") == '{"k": "True, None,]"}'


def test_strip_partial_stop():
    stops = ["Observation:"]
    assert strip_partial_stop('Action Input: {"a": 1}\nObserv', stops) == 'Action Input: {"a": 1}'
    assert (
        strip_partial_stop('Action Input: {"a": 1}\nObservation', stops) == 'Action Input: {"a": 1}'
    )
    assert strip_partial_stop("the answer is Ob", stops) == "the answer is Ob"  # too short to tell
    assert strip_partial_stop("no stop here", stops) == "no stop here"


def test_cut_at_stop():
    assert cut_at_stop("a\nObservation: made up\nThought: x", ["Observation:"]) == "a\n"
    assert cut_at_stop("abc", ["zzz"]) == "abc"
