"""Score prediction files: LongBench's loop for generated text, acc/acc_norm, perplexity.

A prediction file is the seed's / LongBench's ``pred/MODEL/TASK.jsonl``: one JSON object per line
with ``pred``, ``answers`` (list, or a string for GAOKAO), ``all_classes``, ``length``. The task is
the file name, so ``pred/internlm/trec.jsonl`` is scored with the ``trec`` config's metric.

For generated text the loop is LongBench ``eval.py``'s ``scorer``:

* for trec / triviaqa / samsum / lsht (``first_line`` in the config): keep only the first line
  of the prediction after stripping leading newlines;
* score = max over the gold answers of ``metric(pred, gold, all_classes=...)``;
* task score = ``round(100 · Σ scores / N, 2)`` (summed in file order, as LongBench does).

    >>> recs = [{"pred": "Paris", "answers": ["Paris", "paris, France"], "all_classes": None}]
    >>> score_records("qa_f1", recs)["score"]
    100.0

Multiple-choice files (written by ``run``) carry ``acc``/``acc_norm`` per record; GSM8K reports
strict-match (main) and flexible-extract; perplexity files carry ``loglik`` and ``n_tokens``.

Limits: LongBench reads ``all_classes`` from the *last* record of a file and uses it for every
record; we use each record's own ``all_classes`` (identical in all LongBench files).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyeval.metrics import METRICS
from tinyeval.metrics.gsm8k import gsm8k_scores
from tinyeval.metrics.perplexity import perplexity
from tinyeval.task import Task

# LongBench eval.py: these datasets are scored on the first line of the prediction.
FIRST_LINE_TASKS = frozenset({"trec", "triviaqa", "samsum", "lsht"})


def read_predictions(path: str | Path) -> list[dict]:
    """Records of a jsonl prediction file; a torn last line (killed writer) is ignored."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    records = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if lineno == len(lines):  # no trailing newline: an interrupted write
                break
            raise ValueError(f"{path}:{lineno}: invalid JSON line: {e}") from e
    return records


def _answers(record: dict, where: str) -> list:
    if "answers" not in record:
        raise ValueError(f"{where}: record has no 'answers' field")
    ans = record["answers"]
    return ans if isinstance(ans, list) else [ans]


def example_score(
    metric: str,
    prediction: str,
    answers: Sequence[Any],
    all_classes: Any = None,
    first_line: bool = False,
) -> float:
    """LongBench per-example score: optional first line, then max over gold answers."""
    fn = METRICS[metric]
    if first_line:
        prediction = prediction.lstrip("\n").split("\n")[0]
    score = 0.0
    for gold in answers:
        score = max(score, fn(prediction, gold, all_classes=all_classes))
    return score


def score_records(
    metric: str, records: Sequence[dict], first_line: bool = False, where: str = "<records>"
) -> dict[str, Any]:
    """{"score": LongBench task score, "per_example": [...], "n": N} for generated-text records."""
    if metric == "gsm8k":
        return _score_gsm8k(records, where)
    if metric not in METRICS:
        raise ValueError(f"{where}: unknown metric {metric!r}; known: {sorted(METRICS)} + gsm8k")
    if not records:
        raise ValueError(f"{where}: no predictions to score")
    per_example = []
    total = 0.0
    for i, rec in enumerate(records):
        if "pred" not in rec:
            raise ValueError(f"{where}: record {i} has no 'pred' field")
        s = example_score(
            metric,
            rec["pred"],
            _answers(rec, f"{where}: record {i}"),
            rec.get("all_classes"),
            first_line,
        )
        per_example.append(s)
        total += s
    return {
        "score": round(100 * total / len(records), 2),
        "per_example": per_example,
        "n": len(records),
    }


def _score_gsm8k(records: Sequence[dict], where: str) -> dict[str, Any]:
    strict, flexible = [], []
    for i, rec in enumerate(records):
        gold = _answers(rec, f"{where}: record {i}")[0]
        s = gsm8k_scores(rec["pred"], gold)
        strict.append(s["strict-match"])
        flexible.append(s["flexible-extract"])
    n = len(records)
    return {
        "score": round(100 * sum(strict) / n, 2),
        "per_example": strict,
        "n": n,
        "metrics": {
            "strict-match": round(100 * sum(strict) / n, 2),
            "flexible-extract": round(100 * sum(flexible) / n, 2),
        },
    }


def _score_choice(records: Sequence[dict], where: str) -> dict[str, Any]:
    acc, acc_norm = [], []
    for i, rec in enumerate(records):
        if "acc" not in rec:
            raise ValueError(
                f"{where}: multiple-choice record {i} has no 'acc' (write it with `run`)"
            )
        acc.append(float(rec["acc"]))
        acc_norm.append(float(rec.get("acc_norm", rec["acc"])))
    n = len(records)
    return {
        "score": round(100 * sum(acc) / n, 2),
        "per_example": acc,
        "n": n,
        "metrics": {
            "acc": round(100 * sum(acc) / n, 2),
            "acc_norm": round(100 * sum(acc_norm) / n, 2),
        },
    }


def _score_perplexity(records: Sequence[dict], where: str) -> dict[str, Any]:
    lls = [float(r["loglik"]) for r in records]
    ns = [int(r["n_tokens"]) for r in records]
    per_doc = [math.exp(-ll / n) for ll, n in zip(lls, ns)]
    ppl = perplexity(lls, ns)
    return {
        "score": round(ppl, 4),
        "per_example": per_doc,
        "n": len(records),
        "metrics": {"perplexity": ppl},
    }


def score_task_records(
    task: Task, records: Sequence[dict], where: str, metric: str | None = None
) -> dict[str, Any]:
    """Score records of ``task`` (metric override allowed for generate tasks)."""
    if task.type == "multiple_choice":
        return _score_choice(records, where)
    if task.type == "perplexity":
        return _score_perplexity(records, where)
    first_line = task.first_line or task.name in FIRST_LINE_TASKS
    return score_records(metric or task.metric, records, first_line=first_line, where=where)
