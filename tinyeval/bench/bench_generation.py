"""Batched local generation vs one-by-one, through the runner, on tinyqwen's ``tiny-random``.

    python bench/bench_generation.py

tiny-random has random weights (gibberish output): this measures the plumbing — the same 16 demo
QA prompts, greedy, 16 new tokens — with ``batch_size`` 1 vs 8, and checks the predictions match.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import tinyqwen
from tinyeval.runner import run_task
from tinyeval.task import Task

DATA = Path(__file__).resolve().parents[1] / "tinyeval" / "data"


def main() -> None:
    model = tinyqwen.connect("tiny-random")
    print("note: tiny-random has random weights; outputs are gibberish, only speed is measured\n")
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name in ("demo_qa_zh.jsonl", "demo_qa_en.jsonl"):
            rows += (DATA / name).read_text(encoding="utf-8").splitlines()
        (Path(tmp) / "qa.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        task = Task(
            name="bench_qa",
            type="generate",
            data={"path": "qa.jsonl", "format": "longbench"},
            prompt="{context}\n问题/Question: {input}\n回答/Answer:",
            max_new_tokens=16,
            metric="qa_f1",
        )
        run_task(
            model, task, Path(tmp) / "warm", data_dir=tmp, batch_size=8, progress=False, limit=8
        )
        results = {}
        for bs in (1, 8):
            out = Path(tmp) / f"bs{bs}"
            t = time.perf_counter()
            run_task(model, task, out, data_dir=tmp, batch_size=bs, progress=False)
            results[bs] = time.perf_counter() - t
            preds = [
                json.loads(x)["pred"] for x in (out / "bench_qa.jsonl").read_text().splitlines()
            ]
            results[f"preds{bs}"] = preds
    same = sum(a == b for a, b in zip(results["preds1"], results["preds8"]))
    n = len(results["preds1"])
    print("| mode | prompts | seconds | prompts/s | speed-up vs one-by-one |")
    print("|---|---|---|---|---|")
    print(f"| one-by-one (batch 1) | {n} | {results[1]:.2f} | {n / results[1]:.2f} | 1.00x |")
    print(
        f"| batched (batch 8) | {n} | {results[8]:.2f} | {n / results[8]:.2f} | {results[1] / results[8]:.2f}x |"
    )
    print(f"\nidentical predictions batch 1 vs 8: {same}/{n}")


if __name__ == "__main__":
    main()
