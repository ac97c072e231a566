"""Calibrate the refusal gate: support signals on labelled answerable / unanswerable questions.

    python -m tinyrag data fetch cmrc2018 && python bench/calibrate_refusal.py   # (or ../shared/data)
    python bench/calibrate_refusal.py --data path/to/cmrc2018_trial.json --json out.json

Labelled set (CMRC 2018 trial, 256 Wikipedia paragraphs, 1,002 questions): every paragraph is one
retrieval unit. Each question appears twice -- *answerable*: retrieved (BM25, top-k) from the whole
corpus, its own paragraph included; *unanswerable*: retrieved from the corpus minus every paragraph
that contains one of its gold answers. Articles are shuffled (seed 0) and split 50/50; two
thresholds per signal are chosen on the dev half -- the best refusal F1 (refusal = the positive
class), and the highest threshold that refuses at most 5% of the answerable questions (``--max-false``)
-- then refusal precision / recall / F1 and the share of answerable questions refused are reported
on the test half, next to the old gate (``union`` at 0.5). The chosen constant lives in ``tinyrag/support.py`` (``MIN_SUPPORT``),
with these numbers.

``--rerank-model SPEC`` adds the reranker's P(yes) for the best passage as a fourth signal (the
semantic one ``ask --rerank`` uses at 0.5); with ``--limit N`` on the first N questions, since it
costs two forward passes per passage.

Limits: one Chinese Wikipedia set; BM25 retrieval (dense retrieval needs a real embedding model);
"unanswerable" here means "the answer string is in no retrieved passage", a proxy for the documents
not saying it.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

from tinyrag.datasets import read_squad
from tinyrag.index import Index
from tinyrag.rerank import rerank
from tinyrag.support import (
    SIGNALS,
    auc,
    best_threshold,
    recall_threshold,
    refusal_prf,
    support_score,
)


def default_data() -> Path:
    """cmrc2018_trial.json from the data cache, else the monorepo's ../shared/data."""
    from tinyqwen.data_cache import data_dir, shared_dev_data

    roots = [data_dir(), shared_dev_data(Path(__file__).resolve().parents[2])]
    for root in roots:
        if root is not None and (root / "cmrc2018" / "cmrc2018_trial.json").is_file():
            return root / "cmrc2018" / "cmrc2018_trial.json"
    return data_dir() / "cmrc2018" / "cmrc2018_trial.json"


def labelled_rows(
    path: Path, k: int, seed: int, reranker: Any = None, limit: int | None = None
) -> tuple[list[dict], Index]:
    """Two rows per question (answerable, unanswerable) with every signal; ``reranker`` adds the
    ``rerank`` signal: its P(yes) for the best of the ``k`` passages."""
    ds = read_squad(path)
    index = Index.from_texts(ds.docs)
    index.analyzer = functools.lru_cache(maxsize=None)(index.analyzer)  # passages recur
    article = {did: did.rsplit("#", 1)[0] if "#" in did else did for did in ds.docs}
    arts = sorted(set(article.values()))
    random.Random(seed).shuffle(arts)
    dev_arts = set(arts[: len(arts) // 2])
    rows = []
    for qid, q in list(ds.queries.items())[:limit]:
        (own,) = ds.qrels[qid]
        answers = ds.answers.get(qid, [])
        allowed = [d for d, text in ds.docs.items() if not any(a and a in text for a in answers)]
        split = "dev" if article[own] in dev_arts else "test"
        for label, hits in (
            (1, index.search(q, k=k)),
            (0, index.search(q, k=k, where={"source": allowed})),
        ):
            sig = {s: support_score(index, q, hits, signal=s) for s in SIGNALS}
            if reranker is not None:
                best = max((sc for _, sc in rerank(reranker, q, [h.text for h in hits])), default=0)
                sig["rerank"] = 1.0 / (1.0 + math.exp(-max(min(best, 50.0), -50.0)))
            rows.append({"split": split, "answerable": label, "question": q, **sig})
    return rows, index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="CMRC 2018 trial JSON (default: the data cache)")
    ap.add_argument("--k", type=int, default=5, help="passages retrieved per question")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--max-false", type=float, default=0.05,
        help="second operating point: refuse at most this share of answerable dev questions",
    )  # fmt: skip
    ap.add_argument("--json", type=Path, help="write the table as JSON here")
    ap.add_argument(
        "--rerank-model", help="tinyqwen spec: also measure the reranker's P(yes) as a signal"
    )
    ap.add_argument("--limit", type=int, help="first N questions only (a reranker is slow)")
    args = ap.parse_args(argv)
    args.data = args.data or default_data()
    if not args.data.is_file():
        print(
            f"error: {args.data}: not found (python -m tinyrag data fetch cmrc2018)",
            file=sys.stderr,
        )
        return 2
    reranker = None
    if args.rerank_model:
        import tinyqwen
        from tinyrag.rerank import Reranker, rerank_format_for

        fmt = rerank_format_for(args.rerank_model)  # qwen3-reranker for a Qwen3-Reranker spec
        reranker = Reranker(tinyqwen.connect(args.rerank_model), fmt)
    rows, _ = labelled_rows(args.data, args.k, args.seed, reranker, args.limit)
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    print(f"{len(dev)} dev / {len(test)} test rows (half answerable), k={args.k}, seed={args.seed}")
    print(
        "| signal | threshold rule (on dev) | dev AUC | threshold | test refusal P | R | F1 "
        "| answerable refused | test AUC |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    table = []
    for s in SIGNALS + (("rerank",) if reranker is not None else ()):
        y_dev, s_dev = [r["answerable"] for r in dev], [r[s] for r in dev]
        y_test, s_test = [r["answerable"] for r in test], [r[s] for r in test]
        thresholds = [
            ("max F1", best_threshold(y_dev, s_dev)),
            (
                f"<= {args.max_false:.0%} false refusals",
                recall_threshold(y_dev, s_dev, args.max_false),
            ),
        ] + ([("old gate", 0.5)] if s == "union" else [])
        for rule, th in thresholds:
            m = refusal_prf(y_test, s_test, th)
            false_ref = sum(1 for y, v in zip(y_test, s_test) if y == 1 and v < th) / sum(y_test)
            row = {"signal": s, "rule": rule, "dev_auc": auc(y_dev, s_dev), "threshold": th, **m}
            row.update(test_auc=auc(y_test, s_test), test_false_refusal=false_ref)
            table.append(row)
            print(
                f"| {s} | {rule} | {row['dev_auc']:.3f} | {th} | {m['precision']:.3f} "
                f"| {m['recall']:.3f} | {m['f1']:.3f} | {false_ref:.3f} | {row['test_auc']:.3f} |"
            )
    if args.json:
        args.json.write_text(json.dumps(table, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
