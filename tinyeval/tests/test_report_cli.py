"""`score` and `report` on the seed's real prediction folders: numbers, intervals, files."""

from __future__ import annotations

import json

from conftest import data_path

from tinyeval.cli import main
from tinyeval.report import bootstrap_ci, write_report


def test_bootstrap_ci_brackets_the_mean_and_is_seeded() -> None:
    vals = [1.0] * 30 + [0.0] * 70
    lo, hi = bootstrap_ci(vals, n_boot=2000, seed=1)
    assert lo < 30.0 < hi and 18 < lo and hi < 42  # binomial sd ~4.6 points
    assert bootstrap_ci(vals, n_boot=2000, seed=1) == (lo, hi)
    assert bootstrap_ci([0.5] * 10) == (50.0, 50.0)


def test_report_compares_models(tmp_path) -> None:
    a = data_path("tinyeval", "pred", "internlm")
    b = data_path("tinyeval", "pred", "internlm2")
    rep = write_report([a, b], tmp_path, n_boot=300)
    res = rep["results"]
    assert res["internlm"]["multifieldqa_zh"]["score"] == 34.97
    assert res["internlm2"]["multifieldqa_zh"]["score"] == 48.97
    for model in res.values():
        for r in model.values():
            assert r["lo"] <= r["score"] <= r["hi"]
    assert (
        "34.97 [" in rep["markdown"]
        and "48.97 [" in rep["markdown"]
        and "| trec |" in rep["markdown"]
    )
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "report.json").read_text())["internlm"]["trec"]["score"] == 52.0


def test_score_cli_prints_seed_numbers(capsys, tmp_path) -> None:
    assert main(["score", str(data_path("tinyeval", "pred", "internlm"))]) == 0
    out = capsys.readouterr().out
    assert json.loads(out.strip().splitlines()[-1]) == {
        "multi_news": 23.66,
        "multifieldqa_zh": 34.97,
        "trec": 52.0,
    }
    assert (
        main(
            ["score", str(data_path("tinyeval", "pred", "Qwen2")), "--metric", "gaokao_last_letter"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"GAOKAO_math": 10.0}


def test_cli_errors_are_clear(capsys, tmp_path) -> None:
    assert (
        main(["run", "--model", "tiny-random", "--task", "no_such_task", "--out", str(tmp_path)])
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown task 'no_such_task'" in err and "demo_qa_zh" in err  # lists the known tasks
    assert main(["score", str(tmp_path)]) == 2
    assert "no *.jsonl prediction files" in capsys.readouterr().err
