"""LLM-as-judge: pointwise ratings, pairwise verdicts in both orders (position bias cancels, ties
allowed), unparseable replies retried then counted (never scored), judge-rule agreement. Scripted
judges for the control flow; the real tiny-random model through the CLI for the user path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tinyeval.cli import main
from tinyeval.judge import combine, parse_choice, parse_rating, run_judge
from tinyeval.task import load_examples, load_task

TASK = {
    "name": "demo_qa_zh",
    "type": "generate",
    "data": {"path": "builtin:demo_qa_zh.jsonl", "format": "longbench"},
    "prompt": "{context}\n{input}",
    "metric": "qa_f1_zh",
    "judge": [
        {"mode": "pointwise", "scale": [1, 10], "retries": 2,
         "prompt": "Q={input}|REF={answers}|PRED={prediction}|"},
        {"mode": "pairwise", "retries": 1, "prompt": "Q={input}|REF={answers}|A={answer_a}|B={answer_b}|"},
    ],
}  # fmt: skip


class ScriptedJudge:
    """Rates by substring: the reference in the prediction → 9, '不是' → 1, else 4. 'FLAKY' is
    answered without a verdict until the format reminder; 'NEVER' never gets one. Pairwise: fair
    (the answer holding the reference wins) or position-biased (always [[A]])."""

    name = "scripted-judge"

    def __init__(self, biased: bool = False) -> None:
        self.biased = biased
        self.conversations: list[list[dict]] = []

    def _field(self, text: str, key: str) -> str:
        return re.search(rf"\|?{key}=(.*?)\|", text).group(1)

    def _reply(self, conv: list[dict]) -> str:
        text = conv[0]["content"]
        refs = self._field(text, "REF").split(" / ")
        if "PRED=" in text:
            pred = self._field(text, "PRED")
            if "NEVER" in pred or ("FLAKY" in pred and len(conv) == 1):
                return "这个回答还可以吧。"
            if "不是" in pred:
                return "与参考矛盾。[[1]]"
            return "正确。[[9]]" if any(r in pred for r in refs) else "不完整。[[4]]"
        if self.biased:
            return "第一个更好。[[A]]"
        a, b = self._field(text, "A"), self._field(text, "B")
        ok_a, ok_b = any(r in a for r in refs), any(r in b for r in refs)
        return "[[C]]" if ok_a == ok_b else ("[[A]]" if ok_a else "[[B]]")

    def chat_batch(self, conversations, **sampling):
        self.conversations += conversations
        return [{"role": "assistant", "content": self._reply(c)} for c in conversations]


def _task(tmp_path: Path):
    path = tmp_path / "demo_qa_zh.json"
    path.write_text(json.dumps(TASK, ensure_ascii=False), encoding="utf-8")
    return load_task(str(path))


def _preds(tmp_path: Path, name: str, preds: list[str]) -> Path:
    task = _task(tmp_path)
    d = tmp_path / name
    d.mkdir()
    exs = load_examples(task)
    rows = [{"idx": ex["idx"], "pred": p, "answers": ex["answers"], "all_classes": None}
            for ex, p in zip(exs, preds)]  # fmt: skip
    (d / "demo_qa_zh.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return d


# golds: 东海 诗仙 京师大学堂 竹子 曹雪芹 长江 100摄氏度 测报地震…
A = [
    "注入东海",
    "诗仙李白",
    "不是京师大学堂",
    "FLAKY 竹子",
    "NEVER",
    "黄河",
    "100摄氏度",
    "测报地震",
]
B = ["东海", "诗人", "京师大学堂", "竹", "曹雪芹", "黄河", "九十度", "地震"]


def test_parsers() -> None:
    assert parse_rating("[[3]] 不对，应为 [[7]]", (1, 10)) == 7.0  # the last one counts
    assert parse_rating("[[11]]", (1, 10)) is None and parse_rating("7", (1, 10)) is None
    assert parse_rating("[[ 7.5 ]]", (1, 10)) == 7.5
    assert parse_choice("[[C]]") == "C" and parse_choice("[[D]]") is None
    assert [combine(x, y) for x, y in [("A", "B"), ("B", "A"), ("A", "A"), ("C", "C"), ("A", "C")]] == [
        "A", "B", "C", "C", "C"
    ]  # fmt: skip


def test_pointwise_scores_retries_and_counts_unparsed(tmp_path) -> None:
    task = _task(tmp_path)
    d = _preds(tmp_path, "a", A)
    judge = ScriptedJudge()
    s = run_judge(task, judge, [d], tmp_path / "j", batch_size=3)
    # ratings: 9 9 1 9(after a retry) unparsed 4 9 9 → (8+8+0+8+3+8+8)/9/7
    assert s["n"] == 8 and s["scored"] == 7 and s["unparsed"] == 1
    assert s["retried"] == 2  # FLAKY (1 retry) and NEVER (2 retries)
    assert s["judge_score"] == round(100 * (8 * 5 + 0 + 3) / 9 / 7, 2)
    assert s["calls"] == 8 + 1 + 2
    verdicts = [
        json.loads(x) for x in (tmp_path / "j" / "demo_qa_zh.jsonl").read_text().splitlines()
    ]
    never = next(v for v in verdicts if v["idx"] == 4)
    assert never["judge_score"] is None and never["tries"] == 3 and len(never["replies"]) == 3
    # the retry carries the failed reply and a format reminder
    retry = next(c for c in judge.conversations if len(c) == 3 and "FLAKY" in c[0]["content"])
    assert retry[1]["role"] == "assistant" and "[[5]]" in retry[2]["content"]
    # agreement with qa_f1_zh: "不是京师大学堂" has rule F1 > 0.5 but the judge gives 1 → disagree
    assert 0 < s["agreement"]["same_pass_fail"] < 1 and s["agreement"]["n"] == 7
    # resumable: a second call judges nothing new
    again = run_judge(task, ScriptedJudge(), [d], tmp_path / "j")
    assert again["calls"] == 0 and again["judge_score"] == s["judge_score"]


def test_pairwise_both_orders_cancel_position_bias(tmp_path) -> None:
    task = _task(tmp_path)
    a, b = _preds(tmp_path, "a", A), _preds(tmp_path, "b", B)
    fair = run_judge(task, ScriptedJudge(), [a, b], tmp_path / "fair")
    assert fair["n"] == 8 and fair["calls"] >= 16  # every pair in both orders
    # refs in A: 东海 诗仙 京师大学堂 竹子 - - 100摄氏度 测报地震 ; in B: 东海 - 京师大学堂 - 曹雪芹 - - 地震
    assert (fair["wins"], fair["losses"], fair["ties"]) == (4, 1, 3)
    assert fair["win_rate"] == round((4 + 1.5) / 8, 4) and fair["consistency"] == 1.0
    biased = run_judge(task, ScriptedJudge(biased=True), [a, b], tmp_path / "biased")
    assert (biased["wins"], biased["losses"], biased["ties"]) == (0, 0, 8)  # bias cancelled
    assert biased["win_rate"] == 0.5 and biased["consistency"] == 0.0
    assert fair["agreement"]["n"] >= 3 and 0 <= fair["agreement"]["same_winner"] <= 1


def test_judge_config_is_validated_at_load(tmp_path) -> None:
    for bad, msg in [
        ({"mode": "listwise", "prompt": "x"}, "judge.mode"),
        ({"mode": "pointwise", "prompt": "{prediction.__class__}"}, "judge.prompt"),
        ({"mode": "pointwise", "prompt": "x", "scale": [10, 1]}, "judge.scale"),
        ({"mode": "pointwise", "prompt": "x", "retries": -1}, "judge.retries"),
    ]:
        path = tmp_path / "t.json"
        path.write_text(json.dumps({**TASK, "judge": bad}), encoding="utf-8")
        with pytest.raises(ValueError, match=msg):
            load_task(str(path))


@pytest.mark.parametrize("name", ["demo_qa_zh", "demo_qa_en", "multifieldqa_zh"])
def test_shipped_judge_prompts_format(name: str) -> None:
    from tinyeval.judge import _fields, judge_config
    from tinyeval.template import safe_format

    task = load_task(name)
    ex = {"input": "Q", "context": "C", "answers": ["厦门大学"]}
    point = safe_format(
        judge_config(task, "pointwise")["prompt"], {**_fields(ex, ex), "prediction": "厦大"}
    )
    assert "厦大" in point and "厦门大学" in point and "[[" in point
    pair = judge_config(task, "pairwise")["prompt"]
    assert "{answer_a}" in pair and "{answer_b}" in pair


def test_cli_judge_on_tiny_random_counts_unparsed(tmp_path, capsys) -> None:
    """The real path: tiny-random answers gibberish, so every verdict is unparsed — and says so."""
    pytest.importorskip("torch")
    d = _preds(tmp_path, "a", A)
    rc = main(["judge", str(d), "--task", str(tmp_path / "demo_qa_zh.json"), "--judge", "tiny-random",
               "--batch-size", "8"])  # fmt: skip
    assert rc == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["judge"] == "tiny-random" and s["n"] == 8
    assert s["scored"] + s["unparsed"] == 8 and s["calls"] >= 8
    if s["unparsed"] == 8:
        assert s["judge_score"] is None and s["calls"] == 8 * 3
    rc = main(["judge", str(d), "--task", "demo_mc", "--judge", "tiny-random"])
    assert rc == 2 and "no pointwise 'judge' config" in capsys.readouterr().err
