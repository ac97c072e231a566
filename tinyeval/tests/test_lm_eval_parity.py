"""lm-evaluation-harness parity for multiple choice by log-likelihood: on the same tiny random
checkpoint (saved by transformers) and the same local CSV files, every per-choice log-likelihood
equals lm-eval's (HFLM + a task YAML reading those files, tolerance 1e-4 in fp32), every
context string is identical, and per-example acc / acc_norm and the task means are equal — for
an MMLU-style prompt (English, 5-shot, integer answers) and a C-Eval-style prompt (Chinese,
5-shot, letter answers).

Skipped when lm_eval is not installed (it is a test dependency: pip install 'tinyeval[test]').
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tinyeval.runner import run_task  # noqa: E402
from tinyeval.task import Task, load_examples, load_task  # noqa: E402

TOL = 1e-4
WORDS = (
    "group ring field order element prime cycle subgroup 群 环 域 阶 元素 素数 循环 子群".split()
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from tinyqwen.tiny_random import load_tiny_random

    path = tmp_path_factory.mktemp("ckpt")
    tok = load_tiny_random().tokenizer
    config = transformers.Qwen2Config(
        vocab_size=tok.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        tie_word_embeddings=True, initializer_range=0.2, eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.Qwen2ForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _rows(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) + "?"
        choices = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))) for _ in range(4)]
        ans = rng.randrange(4)
        rows.append({"id": str(i), "question": q, "choices": choices, "answer": ans})
    return rows


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _data(root: Path) -> None:
    rng = random.Random(0)
    for split, n in (("test", 12), ("dev", 5)):
        rows = _rows(rng, n)
        _write_csv(root / "mmlu" / split / f"abstract_algebra_{split}.csv",
                   ["question", "choice0", "choice1", "choice2", "choice3", "answer"],
                   [[r["question"], *r["choices"], r["answer"]] for r in rows])  # fmt: skip
    for split, n in (("val", 12), ("dev", 5)):
        rows = _rows(rng, n)
        _write_csv(root / "ceval" / split / f"college_physics_{split}.csv",
                   ["id", "question", "A", "B", "C", "D", "answer"],
                   [[r["id"], r["question"], *r["choices"], "ABCD"[r["answer"]]] for r in rows])  # fmt: skip
    mapping = {"college_physics": ["College Physics", "大学物理", "STEM"]}
    (root / "ceval" / "subject_mapping.json").write_text(json.dumps(mapping), encoding="utf-8")


def _yaml(root: Path, name: str) -> str:
    """An lm-eval task reading the same files with the same prompt as tinyeval's config."""
    choices: object = ["A", "B", "C", "D"]
    if name == "mmlu_text":  # score each choice's text: acc_norm differs from acc
        choices = "{{[choice0, choice1, choice2, choice3]}}"
    if name.startswith("mmlu"):
        files = {"test": root / "mmlu/test/abstract_algebra_test.csv",
                 "dev": root / "mmlu/dev/abstract_algebra_dev.csv"}  # fmt: skip
        description = (
            "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        )
        text = (
            "{{question}}\nA. {{choice0}}\nB. {{choice1}}\nC. {{choice2}}\nD. {{choice3}}\nAnswer:"
        )
        target = "{{answer}}"
    else:
        files = {"test": root / "ceval/val/college_physics_val.csv",
                 "dev": root / "ceval/dev/college_physics_dev.csv"}  # fmt: skip
        description = "以下是中国关于大学物理考试的单项选择题，请选出其中的正确答案。\n\n"
        text = "{{question}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n答案："
        target = "{{['A', 'B', 'C', 'D'].index(answer)}}"
    cfg = {
        "task": f"tinyeval_parity_{name}",
        "dataset_path": "csv",
        "dataset_kwargs": {"data_files": {k: str(v) for k, v in files.items()}},
        "test_split": "test",
        "fewshot_split": "dev",
        "fewshot_config": {"sampler": "first_n"},
        "num_fewshot": 5,
        "output_type": "multiple_choice",
        "description": description,
        "doc_to_text": text,
        "doc_to_choice": choices,
        "doc_to_target": target,
        "target_delimiter": " ",
        "fewshot_delimiter": "\n\n",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                        {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}],
    }  # fmt: skip
    return json.dumps(cfg, ensure_ascii=False)  # JSON is YAML


@pytest.mark.parametrize("name", ["mmlu", "ceval", "mmlu_text"])
def test_loglikelihoods_and_acc_equal_lm_eval(checkpoint, tmp_path, name, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    import tinyqwen

    data = tmp_path / "data"
    _data(data)
    # ours: the shipped task config, the local files, our model in fp32
    if name == "mmlu_text":
        cfg = json.loads((Path(load_task("mmlu").base_dir) / "mmlu.json").read_text("utf-8"))
        task = Task.from_dict({**cfg, "name": "mmlu_text", "continuation": "text"})
    else:
        task = load_task(name)
    examples = load_examples(task, data)
    llm = tinyqwen.LLM.from_pretrained(checkpoint, dtype=torch.float32, device="cpu")
    out = run_task(llm, task, tmp_path / "ours", data_dir=data, batch_size=4, progress=False)
    ours = [json.loads(x) for x in (tmp_path / "ours" / f"{name}.jsonl").read_text().splitlines()]

    # lm-eval: HFLM on the transformers model from the same directory, a YAML task on the files
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / f"parity_{name}.yaml").write_text(_yaml(data, name), encoding="utf-8")
    hf = transformers.AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(checkpoint)
    lm = HFLM(pretrained=hf, tokenizer=tok, batch_size=1, device="cpu")
    res = simple_evaluate(
        model=lm,
        tasks=[f"tinyeval_parity_{name}"],
        task_manager=TaskManager(include_path=str(tmp_path / "tasks")),
        log_samples=True,
        random_seed=0,
    )
    if name == "mmlu_text":  # the case that tells acc_norm from acc
        assert any(s["acc"] != s["acc_norm"] for s in res["samples"][f"tinyeval_parity_{name}"])
    samples = sorted(res["samples"][f"tinyeval_parity_{name}"], key=lambda s: s["doc_id"])
    assert len(samples) == len(ours) == len(examples) == 12
    worst = 0.0
    for ex, rec, s in zip(examples, ours, samples):
        assert s["arguments"][0][0] == ex["prompt"]  # the same 5-shot context, byte for byte
        want = [" " + c for c in ex["choices"]] if name == "mmlu_text" else [" A", " B", " C", " D"]
        assert [a[1] for a in s["arguments"]] == want
        theirs = [r[0][0] for r in s["resps"]]
        worst = max(worst, max(abs(a - b) for a, b in zip(rec["logliks"], theirs)))
        assert rec["acc"] == s["acc"] and rec["acc_norm"] == s["acc_norm"]
    assert worst <= TOL, worst
    metrics = res["results"][f"tinyeval_parity_{name}"]
    assert out["metrics"]["acc"] == round(100 * metrics["acc,none"], 2)
    assert out["metrics"]["acc_norm"] == round(100 * metrics["acc_norm,none"], 2)
    print(f"{name}: max |loglik ours - lm-eval| = {worst:.2e}; acc {out['metrics']['acc']}, "
          f"acc_norm {out['metrics']['acc_norm']} (both equal lm-eval's)")  # fmt: skip
