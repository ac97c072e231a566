"""LongBench and LongBench-E: the 21 tasks, their data layout, and LongBench-E's length buckets.

Every task is a config in ``tinyeval/tasks/`` with LongBench's own prompt
(``config/dataset2prompt.json``), generation length (``dataset2maxlen.json``), metric
(``eval.py``'s ``dataset2metric``) and post-processing: the first line of the prediction for
trec / triviaqa / samsum / lsht (``"first_line": true``), ``all_classes`` from each record for
trec / lsht, and no chat template for trec / triviaqa / samsum / lsht / lcc / repobench-p
(``"chat": false``, as LongBench's ``pred.py``). LongBench-E tasks are ``NAME_e``.

Data layout (what ``python -m tinyeval data fetch longbench`` writes, and what the configs read,
under the data directory)::

    longbench/{task}.jsonl      # 21 files, LongBench data.zip's data/{task}.jsonl, rows unchanged
    longbench/{task}_e.jsonl    # 13 LongBench-E files

one JSON object per line with LongBench's fields: ``input`` (str), ``context`` (str),
``answers`` (list of str), ``length`` (int: words, or characters for Chinese), ``dataset``,
``language``, ``all_classes`` (list of str or null), ``_id``. multi_news / multifieldqa_zh / trec
fall back to the seed TinyEval copies ``tinyeval/dataset/{task}.jsonl``.

Scoring a prediction folder reproduces LongBench's ``eval.py``: ``python -m tinyeval score
pred/MODEL`` gives ``result.json`` per task, ``--longbench-e`` (LongBench's ``--e``) gives
``{"0-4k": s, "4-8k": s, "8k+": s}`` per task, where a record goes to a bucket by its ``length``
(< 4000, < 8000, else) and each bucket scores ``round(100 · mean, 2)``. An empty bucket is
``NaN`` (numpy's mean of nothing), written as ``NaN`` in result.json exactly as LongBench's
``json.dump`` does.

    >>> length_bucket_scores([1.0, 0.0, 0.5], [100, 5000, 9000])
    {'0-4k': 100.0, '4-8k': 0.0, '8k+': 50.0}
    >>> length_bucket_scores([1.0], [100])["8k+"]
    nan

Limits: generation follows LongBench's pred.py except samsum's ``min_length`` / ``"\\n"``-as-eos
trick (the first-line cut makes scores equal unless the model's first token is a newline).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LONGBENCH = (
    "narrativeqa", "qasper", "multifieldqa_en", "multifieldqa_zh", "hotpotqa", "2wikimqa",
    "musique", "dureader", "gov_report", "qmsum", "multi_news", "vcsum", "trec", "triviaqa",
    "samsum", "lsht", "passage_count", "passage_retrieval_en", "passage_retrieval_zh", "lcc",
    "repobench-p",
)  # fmt: skip
LONGBENCH_E = (
    "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "gov_report", "multi_news", "trec",
    "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc", "repobench-p",
)  # fmt: skip
BUCKETS = (("0-4k", 4000), ("4-8k", 8000), ("8k+", float("inf")))


def length_bucket_scores(per_example: Sequence[float], lengths: Sequence[int]) -> dict[str, float]:
    """LongBench ``scorer_e``: ``round(100 · mean, 2)`` per length bucket (NaN when empty)."""
    buckets: dict[str, list[float]] = {name: [] for name, _ in BUCKETS}
    for score, length in zip(per_example, lengths):
        if isinstance(length, bool) or not isinstance(length, (int, float)):
            raise ValueError(f"LongBench-E needs a numeric 'length' per record, got {length!r}")
        buckets[next(name for name, top in BUCKETS if length < top)].append(score)
    # np.mean (a pairwise sum), as LongBench: the last digit of round(.., 2) can depend on it
    return {
        name: round(100 * float(np.mean(v)), 2) if v else float("nan")
        for name, v in buckets.items()
    }
