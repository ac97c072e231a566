"""Runner control flow on a scripted model: batching at fixed boundaries, resume after an
interruption (same file, same scores), torn-line repair, log-likelihood fallback, middle truncation."""

from __future__ import annotations

import json

import pytest
from scripted_model import ScriptedModel

from tinyeval.runner import run_task, truncate_middle
from tinyeval.task import load_examples, load_task


class Stop(Exception):
    pass


def _stop_after(n_batches: int):
    def hook(i: int) -> None:
        if i + 1 == n_batches:
            raise Stop

    return hook


def test_batches_and_records(tmp_path) -> None:
    m = ScriptedModel()
    out = run_task(m, load_task("demo_qa_zh"), tmp_path, batch_size=3, progress=False)
    assert out["n"] == 8
    assert m.calls == [("chat_batch", 3), ("chat_batch", 3), ("chat_batch", 2)]
    recs = [json.loads(line) for line in (tmp_path / "demo_qa_zh.jsonl").read_text().splitlines()]
    assert [r["idx"] for r in recs] == list(range(8))
    assert {"pred", "answers", "all_classes", "length"} <= set(recs[0])  # seed/LongBench fields
    assert json.loads((tmp_path / "result.json").read_text()) == {"demo_qa_zh": out["score"]}


@pytest.mark.parametrize(
    ("task", "bs", "per_call"), [("demo_qa_en", 2, 2), ("demo_mc", 2, 8), ("demo_ppl", 1, 1)]
)
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, task, bs, per_call) -> None:
    full = run_task(ScriptedModel(), load_task(task), tmp_path / "a", batch_size=bs, progress=False)
    with pytest.raises(Stop):
        run_task(
            ScriptedModel(),
            load_task(task),
            tmp_path / "b",
            batch_size=bs,
            progress=False,
            on_batch=_stop_after(2),
        )
    assert len((tmp_path / "b" / f"{task}.jsonl").read_text().splitlines()) == 2 * bs
    m = ScriptedModel()
    resumed = run_task(m, load_task(task), tmp_path / "b", batch_size=bs, progress=False)
    # only the remaining batches, same size
    assert m.calls and all(n == per_call for _, n in m.calls)
    assert (tmp_path / "a" / f"{task}.jsonl").read_bytes() == (
        tmp_path / "b" / f"{task}.jsonl"
    ).read_bytes()
    assert full["score"] == resumed["score"]
    assert (tmp_path / "a" / "result.json").read_text() == (
        tmp_path / "b" / "result.json"
    ).read_text()


def test_rerun_skips_everything_done(tmp_path) -> None:
    run_task(ScriptedModel(), load_task("demo_qa_en"), tmp_path, batch_size=4, progress=False)
    m = ScriptedModel()
    run_task(m, load_task("demo_qa_en"), tmp_path, batch_size=4, progress=False)
    assert m.calls == []


def test_torn_last_line_is_dropped_and_redone(tmp_path) -> None:
    run_task(ScriptedModel(), load_task("demo_qa_en"), tmp_path / "a", batch_size=1, progress=False)
    good = (tmp_path / "a" / "demo_qa_en.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "b").mkdir()
    # killed mid-line
    (tmp_path / "b" / "demo_qa_en.jsonl").write_text("".join(good[:5]) + good[5][:17])
    m = ScriptedModel()
    run_task(m, load_task("demo_qa_en"), tmp_path / "b", batch_size=1, progress=False)
    assert len(m.calls) == 3  # examples 5, 6, 7
    assert (tmp_path / "b" / "demo_qa_en.jsonl").read_text() == "".join(good)


def test_corrupt_middle_line_is_an_error(tmp_path) -> None:
    (tmp_path / "demo_qa_en.jsonl").write_text(
        '{"idx": 0, "pred": "x", "answers": ["y"]}\n{broken\n{"idx": 2}\n'
    )
    with pytest.raises(ValueError, match=r"demo_qa_en.jsonl:2"):
        run_task(ScriptedModel(), load_task("demo_qa_en"), tmp_path, progress=False)


def test_multiple_choice_falls_back_to_generated_letter(tmp_path) -> None:
    m = ScriptedModel(loglik=False)
    out = run_task(m, load_task("demo_mc"), tmp_path, batch_size=6, progress=False)
    recs = [json.loads(line) for line in (tmp_path / "demo_mc.jsonl").read_text().splitlines()]
    assert {r["mode"] for r in recs} == {"generate"}
    assert m.calls == [("complete", 6), ("complete", 6)]  # loglikelihood tried once, then skipped
    assert out["n"] == 12
    for r in recs:
        assert r["pred"] in ("A", "B", "C", "D", None)
        assert r["acc"] == float(r["pred"] == r["answers"][0])
    assert any(r["pred"] is not None for r in recs)


def test_multiple_choice_loglikelihood_records(tmp_path) -> None:
    m = ScriptedModel()
    run_task(m, load_task("demo_mc"), tmp_path, batch_size=6, progress=False)
    rec = json.loads((tmp_path / "demo_mc.jsonl").read_text().splitlines()[0])
    assert rec["mode"] == "loglikelihood" and len(rec["logliks"]) == 4
    assert rec["pred"] == "ABCD"[max(range(4), key=lambda i: (rec["logliks"][i], -i))]
    assert rec["acc"] == float(rec["pred"] == rec["answers"][0])
    # demo_mc scores each choice's text: acc_norm divides by the continuation's length in chars
    recs = [json.loads(line) for line in (tmp_path / "demo_mc.jsonl").read_text().splitlines()]
    exs = load_examples(load_task("demo_mc"))
    for r, ex in zip(recs, exs):
        lens = [len(" " + c) for c in ex["choices"]]
        norm = max(range(4), key=lambda i: (r["logliks"][i] / lens[i], -i))
        assert r["acc_norm"] == float("ABCD"[norm] == ex["answers"][0])


def test_truncate_middle() -> None:
    m = ScriptedModel()  # character tokenizer: tokens == characters
    assert truncate_middle("abcdefghij", 4, m) == "abij"
    assert truncate_middle("abcdefghij", 5, m) == "abij"  # half = int(5/2) = 2, as LongBench
    assert truncate_middle("abc", 10, m) == "abc"
    no_tok = ScriptedModel(tokenizer=False)  # endpoint-like: only count_tokens
    assert truncate_middle("abcdefghij", 4, no_tok) == "abij"
    with pytest.raises(ValueError, match="budget"):
        truncate_middle("abc", 0, m)


def test_long_prompt_is_cut_in_the_middle(tmp_path) -> None:
    m = ScriptedModel(context_length=200)
    run_task(m, load_task("demo_qa_zh"), tmp_path, batch_size=8, max_new_tokens=16, progress=False)
    # budget = 200 - 16 - 64 (chat template reserve) = 120 characters, kept 60 + 60
    for p in m.prompts:
        assert len(p) <= 120
    assert all(p.startswith("阅读以下文字") and p.endswith("回答：") for p in m.prompts)


def test_context_too_small_is_a_clear_error(tmp_path) -> None:
    # one LongBench-format row, generated: the test needs the task config, not the real data
    row = {"input": "", "context": "新闻 " * 400, "answers": ["摘要"], "length": 400, "_id": "0"}
    data = tmp_path / "data"
    (data / "longbench").mkdir(parents=True)
    (data / "longbench" / "multi_news.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n")
    with pytest.raises(ValueError, match="max_new_tokens=512 leaves no room"):
        run_task(
            ScriptedModel(context_length=256),
            load_task("multi_news"),
            tmp_path / "out",
            data_dir=data,
            limit=1,
            progress=False,
        )


def test_missing_data_names_the_path(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"trec\.jsonl"):
        run_task(ScriptedModel(), load_task("trec"), tmp_path, data_dir=tmp_path, progress=False)
