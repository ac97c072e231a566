"""SQuAD v1.1 / CMRC 2018 worked examples, CMRC on its real trial set, and letter extraction."""

from __future__ import annotations

import json

import pytest
from conftest import data_path

from tinyeval.metrics.accuracy import accuracy, pick_choice
from tinyeval.metrics.choice import extract_choice
from tinyeval.metrics.cmrc import cmrc_em, cmrc_evaluate, cmrc_f1, mixed_segmentation
from tinyeval.metrics.squad import squad_evaluate, squad_exact_match, squad_f1


def test_squad_by_hand() -> None:
    assert squad_exact_match("The  Eiffel tower!", "eiffel Tower") == 1.0
    # pred tokens {in, 1889, paris}, gold {1889}: P = 1/3, R = 1 -> F1 = 0.5
    assert squad_f1("in 1889, Paris", "1889") == pytest.approx(0.5, abs=1e-12)
    out = squad_evaluate(["Denver Broncos", "a cat"], [["Denver Broncos", "Broncos"], ["dog"]])
    assert out == {"exact_match": 50.0, "f1": 50.0}


def test_cmrc_by_hand() -> None:
    assert mixed_segmentation("iPhone 6s 发布于2015年。", rm_punc=True) == [
        "iphone",
        "6s",
        "发",
        "布",
        "于",
        "2015",
        "年",
    ]
    # longest common *substring*: gold 厦门大学 vs pred 南京大学 share "大学" (2 of 4 chars)
    assert cmrc_f1("南京大学", "厦门大学") == pytest.approx(0.5, abs=1e-12)
    # 学大 shares no 2-long substring: lcs = 1 -> P = 1/2, R = 1/4 -> F1 = 1/3
    assert cmrc_f1("学大", "厦门大学") == pytest.approx(1 / 3, abs=1e-12)
    assert cmrc_em("《红楼梦》", "红楼梦") == 1.0
    assert cmrc_em("红楼梦…", "红楼梦") == 0.0  # a single "…" is not in the official list ("……" is)


def test_cmrc_trial_gold_scores_100() -> None:
    d = json.loads(data_path("cmrc2018", "cmrc2018_trial.json").read_text(encoding="utf-8"))
    answers = [
        [a["text"] for a in qa["answers"]]
        for art in d["data"]
        for p in art["paragraphs"]
        for qa in p["qas"]
    ]
    assert len(answers) == 1002
    out = cmrc_evaluate([a[0] for a in answers], answers)
    assert out["f1"] == pytest.approx(100.0) and out["em"] == pytest.approx(100.0)
    shifted = cmrc_evaluate([a[0] for a in answers[1:]] + [answers[0][0]], answers)
    assert shifted["em"] < 5 and shifted["f1"] < 30


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("答案是：C。因为……", "C"),
        ("答案不是A，答案是B", "B"),
        ("正确答案为（D）", "D"),
        ("选B", "B"),
        ("B", "B"),
        ("(A) Paris", "A"),
        ("B. 北京", "B"),
        ("The answer is (C).", "C"),
        ("Answer: D", "D"),
        ("I believe C is correct", "C"),
        ("答案：Ｂ", "B"),
        ("Either A or B", None),
        ("A bird in the hand", "A"),  # starts with a stand-alone letter: counted as the choice
        ("Nothing here", None),
        ("", None),
        ("答案是E", None),  # not among 4 choices
    ],
)
def test_extract_choice(text: str, letter: str | None) -> None:
    assert extract_choice(text, 4) == letter


def test_pick_choice_and_accuracy() -> None:
    assert pick_choice([-1.0, -1.0, -2.0]) == 0  # ties -> first, like numpy argmax
    assert pick_choice([-6.0, -4.0], lengths=[6, 2]) == 0  # -1.0/char beats -2.0/char
    assert accuracy(["A", "B"], ["A", "C"]) == 0.5
    with pytest.raises(ValueError):
        accuracy(["A"], [])
