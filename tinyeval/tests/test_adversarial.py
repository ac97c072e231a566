"""Proof: hand-written metrics equal the reference packages on adversarial strings — empty,
punctuation-only, whitespace-only, mixed zh/en, very long — to 1e-9 (generated with a fixed seed
plus hypothesis). Where a reference raises, LongBench's try/except rule (score 0) is mirrored."""

from __future__ import annotations

import random
import sys

import longbench_reference as ref
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyeval.metrics import METRICS
from tinyeval.metrics.code_sim import fuzz_ratio
from tinyeval.metrics.rouge import rouge_l

TOL = 1e-9
PIECES = [
    "",
    " ",
    ".",
    "...",
    " . ",
    "\n",
    "\t",
    "!?",
    "，。",
    "“”",
    "the",
    "a",
    "an",
    "The cat",
    "cat.",
    "Paris",
    "北京",
    "我爱北京天安门",
    "天安门",
    "2024",
    "3.5",
    "Paragraph 3",
    "段落3",
    "e.g.",
    "U.S.",
    "—",
    "…",
    "ＡＢＣ",
    "１２３",
    "x = 1",
    "# comment",
    "`code`",
    "//",
    "Location",
    "Other location",
    "Date",
]
FIXED = [
    "",
    " ",
    ".",
    "...",
    " . . ",
    "!!!",
    "，。！？",
    "\n\n",
    "   \t",
    "a",
    "the a an",
    "北京。",
    "..北京..",
    "Hello, 世界! 你好 world.",
    "ＡＢＣ１２３",
    "\u3000\u3000",
]


def _generated(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12))) for _ in range(n)]


STRINGS = FIXED + _generated(250, 0)
PAIRS = [(a, b) for a in FIXED for b in FIXED] + list(zip(_generated(400, 1), _generated(400, 2)))
TEXT_METRICS = [
    ("rouge", ref.rouge_score),
    ("rouge_zh", ref.rouge_zh_score),
    ("qa_f1", ref.qa_f1_score),
    ("qa_f1_zh", ref.qa_f1_zh_score),
    ("code_sim", ref.code_sim_score),
    ("count", ref.count_score),
]


@pytest.mark.parametrize(("name", "oracle"), TEXT_METRICS)
def test_pairs_equal_reference(name, oracle) -> None:
    fn = METRICS[name]
    for pred, gold in PAIRS:
        assert fn(pred, gold) == pytest.approx(oracle(pred, gold), abs=TOL), (name, pred, gold)


def test_retrieval_adversarial() -> None:
    for pred in STRINGS:
        for gold in ["Paragraph 3", "Paragraph 30"]:
            assert METRICS["retrieval"](pred, gold) == ref.retrieval_score(pred, gold)
        assert METRICS["retrieval_zh"](pred, "段落3") == ref.retrieval_zh_score(pred, "段落3")


def test_classification_adversarial() -> None:
    classes = ["Location", "Other location", "location", "Date", "Other", "Oth", "e"]
    for pred in STRINGS:
        for gold in classes:
            assert METRICS["classification"](
                pred, gold, all_classes=classes
            ) == ref.classification_score(pred, gold, all_classes=classes), (pred, gold)


def test_classification_removal_skip_quirk() -> None:
    """'Other' and 'Oth' both sit inside gold 'Other location': the reference removes 'Other' and
    then skips 'Oth' (list mutated during iteration) — so 'Oth' still dilutes the score."""
    classes = ["Other", "Oth", "Other location"]
    pred = "Other location"
    assert ref.classification_score(pred, "Other location", all_classes=classes) == 0.5
    assert METRICS["classification"](pred, "Other location", all_classes=classes) == 0.5


def test_empty_inputs_follow_longbench_try_except() -> None:
    from rouge import Rouge

    for bad in ["", ".", "...."]:
        with pytest.raises(ValueError):
            Rouge().get_scores([bad], ["a b"], avg=True)
        with pytest.raises(ValueError):
            rouge_l(bad, "a b")
        assert METRICS["rouge"](bad, "a b") == 0.0 == ref.rouge_score(bad, "a b")
    assert METRICS["rouge"](None, "a") == 0.0 == ref.rouge_score(None, "a")  # type: ignore[arg-type]


def test_very_long_inputs() -> None:
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma", "delta", "北京", "上海", "x1", "y2", "the", "a"]
    # 1000 words
    long_a = ". ".join(" ".join(rng.choice(words) for _ in range(25)) for _ in range(40))
    long_b = ". ".join(" ".join(rng.choice(words) for _ in range(20)) for _ in range(30))
    for name, oracle in TEXT_METRICS:
        assert METRICS[name](long_a, long_b) == pytest.approx(oracle(long_a, long_b), abs=TOL), name


def test_long_single_sentence_vs_reference_with_raised_recursion_limit() -> None:
    """One 700+700-word sentence: the package recurses once per LCS step and raises RecursionError
    at the default limit (LongBench then scores 0); with the limit raised it agrees with us."""
    rng = random.Random(4)
    a = " ".join(rng.choice("abcdefghij") for _ in range(700))
    b = " ".join(rng.choice("abcdefghij") for _ in range(700))
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)
    try:
        expected = ref.rouge_score(a, b)
    finally:
        sys.setrecursionlimit(old)
    assert expected > 0
    assert METRICS["rouge"](a, b) == pytest.approx(expected, abs=TOL)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=30), st.text(max_size=30))
def test_fuzz_ratio_equals_fuzzywuzzy(a: str, b: str) -> None:
    from fuzzywuzzy import fuzz

    assert fuzz_ratio(a, b) == fuzz.ratio(a, b)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.sampled_from(list("ab .,!北京天 \n")), max_size=25),
    st.text(alphabet=st.sampled_from(list("ab .,!北京天 \n")), max_size=25),
)
def test_hypothesis_rouge_qa_f1(a: str, b: str) -> None:
    for name, oracle in TEXT_METRICS[:4]:
        assert METRICS[name](a, b) == pytest.approx(oracle(a, b), abs=TOL), name
