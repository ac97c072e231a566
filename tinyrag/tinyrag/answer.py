"""Answer a question from retrieved passages: numbered sources, ``[n]`` citations, refusal, extractive.

With a chat model (any tinyqwen ``ChatModel``): the prompt lists the passages as numbered sources
and asks for an answer that cites them as ``[n]``; the reply is parsed and every ``[n]`` mapped back to
its passage (source path, page, character offsets). Out-of-range numbers are reported in
``Answer.invalid_citations``, never silently kept. ``on_delta`` streams the reply through
``stream_chat``.

Weak support: before calling any model, ``support`` (``tinyrag.support``: the best passage's
idf-weighted coverage of the question's content words) is compared with ``min_support`` (default
``MIN_SUPPORT``, calibrated on labelled CMRC 2018 questions -- see ``bench/calibrate_refusal.py``).
Below it the answer is the explicit refusal "The documents do not say." / "文档中没有提到。" and no
model is called.

Reranking: ``rerank_model`` (a ``tinyrag.rerank.Reranker`` -- Qwen3-Reranker scoring or yes/no
log-likelihood -- or a chat model with ``loglikelihood``) re-sorts the top ``rerank_top``
retrieved passages by its yes/no judgement (``tinyrag.rerank``) before the gate and the prompt; its
P(yes) >= 0.5 for the best passage also passes the gate (a semantic signal: a paraphrase with no
shared content word is answered when the reranker judges the passage relevant).

Without a model: an extractive answer -- the passages' sentences that best cover the question's
terms, quoted verbatim with ``[n]`` citations and exact offsets, under a label saying that no
language model was used.

    >>> a = answer_question(index, "Qwen2 用了什么位置编码？")          # doctest: +SKIP
    >>> print(a.text)                                                 # doctest: +SKIP
    【抽取式答案：未使用语言模型，以下句子摘自检索到的文档】
    Qwen2 使用旋转位置编码（RoPE）。[1]

Limits: support is lexical (a paraphrased question with no shared content word is refused even when
a dense retriever found the right passage); the threshold is calibrated on Chinese Wikipedia
questions, tune ``min_support`` for other material.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tinyqwen.chat_model import STREAM, ChatModel
from tinyrag.analyzers import CJK, has_cjk
from tinyrag.chunking import split_sentences
from tinyrag.retriever import Hit
from tinyrag.support import MIN_SUPPORT, support_score

_CITE = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")

REFUSAL = {"zh": "文档中没有提到。", "en": "The documents do not say."}
EXTRACTIVE_LABEL = {
    "zh": "【抽取式答案：未使用语言模型，以下句子摘自检索到的文档】",
    "en": "[Extractive answer: no language model was used; these sentences are quoted from the sources]",
}
SYSTEM = {
    "zh": (
        "你是一个严谨的问答助手。只根据下面编号的资料回答问题，每个论断后用 [n] 标注所依据的资料编号"
        "（可以有多个，如 [1][3]）。如果资料中没有答案，只回答：文档中没有提到。"
    ),
    "en": (
        "You are a careful assistant. Answer only from the numbered sources below and cite the "
        "source of every claim as [n] (several are fine, e.g. [1][3]). If the sources do not "
        "contain the answer, reply only: The documents do not say."
    ),
}


def one_line(text: str) -> str:
    """A quote for display: soft line wraps removed (no space between two CJK characters)."""
    text = re.sub(f"(?<=[{CJK}，。：；！？）])\\s*\n\\s*(?=[{CJK}（])", "", text)
    return re.sub(r"\s*\n\s*", " ", text)


def language(text: str) -> str:
    return "zh" if has_cjk(text) else "en"


@dataclass
class Quote:
    """A sentence quoted in an extractive answer: ``text == document[start:end]`` of source n."""

    source_number: int
    text: str
    start: int
    end: int


@dataclass
class Answer:
    question: str
    text: str
    sources: list[Hit]  # source n is sources[n - 1]
    citations: list[int] = field(default_factory=list)  # valid [n] used, in order of first use
    invalid_citations: list[int] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    extractive: bool = False
    refused: bool = False
    support: float = 0.0
    model: str | None = None
    rerank_yes: float | None = None  # the reranker's P(yes) for the best passage, when reranked
    # who refused: "gate" (no hits, or support below min_support: no model was asked) or "model"
    refused_by: str | None = None

    def cited_sources(self) -> list[Hit]:
        return [self.sources[n - 1] for n in self.citations]

    def sources_text(self) -> str:
        """What a terminal shows under the answer: a gate refusal's note, out-of-range citations,
        then the numbered sources with the cited ones starred (`` *[1] a.md, chars 0-34``)."""
        lines = []
        if self.refused_by == "gate":
            lines.append(f"(retrieval support {self.support:.2f} below threshold)")
        if self.invalid_citations:
            lines.append(
                f"(warning: the answer cites sources that do not exist: {self.invalid_citations})"
            )
        lines.append("\nSources:")
        for n, h in enumerate(self.sources, 1):
            lines.append(f" {'*' if n in self.citations else ' '}[{n}] {h.location()}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "extractive": self.extractive,
            "refused": self.refused,
            "refused_by": self.refused_by,
            "support": self.support,
            "rerank_yes": self.rerank_yes,
            "model": self.model,
            "citations": self.citations,
            "invalid_citations": self.invalid_citations,
            "sources": [
                {"n": i, "source": h.source, "page": h.page, "start": h.start, "end": h.end,
                 "heading_path": h.chunk.get("heading_path", []), "score": h.score}
                for i, h in enumerate(self.sources, 1)
            ],
            "quotes": [q.__dict__ for q in self.quotes],
        }  # fmt: skip


def parse_citations(text: str, n_sources: int) -> tuple[list[int], list[int]]:
    """(valid source numbers in order of first use, out-of-range numbers) from ``[n]``/``[1, 2]``."""
    valid: list[int] = []
    invalid: list[int] = []
    for m in _CITE.finditer(text):
        for num in re.split(r"\s*[,，、]\s*", m.group(1)):
            n = int(num)
            target = valid if 1 <= n <= n_sources else invalid
            if n not in target:
                target.append(n)
    return valid, invalid


def build_messages(question: str, hits: list[Hit], lang: str | None = None) -> list[dict]:
    lang = lang or language(question)
    blocks = []
    for i, h in enumerate(hits, 1):
        blocks.append(f"[{i}] ({h.location()})\n{h.text.strip()}")
    label = ("资料" if lang == "zh" else "Sources") + ":\n\n" + "\n\n".join(blocks)
    q = ("问题：" if lang == "zh" else "Question: ") + question.strip()
    return [
        {"role": "system", "content": SYSTEM[lang]},
        {"role": "user", "content": f"{label}\n\n{q}"},
    ]


def _fit_sources(
    model: ChatModel, question: str, hits: list[Hit], max_new_tokens: int
) -> list[Hit]:
    """Drop the lowest-ranked sources until the prompt fits the model's context."""
    hits = list(hits)
    while len(hits) > 1:
        prompt = "\n".join(m["content"] for m in build_messages(question, hits))
        if model.count_tokens(prompt) + max_new_tokens + 32 <= model.context_length:
            # 32: chat-template overhead
            break
        hits.pop()
    return hits


def extractive_answer(
    index: Any, question: str, hits: list[Hit], max_sentences: int = 3
) -> tuple[str, list[Quote], list[int]]:
    """Best-covering sentences of the hits, quoted verbatim with [n]; (text, quotes, citations)."""
    bm = index.bm25
    q_terms = set(index.analyzer(question))
    idf = {t: float(bm.idf[bm.vocab[t]]) for t in q_terms if t in bm.vocab}
    scored = []  # (score, hit rank, position, Quote)
    for n, h in enumerate(hits, 1):
        for s, e, _ in split_sentences(h.text, 0, len(h.text)):
            while e > s and h.text[e - 1].isspace():
                e -= 1
            sent = h.text[s:e]
            terms = set(index.analyzer(sent))
            score = sum(idf.get(t, 0.0) for t in terms & q_terms)
            # headings, table rows and code fences are not sentences worth quoting
            if score > 0 and not re.match(r"\s*(#+\s|\||```|!\[)", sent):
                scored.append((score, n, s, Quote(n, sent, h.start + s, h.start + e)))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    quotes = [q for *_, q in scored[:max_sentences]]
    cites: list[int] = []
    for q in quotes:
        if q.source_number not in cites:
            cites.append(q.source_number)
    lang = language(question)
    body = "\n".join(f"{one_line(q.text)} [{q.source_number}]" for q in quotes)
    return f"{EXTRACTIVE_LABEL[lang]}\n{body}", quotes, cites


def answer_question(
    index: Any,
    question: str,
    model: ChatModel | None = None,
    *,
    k: int = 5,
    hits: list[Hit] | None = None,
    min_support: float = MIN_SUPPORT,
    max_new_tokens: int = 512,
    on_delta: Callable[[str], None] | None = None,
    history: list[dict] | None = None,
    query: str | None = None,
    rerank_model: Any = None,
    rerank_top: int = 10,
    **search_kwargs: Any,
) -> Answer:
    """Retrieve (unless ``hits`` given), then answer with a model, extractively, or refuse.

    ``query`` is what retrieval and the support gate see (default: the question) -- in a chat, the
    standalone rewrite of a follow-up (``tinyrag.conversation``); the model still sees the user's
    words and the ``history``.
    """
    query = query or question
    judged = None  # the reranker's P(yes) for its best passage
    if hits is None:
        hits = index.search(
            query, k=k, rerank_model=rerank_model, rerank_top=rerank_top, **search_kwargs
        )
        if rerank_model is not None and hits:
            judged = 1.0 / (1.0 + math.exp(-max(min(hits[0].score, 50.0), -50.0)))
    lang = language(question)
    support = support_score(index, query, hits) if hits else 0.0
    name = model.name if model is not None else None
    if not hits or (support < min_support and (judged is None or judged < 0.5)):
        text = REFUSAL[lang]
        if on_delta:
            on_delta(text)
        return Answer(
            question, text, hits, refused=True, support=support, model=name, rerank_yes=judged,
            refused_by="gate",
        )  # fmt: skip
    if model is None:
        text, quotes, cites = extractive_answer(index, question, hits)
        if on_delta:
            on_delta(text)
        return Answer(
            question, text, hits, cites, [], quotes, extractive=True, support=support,
            rerank_yes=judged,
        )  # fmt: skip
    hits = _fit_sources(model, question, hits, max_new_tokens)
    messages = build_messages(question, hits, lang)
    if history:
        messages = [messages[0], *history, messages[1]]
    if on_delta is not None and STREAM in model.capabilities:
        parts = []
        for delta in model.stream_chat(messages, max_new_tokens=max_new_tokens):
            parts.append(delta)
            on_delta(delta)
        text = "".join(parts)
    else:
        text = model.chat(messages, max_new_tokens=max_new_tokens).get("content") or ""
        if on_delta is not None:  # a backend that cannot stream: the whole answer at once
            on_delta(text)
    valid, invalid = parse_citations(text, len(hits))
    refused = REFUSAL[lang] in text or REFUSAL["en"] in text
    return Answer(
        question, text, hits, valid, invalid, support=support, model=name, refused=refused,
        rerank_yes=judged, refused_by="model" if refused else None,
    )  # fmt: skip
