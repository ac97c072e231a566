"""Cost of tinyagent's safety and robustness, side by side with the unsafe/strict baselines.

    python bench/bench_tools.py

| what | tinyagent | peer | ratio |: the python sandbox vs a bare ``subprocess.run([python, -c])``;
the AST calculator vs ``eval`` with no builtins; ``loads_lenient`` vs ``json.loads`` on clean JSON;
and the BFCL checker's throughput on ACEBench (ground truth as predictions, when the data exists).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tinyagent.parsing import loads_lenient
from tinyagent.tools.calculator import evaluate
from tinyagent.tools.python_exec import run_python, sandbox_layers
from tinyqwen.data_cache import data_dir, shared_dev_data

# the developers' copy (../shared/data) if present, else the data cache (python -m tinyagent data fetch acebench)
DATA = (shared_dev_data(Path(__file__).resolve().parents[2]) or data_dir()) / "acebench_zh"


def timeit(fn, repeat: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def main() -> None:
    rows = []
    code = "print(sum(range(1000)))"
    sandbox = timeit(lambda: run_python(code), 10)
    bare = timeit(
        lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, check=True), 10
    )
    rows.append(("python tool round trip (ms)", sandbox * 1e3, "bare subprocess", bare * 1e3))

    expr = "2 * (3 + 4) ** 2 - 17 / 5 + 2 ** 10"
    calc = timeit(lambda: evaluate(expr), 2000)
    ev = timeit(lambda: eval(expr, {"__builtins__": {}}), 2000)  # noqa: S307 (the unsafe peer)
    rows.append(("calculator, one expression (us)", calc * 1e6, "eval", ev * 1e6))

    clean = json.dumps({"name": "lookup", "arguments": {"city": "北京", "days": [1, 2, 3]}})
    lenient = timeit(lambda: loads_lenient(clean), 5000)
    strict = timeit(lambda: json.loads(clean), 5000)
    rows.append(("parse clean JSON (us)", lenient * 1e6, "json.loads", strict * 1e6))
    messy = "Sure:\n```json\n{'name': 'lookup', 'arguments': {'city': '北京', 'days': [1, 2, 3,],},}\n```"
    rows.append(
        (
            "parse messy JSON (us)",
            timeit(lambda: loads_lenient(messy), 2000) * 1e6,
            "json.loads",
            float("nan"),
        )
    )

    print("| what | tinyagent | peer | peer value | ratio |\n|---|---|---|---|---|")
    for what, ours, peer, theirs in rows:
        ok = theirs == theirs  # NaN: the peer cannot do it at all
        peer_text, ratio = (f"{theirs:.1f}", f"{ours / theirs:.2f}x") if ok else ("fails", "n/a")
        print(f"| {what} | {ours:.1f} | {peer} | {peer_text} | {ratio} |")

    if (DATA / "possible_answer").is_dir():
        from tinyagent.acebench import CATEGORIES, ground_truth_calls, load_examples, score_calls

        examples = [e for c in CATEGORIES for e in load_examples(DATA, c)]
        preds = [ground_truth_calls(e) for e in examples]
        t0 = time.perf_counter()
        valid = sum(score_calls(e, p).valid for e, p in zip(examples, preds))
        dt = time.perf_counter() - t0
        print(
            f"\nBFCL checker: {len(examples)} ACEBench examples in {dt * 1e3:.0f} ms "
            f"({len(examples) / dt:,.0f}/s), ground truth valid: {valid}/{len(examples)}"
        )
    print(f"\nsandbox layers here: {sandbox_layers()}")


if __name__ == "__main__":
    main()
