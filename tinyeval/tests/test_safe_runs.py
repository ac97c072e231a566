"""Safe runs: every bad input from issue 17 point 7 is refused with one line (exit 2 from the CLI)
before anything is generated, and nothing is ever written outside --out or twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scripted_model import ScriptedModel

from tinyeval.cli import main
from tinyeval.lock import RunLockedError, run_lock
from tinyeval.runner import run_task
from tinyeval.score import score_file
from tinyeval.task import Task, load_examples, load_task
from tinyeval.template import safe_format

QA = [{"context": f"c{i}", "input": f"q{i}", "answers": [f"a{i}"], "length": 10} for i in range(8)]


def _task_file(tmp_path: Path, **over) -> Path:
    data = tmp_path / "qa.jsonl"
    if not data.exists():
        data.write_text("".join(json.dumps(r) + "\n" for r in QA), encoding="utf-8")
    cfg = {
        "name": "qa",
        "type": "generate",
        "data": {"path": str(data), "format": "longbench"},
        "prompt": "{context}\n{input}",
        "metric": "qa_f1",
        "max_new_tokens": 8,
    }
    cfg.update(over)
    path = tmp_path / f"task_{abs(hash(json.dumps(over, sort_keys=True)))}.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


def _cli(capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err
    return rc, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("name", ["../../escape", "/tmp/abs", "a/b", "..", ".hidden", "C:x", ""])
def test_task_name_cannot_leave_out(tmp_path, capsys, name) -> None:
    path = _task_file(tmp_path, name=name)
    with pytest.raises(ValueError, match="'name'"):
        load_task(str(path))
    out = tmp_path / "deep" / "out"
    rc, err = _cli(capsys, "run", "--model", "tiny-random", "--task", str(path), "--out", str(out))
    assert rc == 2 and "field 'name'" in _one_error_line(err)
    assert not out.exists()  # refused before anything was created
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(p.name for p in tmp_path.iterdir())


def test_lock_refuses_a_second_run_on_the_same_out(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from tinyeval.lock import run_lock\n"
         f"with run_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            run_task(ScriptedModel(), load_task("demo_qa_en"), out, progress=False)
        rc, err = _cli(
            capsys, "run", "--model", "tiny-random", "--task", "demo_qa_en", "--out", str(out)
        )
        assert rc == 2 and "in use by another tinyeval run" in _one_error_line(err)
        assert not (out / "demo_qa_en.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the dead holder's lock: the folder is usable again
    with run_lock(out):
        pass
    assert run_task(ScriptedModel(), load_task("demo_qa_en"), out, progress=False)["n"] == 8


def test_resume_dedupes_by_example_id(tmp_path) -> None:
    task = load_task("demo_qa_en")
    ref = run_task(ScriptedModel(), task, tmp_path / "a", progress=False)
    pred = tmp_path / "b" / "demo_qa_en.jsonl"
    pred.parent.mkdir()
    lines = (tmp_path / "a" / "demo_qa_en.jsonl").read_text().splitlines(keepends=True)
    # two writers raced: examples 0..3 twice (the second copy scored 0), 4..7 missing
    wrong = [json.dumps({**json.loads(x), "pred": "zzz"}) + "\n" for x in lines[:4]]
    pred.write_text("".join(lines[:4] + wrong), encoding="utf-8")
    m = ScriptedModel()
    resumed = run_task(m, task, tmp_path / "b", batch_size=2, progress=False)
    assert sum(n for _, n in m.calls) == 4  # only 4..7 were generated
    assert resumed["n"] == 8 and resumed["score"] == ref["score"]
    assert score_file(task, pred)["n"] == 8


def test_max_new_tokens_and_limit_are_validated(tmp_path, capsys) -> None:
    for bad in (-5, 0, 1.5, "8", True):
        with pytest.raises(ValueError, match="'max_new_tokens'"):
            load_task(str(_task_file(tmp_path, max_new_tokens=bad)))
    out = str(tmp_path / "out")
    for flag, value in (("--max-new-tokens", "0"), ("--limit", "-1"), ("--batch-size", "0")):
        with pytest.raises(SystemExit) as e:
            main(["run", "--task", "demo_qa_en", "--out", out, flag, value])
        assert e.value.code == 2
        assert "must be >=" in capsys.readouterr().err
    with pytest.raises(ValueError, match="limit must be"):
        run_task(ScriptedModel(), load_task("demo_qa_en"), out, limit=-1, progress=False)
    with pytest.raises(ValueError, match="max_new_tokens must be"):
        run_task(ScriptedModel(), load_task("demo_qa_en"), out, max_new_tokens=-5, progress=False)
    # --limit 0 is allowed and runs nothing; --limit N keeps the first N (no off-by-one)
    m = ScriptedModel()
    assert run_task(m, load_task("demo_qa_en"), out, limit=0, progress=False)["n"] == 0
    assert m.calls == []
    assert len(load_examples(load_task("demo_qa_en"), limit=7)) == 7


def test_answers_must_be_lists(tmp_path) -> None:
    data = tmp_path / "bad.jsonl"
    rows = [QA[0], {**QA[1], "answers": "a"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    task = load_task(str(_task_file(tmp_path, data={"path": str(data), "format": "longbench"})))
    with pytest.raises(ValueError, match=rf"{data}:2: field 'answers' must be a non-empty list"):
        load_examples(task)
    pred = tmp_path / "pred" / "multifieldqa_zh.jsonl"
    pred.parent.mkdir()
    pred.write_text(json.dumps({"pred": "a", "answers": "a", "all_classes": None}) + "\n")
    with pytest.raises(ValueError, match=rf"{pred}:1: 'answers' must be a list"):
        score_file(load_task("multifieldqa_zh"), pred)


@pytest.mark.parametrize("bad", [5, None, ["a"], {"x": 1}])
def test_wrong_typed_prediction_names_file_and_line(tmp_path, capsys, bad) -> None:
    pred = tmp_path / "demo_qa_en.jsonl"
    ok = {"idx": 0, "pred": "Paris", "answers": ["Paris"], "all_classes": None}
    pred.write_text(
        json.dumps(ok) + "\n\n" + json.dumps({**ok, "idx": 1, "pred": bad}) + "\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=rf"{pred}:3: 'pred' must be a string"):
        score_file(load_task("demo_qa_en"), pred)
    rc, err = _cli(capsys, "score", str(tmp_path))
    assert rc == 2 and f"{pred}:3" in _one_error_line(err)


@pytest.mark.parametrize(
    "template",
    [
        "{context.__class__.__init__.__globals__}",
        "{context[0]}",
        "{context!r}",
        "{context:>{input}}",
        "{}",
        "{0}",
        "unbalanced {",
    ],
)
def test_prompt_templates_cannot_reach_attributes(tmp_path, capsys, template) -> None:
    path = _task_file(tmp_path, prompt=template)
    with pytest.raises(ValueError, match="prompt"):
        load_task(str(path))
    rc, err = _cli(
        capsys, "run", "--task", str(path), "--out", str(tmp_path / "o"), "--model", "tiny-random"
    )
    assert rc == 2 and "prompt" in _one_error_line(err)
    with pytest.raises(ValueError):  # the formatter itself refuses too (no config check needed)
        safe_format(template, {"context": "c", "input": "i"})


def test_safe_format_matches_str_format_on_plain_fields() -> None:
    t = "a {x} b {y}{x} {{lit}} 中文{y}"
    assert safe_format(t, {"x": 1, "y": "二"}) == t.format(x=1, y="二")


def test_bad_metric_is_refused_before_generation(tmp_path, capsys) -> None:
    path = _task_file(tmp_path, metric="bleu_typo")
    rc, err = _cli(
        capsys, "run", "--task", str(path), "--out", str(tmp_path / "o"), "--model", "no/such/dir"
    )
    assert rc == 2 and "unknown metric 'bleu_typo'" in _one_error_line(err)
    assert not (tmp_path / "o").exists()


def test_unreachable_endpoint_is_one_error_line(tmp_path, capsys) -> None:
    t0 = time.time()
    rc, err = _cli(
        capsys, "run", "--model", "http://127.0.0.1:9/v1", "--task", "demo_qa_en",
        "--out", str(tmp_path / "o"), "--quiet",
    )  # fmt: skip
    assert rc == 2 and "cannot reach http://127.0.0.1:9/v1" in _one_error_line(err)
    assert time.time() - t0 < 60


def test_task_from_dict_rejects_wrong_types() -> None:
    base = {"name": "x", "type": "generate", "data": {"path": "p"}, "metric": "qa_f1"}
    for over, field in [
        ({"stop": "\n"}, "stop"),
        ({"chat": "yes"}, "chat"),
        ({"data": "p"}, "data.path"),
        ({"fewshot": {"path": "p", "k": -1}}, "fewshot.k"),
        ({"answer_type": "dict"}, "answer_type"),
    ]:
        with pytest.raises(ValueError, match=field):
            Task.from_dict({**base, **over})


def test_two_concurrent_cli_runs_write_each_example_once(tmp_path) -> None:
    """The issue's repro: two `tinyeval run` on one --out at once gave 16 rows for 8 examples."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tinyeval", "run", "--model", "tiny-random", "--task",
           "demo_qa_en", "--out", str(out), "--quiet", "--batch-size", "2"]  # fmt: skip
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(rc for rc, _ in results)
    assert codes in ([0, 2], [0, 0]), results  # [0, 0]: the second started after the first ended
    if codes == [0, 2]:
        assert any("in use by another tinyeval run" in err for rc, err in results if rc == 2)
    rows = [json.loads(x) for x in (out / "demo_qa_en.jsonl").read_text().splitlines()]
    assert sorted(r["idx"] for r in rows) == list(range(8))
