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
strict-match (main) and flexible-extract; the ``universe`` metric adds tiny-universe's headline
rates and a per-subtask table (``metrics/universe.py``); perplexity files carry ``loglik`` and ``n_tokens``.

Limits: LongBench reads ``all_classes`` from the *last* record of a file and uses it for every
record; we use each record's own ``all_classes`` (identical in all LongBench files).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyeval.longbench import length_bucket_scores
from tinyeval.metrics.gsm8k import gsm8k_scores
from tinyeval.metrics.perplexity import perplexity
from tinyeval.metrics.resolve import Metric, resolve_metric
from tinyeval.metrics.universe import universe_checks, universe_summary
from tinyeval.subjects import by_category, by_subject
from tinyeval.task import Task

# LongBench eval.py: these datasets are scored on the first line of the prediction.
FIRST_LINE_TASKS = frozenset({"trec", "triviaqa", "samsum", "lsht"})


def read_prediction_lines(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, record) of a jsonl prediction file; a torn last line (killed writer) is
    ignored, any other bad line is an error naming the file and line."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    records = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if lineno == len(lines):  # no trailing newline: an interrupted write
                break
            raise ValueError(f"{path}:{lineno}: invalid JSON line: {e}") from e
        if not isinstance(rec, dict):
            raise ValueError(f"{path}:{lineno}: a prediction must be a JSON object")
        records.append((lineno, rec))
    return records


def read_predictions(path: str | Path) -> list[dict]:
    """Records of a jsonl prediction file (see ``read_prediction_lines``)."""
    return [rec for _, rec in read_prediction_lines(path)]


def dedupe_by_idx(lines: Sequence[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Keep the first record of every example ``idx`` (records without ``idx`` are all kept)."""
    seen: set = set()
    out = []
    for lineno, rec in lines:
        key = rec.get("idx")
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append((lineno, rec))
    return out


def _answers(record: dict, where: str, as_list: bool = True) -> list:
    if "answers" not in record:
        raise ValueError(f"{where}: record has no 'answers' field")
    ans = record["answers"]
    if isinstance(ans, list):
        return ans
    if as_list:
        raise ValueError(f"{where}: 'answers' must be a list of gold answers, got {ans!r:.60}")
    return [ans]


def _pred(record: dict, where: str) -> str:
    if "pred" not in record:
        raise ValueError(f"{where}: record has no 'pred' field")
    if not isinstance(record["pred"], str):
        raise ValueError(
            f"{where}: 'pred' must be a string, got {type(record['pred']).__name__} "
            f"{record['pred']!r:.40}"
        )
    return record["pred"]


def _metric(metric: str | Metric) -> Metric:
    return metric if isinstance(metric, Metric) else resolve_metric(metric)


def example_score(
    metric: str | Metric,
    prediction: str,
    answers: Sequence[Any],
    all_classes: Any = None,
    first_line: bool = False,
    example: dict | None = None,
) -> float:
    """LongBench per-example score: optional first line, then max over gold answers."""
    m = _metric(metric)
    if first_line:
        prediction = prediction.lstrip("\n").split("\n")[0]
    score = 0.0
    for gold in answers:
        score = max(score, m.example(prediction, gold, all_classes=all_classes, example=example))
    return score


def _where(where: str, i: int, lines: Sequence[int] | None) -> str:
    return f"{where}:{lines[i]}" if lines else f"{where}: record {i}"


def score_records(
    metric: str | Metric,
    records: Sequence[dict],
    first_line: bool = False,
    where: str = "<records>",
    as_list: bool = True,
    lines: Sequence[int] | None = None,
) -> dict[str, Any]:
    """{"score": LongBench task score, "per_example": [...], "n": N} for generated-text records.

    ``as_list``: gold ``answers`` must be a JSON list (LongBench); False accepts one string
    (the seed's GAOKAO files). ``lines``: line numbers of ``records`` in ``where`` (for errors).
    """
    m = _metric(metric)
    if not records:
        raise ValueError(f"{where}: no predictions to score")
    preds = [_pred(rec, _where(where, i, lines)) for i, rec in enumerate(records)]
    golds = [_answers(rec, _where(where, i, lines), as_list) for i, rec in enumerate(records)]
    if m.name == "gsm8k":
        return _score_gsm8k(preds, golds)
    if m.name == "universe":
        return _score_universe(preds, records, where, lines)
    if first_line:
        preds = [p.lstrip("\n").split("\n")[0] for p in preds]
    if m.corpus:
        return {
            "score": round(m.corpus_score(preds, golds), 2),
            "per_example": None,
            "n": len(preds),
        }
    per_example = []
    total = 0.0
    for i, rec in enumerate(records):
        try:
            s = example_score(m, preds[i], golds[i], rec.get("all_classes"), example=rec)
        except ValueError as e:
            raise ValueError(f"{_where(where, i, lines)}: {e}") from e
        per_example.append(s)
        total += s
    return {
        "score": round(100 * total / len(records), 2),
        "per_example": per_example,
        "n": len(records),
    }


def _score_gsm8k(preds: Sequence[str], golds: Sequence[list]) -> dict[str, Any]:
    strict, flexible = [], []
    for pred, gold in zip(preds, golds):
        s = gsm8k_scores(pred, gold[0])
        strict.append(s["strict-match"])
        flexible.append(s["flexible-extract"])
    n = len(preds)
    return {
        "score": round(100 * sum(strict) / n, 2),
        "per_example": strict,
        "n": n,
        "metrics": {
            "strict-match": round(100 * sum(strict) / n, 2),
            "flexible-extract": round(100 * sum(flexible) / n, 2),
        },
    }


def _score_universe(
    preds: Sequence[str], records: Sequence[dict], where: str, lines: Sequence[int] | None
) -> dict[str, Any]:
    """tiny-universe: correct per example, plus the headline rates and the per-subtask table."""
    checks = []
    for i, (pred, rec) in enumerate(zip(preds, records)):
        try:
            checks.append({"subtask": rec.get("subtask"), **universe_checks(pred, rec)})
        except ValueError as e:
            raise ValueError(f"{_where(where, i, lines)}: {e}") from e
    per_example = [float(c["correct"]) for c in checks]
    return {
        "score": round(100 * sum(per_example) / len(checks), 2),
        "per_example": per_example,
        "n": len(checks),
        "metrics": universe_summary(checks),
    }


def _score_choice(records: Sequence[dict], where: str, task_name: str = "") -> dict[str, Any]:
    """acc / acc_norm; per subject and per category when records carry ``subject``; ``score`` is
    None for a split without answers (``acc`` null), e.g. C-Eval test (see ``export``)."""
    for i, rec in enumerate(records):
        if "acc" not in rec:
            raise ValueError(
                f"{where}: multiple-choice record {i} has no 'acc' (write it with `run`)"
            )
    n = len(records)
    if all(rec["acc"] is None for rec in records):
        return {"score": None, "per_example": None, "n": n, "metrics": {"unlabeled": n}}
    acc = [float(rec["acc"]) for rec in records]
    acc_norm = [float(rec.get("acc_norm", rec["acc"])) for rec in records]
    result: dict[str, Any] = {
        "score": round(100 * sum(acc) / n, 2),
        "per_example": acc,
        "n": n,
        "metrics": {
            "acc": round(100 * sum(acc) / n, 2),
            "acc_norm": round(100 * sum(acc_norm) / n, 2),
        },
    }
    if records and all("subject" in rec for rec in records):
        subjects = by_subject(records)
        cats = by_category(task_name, subjects)
        if cats:
            result["metrics"]["categories"] = {c: round(r["acc"], 2) for c, r in cats.items()}
        result["by_subject"] = subjects
    return result


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
    task: Task,
    records: Sequence[dict],
    where: str,
    metric: str | None = None,
    lines: Sequence[int] | None = None,
    length_buckets: bool = False,
) -> dict[str, Any]:
    """Score records of ``task`` (metric override allowed for generate tasks); LongBench-E tasks
    (or ``length_buckets``) add ``metrics`` = scores per length bucket."""
    if task.type == "multiple_choice":
        return _score_choice(records, where, task.name)
    if task.type == "perplexity":
        return _score_perplexity(records, where)
    first_line = task.first_line or task.name in FIRST_LINE_TASKS
    result = score_records(
        task.resolved_metric(metric),
        records,
        first_line=first_line,
        where=where,
        as_list=task.answer_type == "list",
        lines=lines,
    )
    if (task.length_buckets or length_buckets) and result["per_example"] is not None:
        lengths = [r.get("length") for r in records]
        result["metrics"] = length_bucket_scores(result["per_example"], lengths)
    return result


def score_file(
    task: Task, path: str | Path, metric: str | None = None, length_buckets: bool = False
) -> dict[str, Any]:
    """Read, dedupe (by ``idx``) and score one prediction file; errors name the file and line."""
    lines = dedupe_by_idx(read_prediction_lines(path))
    records = [r for _, r in lines]
    return score_task_records(
        task, records, str(path), metric, [n for n, _ in lines], length_buckets
    )
