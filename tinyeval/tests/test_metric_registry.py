"""The open metric registry: every built-in nameable in a task config (BLEU, SQuAD, CMRC equal to
their references), your own metric as ``file.py:function`` or a dotted path, and every bad metric
refused before any generation with a one-line error."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from scripted_model import ScriptedModel

from tinyeval.cli import main
from tinyeval.metrics.cmrc import cmrc_evaluate
from tinyeval.metrics.resolve import builtin_names, resolve_metric
from tinyeval.metrics.squad import squad_evaluate
from tinyeval.runner import run_task
from tinyeval.score import score_file, score_records
from tinyeval.task import Task, load_task

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_metric"
rng = random.Random(5)
WORDS = ["the", "cat", "sat", "on", "mat", "厦门大学", "厦大", "Paris", "1889", "a", "dog", "."]
PREDS = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))) for _ in range(40)]
GOLDS = [[" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))] for _ in range(40)]
RECORDS = [{"pred": p, "answers": g, "all_classes": ["cat", "dog"]} for p, g in zip(PREDS, GOLDS)]


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_is_nameable_in_a_task(name: str) -> None:
    task = Task.from_dict({"name": "t", "type": "generate", "data": {"path": "x"}, "metric": name})
    gold = {"retrieval": ["Paragraph 1"], "retrieval_zh": ["段落1"]}.get(name)
    recs = [{**r, "answers": gold or r["answers"]} for r in RECORDS]
    if name == "universe":  # scores a record against its own gold facts: give it a subtask
        recs = [{**r, "subtask": "rag", "value": r["answers"][0], "citation": 1} for r in recs]
    res = score_records(task.resolved_metric(), recs)
    assert res["n"] == 40 and 0.0 <= res["score"] <= 100.0


def test_bleu_by_name_equals_sacrebleu() -> None:
    sacrebleu = pytest.importorskip("sacrebleu")
    recs = [{"pred": p, "answers": g + ([g[0] + " x"] if i % 3 == 0 else [])}
            for i, (p, g) in enumerate(zip(PREDS, GOLDS))]  # fmt: skip
    streams = [[r["answers"][k] if k < len(r["answers"]) else None for r in recs] for k in (0, 1)]
    expected = sacrebleu.corpus_bleu([r["pred"] for r in recs], streams).score
    assert score_records("bleu", recs)["score"] == round(expected, 2)
    expected_zh = sacrebleu.corpus_bleu([r["pred"] for r in recs], streams, tokenize="zh").score
    assert score_records("bleu_zh", recs)["score"] == round(expected_zh, 2)
    sent = sum(sacrebleu.sentence_bleu(r["pred"], r["answers"][:1]).score for r in recs)
    one_ref = [{**r, "answers": r["answers"][:1]} for r in recs]
    assert score_records("sentence_bleu", one_ref)["score"] == round(sent / len(recs), 2)


def test_squad_and_cmrc_by_name_equal_their_evaluators() -> None:
    preds, golds = [r["pred"] for r in RECORDS], [r["answers"] for r in RECORDS]
    sq = squad_evaluate(preds, golds)
    assert score_records("squad_em", RECORDS)["score"] == round(sq["exact_match"], 2)
    assert score_records("squad_f1", RECORDS)["score"] == round(sq["f1"], 2)
    cm = cmrc_evaluate(preds, golds)
    assert score_records("cmrc_f1", RECORDS)["score"] == round(cm["f1"], 2)
    assert score_records("cmrc_em", RECORDS)["score"] == round(cm["em"], 2)


def test_the_guide_example_scores_by_hand(capsys) -> None:
    """examples/custom_metric: keyword recall (0.5 + 1 + 0) / 3 = 50.0 — as docs/metrics_zh.md."""
    task = load_task(str(EXAMPLE / "zhenhuan.json"))
    assert task.resolved_metric().name == "my_metrics.py:keyword_recall"
    assert score_file(task, EXAMPLE / "pred" / "zhenhuan.jsonl")["score"] == 50.0
    argv = ["score", str(EXAMPLE / "pred"), "--task", str(EXAMPLE / "zhenhuan.json")]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"zhenhuan": 50.0}
    guide = (Path(__file__).resolve().parents[1] / "docs" / "metrics_zh.md").read_text("utf-8")
    assert '{"zhenhuan": 50.0}' in guide


def test_the_guides_other_numbers(capsys) -> None:
    """docs/metrics_zh.md's tables: 57081.86元 F1 0.8, and 厦大 / 不是厦门大学 under three metrics."""
    from tinyeval.metrics import METRICS

    assert METRICS["qa_f1_zh"]("57081.86元", "人民币57081.86元。") == pytest.approx(0.8)
    table = {"qa_f1_zh": (0.0, 0.67), "cmrc_f1": (0.33, 0.8), "rouge_zh": (0.0, 0.67)}
    for name, (short, wrong) in table.items():
        assert round(METRICS[name]("厦大", "厦门大学"), 2) == short
        assert round(METRICS[name]("不是厦门大学", "厦门大学"), 2) == wrong
    for metric, score in (("qa_f1_zh", 44.02), ("cmrc_f1", 32.98)):
        task = load_task(str(EXAMPLE / "zhenhuan.json"))
        assert score_file(task, EXAMPLE / "pred" / "zhenhuan.jsonl", metric)["score"] == score


def test_my_metrics_doctests() -> None:
    import doctest
    import importlib.util

    spec = importlib.util.spec_from_file_location("my_metrics_doc", EXAMPLE / "my_metrics.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result = doctest.testmod(mod)
    assert result.attempted >= 2 and result.failed == 0


def test_the_guide_example_runs_and_keeps_record_fields(tmp_path) -> None:
    task = load_task(str(EXAMPLE / "zhenhuan.json"))
    out = run_task(ScriptedModel(), task, tmp_path, progress=False)
    assert out["n"] == 3
    recs = [json.loads(x) for x in (tmp_path / "zhenhuan.jsonl").read_text().splitlines()]
    assert recs[0]["keywords"] == ["甄嬛", "大理寺少卿"]
    assert recs[0]["answers"] == ["臣妾是甄嬛，家父是大理寺少卿。"]


def _write(tmp_path: Path, code: str, metric: str, name: str = "m.py") -> Path:
    (tmp_path / name).write_text(code, encoding="utf-8")
    cfg = {"name": "t", "type": "generate", "data": {"path": "./d.jsonl"}, "metric": metric}
    (tmp_path / "d.jsonl").write_text(json.dumps({"input": "q", "answers": ["a b"]}) + "\n")
    path = tmp_path / "t.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


def test_file_metric_gets_only_the_keywords_it_names(tmp_path) -> None:
    code = (
        "def m(prediction, ground_truth, all_classes=None):\n    return float(all_classes == 7)\n"
    )
    task = load_task(str(_write(tmp_path, code, "m.py:m")))
    assert task.resolved_metric().accepts == ("all_classes",)
    assert (
        score_records(task.resolved_metric(), [{"pred": "x", "answers": ["y"], "all_classes": 7}])[
            "score"
        ]
        == 100.0
    )


def test_corpus_file_metric_and_dotted_path(tmp_path, monkeypatch) -> None:
    task = load_task(str(EXAMPLE / "zhenhuan.json"))
    m = task.resolved_metric("my_metrics.py:exact_length_ratio")
    assert m.corpus
    recs = [{"pred": "ab", "answers": ["abcd"]}, {"pred": "c", "answers": ["cd"]}]
    assert score_records(m, recs)["score"] == 50.0
    dotted = resolve_metric("tinyeval.metrics.squad.squad_f1")
    assert dotted.accepts == () and dotted.example("Paris", "paris") == 1.0
    monkeypatch.syspath_prepend(str(EXAMPLE))
    assert resolve_metric("my_metrics.keyword_recall").example("甄嬛", "甄嬛") == 1.0


@pytest.mark.parametrize(
    ("code", "metric", "message"),
    [
        ("", "nofile.py:f", "file 'nofile.py' not found"),
        ("def g(p, g): return 1.0\n", "m.py:f", "has no function 'f'"),
        ("raise RuntimeError('boom')\n", "m.py:f", "importing .* failed: RuntimeError"),
        ("def f(p): return 1.0\n", "m.py:f", "signature must be fn"),
        ("def f(p, g, *, mode): return 1.0\n", "m.py:f", "signature must be fn"),
        ("f = 3\n", "m.py:f", "is not a function"),
        ("", "no_such_module_xyz.fn", "cannot import module"),
        ("", "bleu_typo", "unknown metric 'bleu_typo'"),
    ],
)
def test_bad_metric_fails_at_load_before_any_model(tmp_path, capsys, code, metric, message) -> None:
    path = _write(tmp_path, code, metric)
    with pytest.raises(ValueError, match=message):
        load_task(str(path))
    rc = main(
        ["run", "--task", str(path), "--model", "no/such/model", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "field 'metric'" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("ret", "message"), [("'x'", "must return a number"), ("5.0", r"\[0, 1\]"),
                                              ("float('nan')", "must return a number")])  # fmt: skip
def test_bad_metric_value_names_file_and_line(tmp_path, ret, message) -> None:
    path = _write(tmp_path, f"def f(p, g, **kw):\n    return {ret}\n", "m.py:f")
    task = load_task(str(path))
    pred = tmp_path / "t.jsonl"
    pred.write_text(json.dumps({"pred": "a", "answers": ["a"]}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{pred}:1: metric 'm.py:f' returned .*{message}"):
        score_file(task, pred)
