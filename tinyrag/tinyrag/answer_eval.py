"""Answer quality: EM/F1 against gold answers and citation faithfulness, through the full pipeline.

``evaluate_answers`` runs ``answer_question`` (retrieval, support gate, model or extractive answer,
citations) on the first ``limit`` questions of a SQuAD-style set (CMRC 2018) and reports:

- ``EM`` / ``F1``: ``tinyrag.metrics.exact_match`` / ``f1`` of the answer text (citations and the
  extractive label removed) against the gold answers -- the usual SQuAD/CMRC scoring, so a long
  free-form answer gets F1 credit but no EM;
- ``answer_in_text``: share of answers containing a gold answer verbatim (fairer to long answers);
- ``refused``: share of questions refused (all are answerable in these sets: each is a false refusal);
- ``faithfulness``: share of citation claims -- (sentence, cited source) pairs -- whose sentence is
  supported by the cited passage. Lexically: at least ``SUPPORTED`` (0.6) of the sentence's
  idf-weighted content words occur in the passage (``tinyrag.support.coverage``); with a ``judge``
  model: its yes/no log-likelihood on "does the passage support the statement" (P(yes) >= 0.5).

    >>> evaluate_answers(read_cmrc2018("../shared/data/cmrc2018"), model, limit=100)  # doctest: +SKIP
    {'answered': 100, 'EM': 0.41, 'F1': 0.63, 'answer_in_text': 0.7, 'refused': 0.05,
     'faithfulness': 0.92, 'citation_claims': 131, ...}

Extractive answers quote their sources, so their lexical faithfulness is ~1.0 by construction (a
check of the metric, not a result; 0.996 on CMRC: jieba segments a sentence alone slightly
differently from the same sentence inside its passage). Measured on the first 200 CMRC 2018 trial
questions, extractive (no model): EM 0.000, F1 0.184, gold answer inside the answer 0.685, refused
0.065, faithfulness 0.996 over 560 citation claims.

Limits: lexical faithfulness credits a sentence that copies words while changing the meaning; the
judge is as good as its model. One pass, no retries; ``limit`` bounds the cost.
"""

from __future__ import annotations

import re
from typing import Any

from tinyrag.answer import _CITE, EXTRACTIVE_LABEL, answer_question
from tinyrag.datasets import RetrievalSet
from tinyrag.index import Index
from tinyrag.metrics import exact_match, f1
from tinyrag.support import coverage, term_weights

SUPPORTED = 0.6
JUDGE_PROMPT = (
    "Does the passage support the statement? Reply yes or no.\n\n"
    "Passage: {passage}\n\nStatement: {statement}\n\nAnswer:"
)
_ENDS = "。！？!?\n"


def strip_answer(text: str) -> str:
    """The answer without citations or the extractive label (what EM/F1 compare)."""
    for label in EXTRACTIVE_LABEL.values():
        text = text.replace(label, "")
    return _CITE.sub("", text).strip()


def citation_claims(text: str, n_sources: int) -> list[tuple[str, int]]:
    """(cited sentence, source number) for every valid ``[n]`` in ``text``: the sentence is the
    text from the previous sentence end up to the marker ("A 是 B [1]。" and "A 是 B。[1]" alike)."""
    out = []
    for m in _CITE.finditer(text):
        head = _CITE.sub("", text[: m.start()]).rstrip()
        head = head[:-1] if head.endswith(tuple(_ENDS)) else head
        start = max(head.rfind(ch) for ch in _ENDS) + 1
        sentence = strip_answer(head[start:])
        if not sentence:
            continue
        for num in re.split(r"\s*[,，、]\s*", m.group(1)):
            if 1 <= int(num) <= n_sources:
                out.append((sentence, int(num)))
    return out


def supported(index: Any, sentence: str, passage: str, judge: Any = None) -> bool:
    """Is ``sentence`` supported by ``passage``? Lexical coverage, or the judge's yes/no."""
    if judge is not None:
        ctx = JUDGE_PROMPT.format(passage=passage.strip(), statement=sentence.strip())
        (yes, _), (no, _) = judge.loglikelihood([(ctx, " yes"), (ctx, " no")])
        return yes >= no
    weights = term_weights(index, sentence, content_only=False)
    return coverage(weights, set(index.analyzer(passage)), passage) >= SUPPORTED


def evaluate_answers(
    ds: RetrievalSet,
    model: Any = None,
    *,
    limit: int = 100,
    k: int = 3,
    judge: Any = None,
    index: Index | None = None,
    **answer_kwargs: Any,
) -> dict[str, Any]:
    """Answer the first ``limit`` questions with answers in ``ds`` and score them (see module)."""
    if not ds.answers:
        raise ValueError(f"{ds.name}: no gold answers (answer eval needs a SQuAD-style set)")
    index = index or Index.from_texts(ds.docs)
    qids = [q for q in ds.queries if ds.answers.get(q)][:limit]
    ems, f1s, inside, refused = [], [], [], []
    claims = ok = 0
    for qid in qids:
        q, gold = ds.queries[qid], ds.answers[qid]
        a = answer_question(index, q, model, k=k, **answer_kwargs)
        pred = strip_answer(a.text)
        refused.append(a.refused)
        ems.append(0.0 if a.refused else exact_match(pred, gold))
        f1s.append(0.0 if a.refused else f1(pred, gold))
        inside.append(not a.refused and any(g and g in a.text for g in gold))
        for sentence, n in citation_claims(a.text, len(a.sources)) if not a.refused else []:
            claims += 1
            ok += supported(index, sentence, a.sources[n - 1].text, judge)
    n = max(len(qids), 1)
    return {
        "dataset": ds.name,
        "answered": len(qids),
        "model": model.name if model is not None else "extractive",
        "EM": sum(ems) / n,
        "F1": sum(f1s) / n,
        "answer_in_text": sum(inside) / n,
        "refused": sum(refused) / n,
        "faithfulness": ok / claims if claims else 0.0,
        "citation_claims": claims,
        "judge": judge.name if judge is not None else "lexical",
    }
