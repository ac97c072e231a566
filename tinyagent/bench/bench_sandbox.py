"""Per-call overhead of the python tool: the old subprocess path vs the bubblewrap sandbox.

    python bench/bench_sandbox.py [--runs 30]

Each row runs ``print(sum(range(1000)))`` end to end (start, run, collect output, clean up), the
variants interleaved so a busy machine slows them alike; p50/p95 in milliseconds. Rows:

- ``bare python -c``: ``subprocess.run([python, -I, -c, code])``, the floor;
- ``old path``: what the tool did before (``unshare --net --pid --fork --mount-proc`` when it works
  here, rlimits in ``preexec_fn``, the interpreter with site-packages), i.e. ``allow_unsafe``'s
  subprocess plus the old namespaces;
- ``unsafe (allow_unsafe)``: today's opt-in fallback, no isolation;
- ``bwrap sandbox``: today's default (probe cached, as in a long-running agent);
- ``bwrap + numpy import``: the same with ``import numpy`` in the code.

The target is p50 < 300 ms for the sandbox. Absolute numbers depend on the machine and its load;
the ratios are the robust part.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import shutil
import statistics
import subprocess
import sys
import time

from tinyagent.tools.python_exec import (
    SandboxLimits,
    _limit,
    _run_unsafe,
    run_python,
    sandbox_layers,
)

CODE = "print(sum(range(1000)))"


def old_path_command() -> list[str]:
    """The pre-bubblewrap tool's command: ``unshare`` namespaces (when they work here) + python."""
    unshare = shutil.which("unshare")
    prefix = (
        [unshare, "--net", "--pid", "--fork", "--mount-proc", "--kill-child"] if unshare else []
    )
    if prefix and subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        prefix = []
    return [*prefix, sys.executable, "-I", "-B", "-c", CODE]


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s) * 1e3, s[min(len(s) - 1, round(0.95 * (len(s) - 1)))] * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    args = p.parse_args()
    limits = SandboxLimits()
    layers = sandbox_layers()
    old = old_path_command()
    variants = {
        "bare python -c": lambda: subprocess.run(
            [sys.executable, "-I", "-c", CODE], capture_output=True, check=True
        ),
        "old path (unshare + rlimits)": lambda: subprocess.run(
            old,
            capture_output=True,
            check=True,
            preexec_fn=functools.partial(_limit, limits, True, None),
        ),
        "unsafe (allow_unsafe)": lambda: _run_unsafe(CODE, limits, None),
    }
    if layers["sandbox"]:
        variants["bwrap sandbox"] = lambda: run_python(CODE, limits)
        variants["bwrap + numpy import"] = lambda: run_python("import numpy\n" + CODE, limits)
    times: dict[str, list[float]] = {k: [] for k in variants}
    with contextlib.redirect_stderr(io.StringIO()):  # the unsafe path warns on every call
        for fn in variants.values():
            fn()  # warm-up (and the sandbox probe)
        for _ in range(args.runs):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    base = percentiles(times["bare python -c"])[0]
    print(f"per-call overhead, {args.runs} runs each, interleaved\n")
    print("| variant | p50 (ms) | p95 (ms) | p50 / bare |\n|---|---|---|---|")
    for name, samples in times.items():
        p50, p95 = percentiles(samples)
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {p50 / base:.2f}x |")
    print(f"\nold path here: {' '.join(old[:-2])} ...")
    if not layers["sandbox"]:
        print(f"no bwrap sandbox here: {layers['reason']}")


if __name__ == "__main__":
    main()
