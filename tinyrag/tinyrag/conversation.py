"""Conversational query rewriting: a chat follow-up + history -> one standalone retrieval query.

"它省了多少？" retrieves nothing on its own; after "GQA 为什么省显存？" it means "GQA 省了多少显存？".
``rewrite_query`` asks the chat model to condense the history and the follow-up into a question
that stands alone (the LlamaIndex "condense question" step), and falls back to a deterministic
rewrite when there is no model, the model fails, or its output is unusable:

- the follow-up is kept as is when it has no history or reads as self-contained (no pronoun or
  demonstrative such as 它/这个/其/it/this/they, and at least two content words);
- otherwise the previous user question is put in front of it: "GQA 为什么省显存？ 它省了多少？".

    >>> rewrite_query("它省了多少？", [{"role": "user", "content": "GQA 为什么省显存？"},
    ...                              {"role": "assistant", "content": "KV cache 小了 7 倍 [1]"}])
    'GQA 为什么省显存？ 它省了多少？'

The rewrite is what retrieval and the support gate see; the answering model still gets the
user's own words with the history (``answer_question(..., query=rewrite)``).

Limits: the fallback only looks one user turn back; the model rewrite costs one short generation
per follow-up and is only as good as the model.
"""

from __future__ import annotations

import re
from typing import Any

from tinyrag.analyzers import ENGLISH_STOPWORDS, has_cjk

PROMPT = {
    "zh": (
        "根据下面的对话，把用户最后的问题改写成一个不依赖上下文、可以单独用来检索的完整问题。"
        "补全代词指代的对象，保留原问题的意思。只输出改写后的问题。"
    ),
    "en": (
        "Rewrite the user's last question as one standalone question that can be understood and "
        "searched without the conversation: resolve pronouns, keep the meaning. Output only the "
        "rewritten question."
    ),
}
_REFERS_BACK = re.compile(
    r"[它其该]|这个|那个|这些|那些|这种|那种|上面|上述|前者|后者"
    r"|\b(?:it|its|this|that|these|those|they|them|their|he|she|the former|the latter)\b",
    re.I,
)
_WORD = re.compile(r"[^\W\d_]{2,}|\d+")


def needs_context(question: str) -> bool:
    """True when ``question`` points back into the conversation or is too short to stand alone."""
    if _REFERS_BACK.search(question):
        return True
    if has_cjk(question):
        return len(re.sub(r"[\W\d_]", "", question)) < 4
    words = [w for w in _WORD.findall(question.lower()) if w not in ENGLISH_STOPWORDS]
    return len(words) < 2


def fallback_rewrite(question: str, history: list[dict]) -> str:
    """Deterministic rewrite: the previous user question + the follow-up, when it needs context."""
    previous = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not previous or not needs_context(question):
        return question
    return f"{previous[-1].strip()} {question.strip()}"


def rewrite_query(question: str, history: list[dict] | None, model: Any = None) -> str:
    """A standalone query for ``question`` given the chat ``history`` (model first, then fallback)."""
    if not history:
        return question
    if model is not None:
        lang = "zh" if has_cjk(question) else "en"
        turns = "\n".join(
            f"{'用户' if m['role'] == 'user' else '助手'}: {m['content']}"
            if lang == "zh"
            else f"{m['role']}: {m['content']}"
            for m in history[-6:]
        )
        last = ("用户最后的问题：" if lang == "zh" else "Last question: ") + question
        messages = [
            {"role": "system", "content": PROMPT[lang]},
            {"role": "user", "content": f"{turns}\n\n{last}"},
        ]
        try:
            text = model.chat(messages, max_new_tokens=64).get("content") or ""
        except (NotImplementedError, ValueError, OSError):
            text = ""
        text = text.strip().splitlines()[0].strip() if text.strip() else ""
        text = re.sub(r"^(?:改写后的问题|改写|Rewritten question|Question)\s*[:：]\s*", "", text)
        if 0 < len(text) <= 4 * len(question) + 200:
            return text
    return fallback_rewrite(question, history)
