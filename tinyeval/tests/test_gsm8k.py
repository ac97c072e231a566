"""GSM8K extraction on the real answer formats of openai/grade-school-math, and the
lm-evaluation-harness gsm8k (v3.0) filters on hand-written completions."""

from __future__ import annotations

import json
import re

import pytest
from conftest import data_path

from tinyeval.metrics.gsm8k import (
    FALLBACK,
    exact_match,
    flexible_extract,
    gsm8k_scores,
    reference_answer,
    strict_extract,
)


@pytest.mark.parametrize("split", ["test.jsonl", "train.jsonl", "test_socratic.jsonl"])
def test_real_answers_extract_and_match_themselves(split: str) -> None:
    rows = [
        json.loads(line)
        for line in data_path("gsm8k", split).read_text(encoding="utf-8").splitlines()
        if line
    ]
    assert len(rows) > 1000
    official = re.compile(r"#### (\-?[0-9\.\,]+)")  # grade_school_math/dataset.py
    with_comma = 0
    for row in rows:
        ans = row["answer"]
        m = official.search(ans)
        assert m, ans[-60:]
        assert reference_answer(ans) == m.group(1).strip().replace(",", "")
        assert strict_extract(ans) == m.group(1).strip()
        # the gold answer, read back as a completion, scores 1 under both filters
        assert gsm8k_scores(ans, ans) == {"strict-match": 1.0, "flexible-extract": 1.0}, ans[-80:]
        # a completion that states the number in prose gets flexible credit only
        prose = f"So the answer is {reference_answer(ans)}."
        assert gsm8k_scores(prose, ans) == {"strict-match": 0.0, "flexible-extract": 1.0}, prose
        with_comma += "," in m.group(1)
    # thousands separators occur in the data
    assert with_comma > 0 or split == "test_socratic.jsonl"


def test_filters_by_hand() -> None:
    gold = "... so 1,200 in total.\n#### 1200"
    assert strict_extract("#### 1,200") == "1,200"
    assert exact_match("1,200", gold) == 1.0  # commas removed on both sides
    assert exact_match("$1200.", gold) == 1.0  # "$" and a final "." removed
    assert exact_match("1200.0", gold) == 0.0  # no numeric equivalence, like the harness
    assert strict_extract("the answer is 5") == FALLBACK
    assert flexible_extract("3 apples and 4 pears, total 7") == "7"
    # regex keeps "$" and ".", exact_match drops them
    assert flexible_extract("costs $12.50.") == "$12.50."
    assert exact_match(flexible_extract("costs $12.50."), "#### 12.50") == 1.0
    assert flexible_extract("no digits here") == FALLBACK
    assert flexible_extract("-5 degrees") == "-5"
    assert strict_extract("#### -3\n#### 4") == "-3"  # take_first
