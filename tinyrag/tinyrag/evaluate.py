"""Evaluate retrieval (recall@k, MRR@10, nDCG@10, MAP) and, with a model, answers (EM/F1).

    >>> ds = read_cranfield(Path("~/.cache/tiny-universe/data/cranfield").expanduser())  # doctest: +SKIP
    >>> evaluate(ds, analyzer=Analyzer(stem=True))["nDCG@10"]                       # doctest: +SKIP
    0.3749...

Every document of the set is one retrieval unit (no chunking), so the doc ids in the run are the
qrels' ids. ``mode`` is bm25, dense or hybrid (dense/hybrid need an ``Embedder``); ``rerank_model``
re-sorts each query's top ``rerank_top`` by its yes/no log-likelihood (``tinyrag.rerank``). For SQuAD-style
sets with a ``model``, the first ``answer_limit`` questions are answered from the top ``answer_k``
passages and scored with ``tinyrag.metrics.exact_match`` / ``f1`` (citations stripped first).

Limits: answer EM/F1 with ``tiny-random`` measures the wiring only (its output is random text).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tinyqwen.chat_model import ChatModel
from tinyrag.analyzers import Analyzer
from tinyrag.answer import build_messages, language
from tinyrag.datasets import RetrievalSet, read_cmrc2018, read_cranfield, read_squad, read_vaswani
from tinyrag.index import Index
from tinyrag.metrics import evaluate_run, exact_match, f1

DATASETS = {"cranfield": read_cranfield, "vaswani": read_vaswani, "cmrc2018": read_cmrc2018}
DATA_FOLDERS = {"cranfield": "cranfield", "vaswani": "vaswani_npl", "cmrc2018": "cmrc2018"}

SHORT_ANSWER = {
    "zh": "只用资料中的原文片段作答，越短越好，不要解释，不要标注编号。",
    "en": "Answer with the shortest span copied from the sources; no explanation, no citations.",
}


def load_dataset(name: str, data_dir: str | Path | None = None) -> RetrievalSet:
    """A retrieval set from the data cache (``--data-dir``, else ``$TINYU_DATA_DIR``, else
    ``~/.cache/tiny-universe/data``; see ``tinyrag/data.py``)."""
    from tinyqwen.data_cache import data_dir as default_data_dir
    from tinyqwen.data_cache import missing_hint

    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    folder = default_data_dir(data_dir) / DATA_FOLDERS[name]
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: dataset folder not found; {missing_hint('python -m tinyrag', name)}"
        )
    return DATASETS[name](folder)


def evaluate(
    ds: RetrievalSet,
    *,
    analyzer: Analyzer | None = None,
    bm25_params: dict[str, Any] | None = None,
    mode: str = "bm25",
    embedder: Any = None,
    depth: int = 1000,
    ks: tuple[int, ...] = (10, 100),
    model: ChatModel | None = None,
    answer_limit: int = 50,
    answer_k: int = 3,
    rerank_model: Any = None,
    rerank_top: int = 10,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    index = Index.from_texts(ds.docs, analyzer=analyzer, bm25_params=bm25_params, embedder=embedder)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = {
        qid: [
            h.source
            for h in index.search(
                q, k=depth, mode=mode, rerank_model=rerank_model, rerank_top=rerank_top
            )
        ]
        for qid, q in ds.queries.items()
    }
    out: dict[str, Any] = {"dataset": ds.name, "docs": len(ds.docs), "mode": mode}
    if rerank_model is not None:
        out["rerank"] = f"{rerank_model.name} top {rerank_top}"
    out.update(evaluate_run(run, ds.qrels, ks))
    out["index_s"] = round(t_index, 3)
    out["queries_per_s"] = round(len(run) / max(time.perf_counter() - t0, 1e-9), 1)
    if model is not None and ds.answers:
        ems, f1s = [], []
        for qid in list(ds.answers)[:answer_limit]:
            q = ds.queries[qid]
            hits = index.search(q, k=answer_k, mode=mode)
            msgs = build_messages(q, hits)
            msgs[-1]["content"] += "\n\n" + SHORT_ANSWER[language(q)]
            pred = model.chat(msgs, max_new_tokens=64).get("content") or ""
            pred = re.sub(r"\[\d+(?:\s*[,，]\s*\d+)*\]", "", pred).strip()
            ems.append(exact_match(pred, ds.answers[qid]))
            f1s.append(f1(pred, ds.answers[qid]))
        out["EM"] = sum(ems) / len(ems) if ems else 0.0
        out["F1"] = sum(f1s) / len(f1s) if f1s else 0.0
        out["answered"] = len(ems)
        out["answer_model"] = model.name
    return out


def load_custom(
    corpus: str | Path | None, queries: str | Path | None, qrels: str | Path | None,
    squad: str | Path | None,
) -> RetrievalSet:  # fmt: skip
    """A set from files: ``squad`` JSON, or ``corpus`` + ``queries`` + ``qrels`` (TREC formats)."""
    from tinyrag.datasets import read_corpus, read_queries, read_trec_qrels

    if squad:
        return read_squad(squad)
    missing = [
        n for n, v in (("--corpus", corpus), ("--queries", queries), ("--qrels", qrels)) if not v
    ]
    if missing:
        raise ValueError(
            f"eval needs --dataset, --squad, or all of --corpus --queries --qrels (missing {' '.join(missing)})"
        )
    return RetrievalSet(
        Path(str(corpus)).stem, read_corpus(corpus), read_queries(queries), read_trec_qrels(qrels)
    )  # type: ignore[arg-type]
