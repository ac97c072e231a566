"""All 21 LongBench tasks and the 13 LongBench-E tasks: configs equal LongBench's own
(prompt, generation length, metric, first-line rule, chat or not), and scoring a prediction folder
gives exactly the result.json LongBench's eval.py (restated in longbench_reference.py) gives —
plain and ``--e`` — on generated predictions for every task and on the seed's real ones."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import longbench_reference as ref
import pytest
from conftest import data_path
from scripted_model import ScriptedModel

from tinyeval.cli import main
from tinyeval.longbench import LONGBENCH, LONGBENCH_E
from tinyeval.runner import run_task
from tinyeval.task import load_examples, load_task

CONFIG = Path(__file__).resolve().parent / "longbench_config"
PROMPTS = json.loads((CONFIG / "dataset2prompt.json").read_text(encoding="utf-8"))
MAXLEN = json.loads((CONFIG / "dataset2maxlen.json").read_text(encoding="utf-8"))
NO_CHAT = {"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"}  # LongBench pred.py
FIRST_LINE = {"trec", "triviaqa", "samsum", "lsht"}  # LongBench eval.py


def test_task_lists_match_longbench() -> None:
    assert set(LONGBENCH) == set(ref.DATASET2METRIC) == set(PROMPTS) == set(MAXLEN)
    assert len(LONGBENCH) == 21 and len(LONGBENCH_E) == 13 and set(LONGBENCH_E) <= set(LONGBENCH)


@pytest.mark.parametrize("name", [*LONGBENCH, *(f"{n}_e" for n in LONGBENCH_E)])
def test_config_equals_longbench(name: str) -> None:
    base = name.removesuffix("_e") if name.endswith("_e") else name
    t = load_task(name)
    assert t.name == name and t.type == "generate"
    assert t.prompt == PROMPTS[base]
    assert t.max_new_tokens == MAXLEN[base]
    assert t.metric == ref.DATASET2METRIC[base].__name__.removesuffix("_score")
    assert t.chat is (base not in NO_CHAT)
    assert t.first_line is (base in FIRST_LINE)
    assert t.length_buckets is name.endswith("_e")
    paths = [t.data["path"]] if isinstance(t.data["path"], str) else t.data["path"]
    assert paths[0] == f"longbench/{name}.jsonl"  # the layout `data fetch longbench` writes


# ---- generated predictions for every task ------------------------------------------------

EN = ["Paris", "the Eiffel Tower", "in 1889", "John Smith", "a cat", "yes", "no", "unanswerable",
      "The report says funding rose.", "They met on Monday. Sales fell 3%.", "three", "U.S."]  # fmt: skip
ZH = [
    "北京",
    "厦门大学",
    "人民币57081.86元。",
    "会议讨论了预算。",
    "他们同意延期",
    "三个",
    "不是厦门大学",
]
TREC = ["Location", "Other location", "Date", "Other", "Abbreviation", "Expression abbreviated"]
LSHT = ["体育", "财经", "体育新闻", "娱乐", "科技"]
CODE = ["return x + 1", "    self.assertEqual(a, b)", "for i in range(10):", "}", "int n = 0;"]


def _record(task: str, rng: random.Random, length: int) -> dict:
    def pick(pool, k=3):
        return " ".join(rng.choice(pool) for _ in range(rng.randint(0, k)))

    all_classes = None
    if task in ("trec", "lsht"):
        all_classes = TREC if task == "trec" else LSHT
        answers = [rng.choice(all_classes)]
        pred = "\n" * rng.randint(0, 2) + pick(all_classes, 2) + "\n" + pick(all_classes, 2)
    elif task == "passage_retrieval_en":
        answers = [f"Paragraph {rng.randint(1, 30)}"]
        pred = rng.choice([answers[0], f"Paragraph {rng.randint(1, 30)}", "1 and 2", "none", ""])
    elif task == "passage_retrieval_zh":
        answers = [f"段落{rng.randint(1, 30)}"]
        pred = rng.choice([answers[0], f"段落{rng.randint(1, 30)}", "答案是段落3和段落4", ""])
    elif task == "passage_count":
        answers = [str(rng.randint(1, 30))]
        pred = rng.choice([answers[0], f"{answers[0]} or {rng.randint(1, 30)}", "many"])
    elif task in ("lcc", "repobench-p"):
        answers = [rng.choice(CODE)]
        pred = rng.choice(["", "```python\n", "# next\n", "\n"]) + rng.choice(CODE) + "\n}"
    elif task in ("multifieldqa_zh", "dureader", "vcsum"):
        answers = [pick(ZH, 2) or "北京" for _ in range(rng.randint(1, 2))]
        pred = pick(ZH, 3)
    else:
        answers = [pick(EN, 3) or "Paris" for _ in range(rng.randint(1, 3))]
        pred = ("\n" if rng.random() < 0.2 else "") + pick(EN, 4) + "\n" + pick(EN, 2)
    return {"pred": pred, "answers": answers, "all_classes": all_classes, "length": length}


@pytest.fixture(scope="module")
def pred_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pred")
    rng = random.Random(17)
    for task in LONGBENCH:
        # passage_count has no 8k+ example here: LongBench-E's empty bucket is NaN
        top = 7999 if task == "passage_count" else 20000
        recs = [_record(task, rng, rng.randint(50, top)) for _ in range(40)]
        (d / f"{task}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8"
        )
    return d


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("e", [False, True])
def test_score_folder_reproduces_longbench_result_json(pred_dir: Path, e: bool, capsys) -> None:
    expected = ref.eval_folder(pred_dir, e=e)
    assert len(expected) == 21
    argv = ["score", str(pred_dir), "--write", *(["--e"] if e else [])]
    assert main(argv) == 0
    capsys.readouterr()
    ours = json.loads((pred_dir / "result.json").read_text(encoding="utf-8"))
    (pred_dir / "result.json").unlink()
    assert _same(ours, expected), {
        k: (ours[k], expected[k]) for k in ours if ours[k] != expected[k]
    }
    if e:
        assert math.isnan(ours["passage_count"]["8k+"])
    scores = [v for v in ours.values()] if not e else [x for v in ours.values() for x in v.values()]
    assert len({s for s in scores if not math.isnan(s)}) > 15  # not degenerate


@pytest.mark.parametrize("model", ["internlm", "internlm2"])
def test_real_predictions_plain_and_by_length(model: str, capsys) -> None:
    d = data_path("tinyeval", "pred", model)
    for e in (False, True):
        expected = {k: v for k, v in ref.eval_folder(d, e=e).items() if k in LONGBENCH}
        assert main(["score", str(d), *(["--e"] if e else [])]) == 0
        ours = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert _same({k: ours[k] for k in expected}, expected)


# ---- running: LongBench's prompt, chat or raw, on LongBench's data layout ----------------


def test_run_builds_longbench_prompts_from_the_fetch_layout(tmp_path) -> None:
    rng = random.Random(0)
    for name in LONGBENCH:
        rows = []
        for i in range(2):
            rec = _record(name, rng, 100 + i)
            rows.append({"input": f"question {i} {{x}}", "context": f"ctx {i} " + "词" * 30,
                         "answers": rec["answers"], "length": rec["length"], "dataset": name,
                         "language": "en", "all_classes": rec["all_classes"], "_id": f"id{i}"})  # fmt: skip
        path = tmp_path / "data" / "longbench" / f"{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        m = ScriptedModel(context_length=100_000)
        out = run_task(
            m, load_task(name), tmp_path / "out", data_dir=tmp_path / "data", progress=False
        )
        assert out["n"] == 2
        assert m.prompts == [PROMPTS[name].format(**r) for r in rows]  # LongBench's str.format
        assert m.calls == [("complete" if name in NO_CHAT else "chat_batch", 2)]
        recs = [
            json.loads(x) for x in (tmp_path / "out" / f"{name}.jsonl").read_text().splitlines()
        ]
        assert [r["_id"] for r in recs] == ["id0", "id1"]
        assert [r["all_classes"] for r in recs] == [r["all_classes"] for r in rows]


def test_longbench_e_run_writes_bucket_scores(tmp_path) -> None:
    rows = [{"input": "q", "context": "c", "answers": ["Paris"], "length": n, "all_classes": None}
            for n in (10, 5000, 9000, 12000)]  # fmt: skip
    path = tmp_path / "longbench" / "hotpotqa_e.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    task = load_task("hotpotqa_e")
    assert len(load_examples(task, tmp_path)) == 4
    run_task(ScriptedModel(), task, tmp_path / "out", data_dir=tmp_path, progress=False)
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert set(result["hotpotqa_e"]) == {"0-4k", "4-8k", "8k+"}
