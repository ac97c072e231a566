"""Per-subject and per-category reports for C-Eval / CMMLU / MMLU, and the C-Eval test-set
submission export (official format, refuses an unfinished run)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from conftest import data_path
from scripted_model import ScriptedModel

from tinyeval.categories import CEVAL, CEVAL_HARD, CMMLU, MMLU, categories_of
from tinyeval.cli import main
from tinyeval.report import write_report
from tinyeval.runner import run_task
from tinyeval.subjects import by_category, by_subject
from tinyeval.task import load_task


def _records(subjects: list[str], seed: int) -> list[dict]:
    rng = random.Random(seed)
    recs = []
    for s in subjects:
        for _ in range(rng.randint(1, 9)):
            recs.append({"subject": s, "acc": float(rng.random() < 0.4), "acc_norm": 1.0})
    return recs


@pytest.mark.parametrize(("bench", "table"), [("ceval", CEVAL), ("cmmlu", CMMLU), ("mmlu", MMLU)])
def test_categories_pooled_and_macro_by_hand(bench: str, table: dict) -> None:
    recs = _records(sorted(table), seed=len(table))
    cats = by_category(bench, by_subject(recs))
    names = {c for s in table for c in categories_of(bench, s)}
    assert set(cats) == names | {"Average"} | ({"Hard"} if bench == "ceval" else set())
    for cat in names:
        members = [s for s in table if cat in categories_of(bench, s)]
        rows = [r for r in recs if r["subject"] in members]
        pooled = 100 * sum(r["acc"] for r in rows) / len(rows)
        per_subject = [
            100
            * sum(r["acc"] for r in rows if r["subject"] == s)
            / sum(1 for r in rows if r["subject"] == s)
            for s in members
        ]
        assert cats[cat]["n"] == len(rows)
        assert cats[cat]["acc"] == pytest.approx(pooled, abs=1e-9)
        assert cats[cat]["acc_macro"] == pytest.approx(sum(per_subject) / len(members), abs=1e-9)
    assert cats["Average"]["n"] == len(recs)


def test_category_tables_match_the_benchmarks() -> None:
    assert len(CEVAL) == 52 and len(CMMLU) == 67 and len(MMLU) == 57
    assert {v for v in CEVAL.values()} == {"STEM", "Social Science", "Humanities", "Other"}
    assert sum(v == "STEM" for v in CEVAL.values()) == 20 and set(CEVAL_HARD) <= set(CEVAL)
    assert sum("China specific" in v for v in CMMLU.values()) == 15  # CMMLU paper: 15 subjects
    assert {c for v in MMLU.values() for c in [v]} == {
        "STEM", "humanities", "social sciences", "other (business, health, misc.)"
    }  # fmt: skip


def test_every_real_subject_has_a_category() -> None:
    mapping = json.loads(data_path("ceval", "subject_mapping.json").read_text(encoding="utf-8"))
    assert {k: v[2] for k, v in mapping.items()} == CEVAL
    for bench, folder, suffix, table in (
        ("ceval", "ceval/val", "_val", CEVAL),
        ("cmmlu", "cmmlu/test", "", CMMLU),
        ("mmlu", "mmlu/test", "_test", MMLU),
    ):
        files = sorted(data_path(*folder.split("/")).glob("*.csv"))
        subjects = {p.stem.removesuffix(suffix) for p in files}
        assert subjects == set(table), bench


def test_run_and_report_on_real_ceval(tmp_path) -> None:
    root = data_path("ceval", "val").parents[1]
    task = load_task("ceval")
    out = run_task(ScriptedModel(), task, tmp_path / "run", data_dir=root, limit=60, progress=False)
    assert set(out["metrics"]["categories"]) >= {"Average"}
    recs = [json.loads(x) for x in (tmp_path / "run" / "ceval.jsonl").read_text().splitlines()]
    assert all("subject" in r and "id" in r for r in recs)
    rep = write_report([tmp_path / "run"], tmp_path / "rep", n_boot=50)
    md = rep["markdown"]
    assert "| category | subjects | n |" in md and "| accountant |" in md
    assert "Other / 其他" in md  # accountant is C-Eval "Other"


# ---- C-Eval test-set submission --------------------------------------------------------------


def _ceval_tree(root: Path, with_answer_column: bool) -> None:
    for subject in ("college_physics", "law"):
        for split, n in (("dev", 5), ("test", 4)):
            path = root / "ceval" / split / f"{subject}_{split}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            header = ["id", "question", "A", "B", "C", "D"]
            if split == "dev" or with_answer_column:
                header.append("answer")
            with open(path, "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                for i in range(n):
                    row = [str(i), f"{subject} q{i}", "a", "b", "c", "d"]
                    if len(header) == 7:
                        row.append("B" if split == "dev" else "")
                    w.writerow(row)
    mapping = {"college_physics": ["College Physics", "大学物理", "STEM"],
               "law": ["Law", "法学", "Humanities"]}  # fmt: skip
    (root / "ceval" / "subject_mapping.json").write_text(json.dumps(mapping), encoding="utf-8")


@pytest.mark.parametrize("with_answer_column", [True, False])
def test_ceval_submission_export(tmp_path, capsys, with_answer_column) -> None:
    _ceval_tree(tmp_path / "data", with_answer_column)
    task = load_task("ceval_test")
    run = tmp_path / "run"
    partial = run_task(
        ScriptedModel(), task, run, data_dir=tmp_path / "data", limit=5, progress=False
    )
    assert partial["score"] is None and partial["n"] == 5  # no answers: nothing to score
    sub = tmp_path / "submission.json"
    argv = [
        "export",
        "ceval-submission",
        str(run),
        "--out",
        str(sub),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    assert main(argv) == 2
    assert "3 of 8 test questions have no prediction" in capsys.readouterr().err
    assert not sub.exists()
    run_task(ScriptedModel(), task, run, data_dir=tmp_path / "data", progress=False)  # resume
    assert main(argv) == 0
    got = json.loads(sub.read_text(encoding="utf-8"))
    assert list(got) == ["college_physics", "law"]
    assert all(list(v) == ["0", "1", "2", "3"] for v in got.values())
    assert all(p in "ABCD" and len(p) == 1 for v in got.values() for p in v.values())
    recs = [json.loads(x) for x in (run / "ceval_test.jsonl").read_text().splitlines()]
    assert {(r["subject"], r["id"]): r["pred"] for r in recs} == {
        (s, i): p for s, v in got.items() for i, p in v.items()
    }
    # the prompt is C-Eval's 5-shot prompt with the Chinese subject name
    m = ScriptedModel()
    run_task(m, task, tmp_path / "again", data_dir=tmp_path / "data", limit=1, progress=False)
    assert m.calls == [("loglikelihood", 4)]
