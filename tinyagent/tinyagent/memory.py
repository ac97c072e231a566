"""Conversation memory: when the history outgrows its token budget, the model summarises old turns.

    >>> from tinyagent.scripted import ScriptedChatModel
    >>> model = ScriptedChatModel(["用户叫小王，想去杭州。"])   # the summary the model writes
    >>> mem = ConversationMemory(model, budget_tokens=20, keep_last=2)
    >>> for role, text in [("user", "我叫小王"), ("assistant", "你好小王"),
    ...                    ("user", "我想去杭州玩三天"), ("assistant", "好的，推荐西湖")]:
    ...     mem.add(role, text)
    >>> [m["role"] for m in mem.history()], mem.summary
    (['system', 'user', 'assistant'], '用户叫小王，想去杭州。')

``add`` appends a turn and then, while the history (summary included) counts more than
``budget_tokens`` tokens (``model.count_tokens``; exact for local models, approximate remotely) and
more than ``keep_last`` turns remain, folds every turn but the last ``keep_last`` into the summary:
one ``model.chat`` call gets the previous summary and the old turns and returns a new summary.
``history()`` is ``[{"role": "system", "content": "此前对话的摘要：..."}] + recent turns``, ready to
pass as ``Agent.run(question, history)``. Each summarisation is reported as a
``{"event": "memory_summary", ...}`` line in ``trace_path`` (and to ``on_summary``): how many turns
were folded, token counts before/after, and the summary itself -- nothing is cut off silently.

Limits: memory works between agent runs (a conversation); one very long run's own tool
observations are bounded by ``Agent(max_observation_chars=...)``, not summarised. A summary is only as
faithful as the model writing it; the last ``keep_last`` turns are always kept verbatim, even when
they alone exceed the budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tinyqwen.chat_model import ChatModel
from tinyqwen.sampling import Sampling

__all__ = ["ConversationMemory"]

SUMMARY_PREFIX = "此前对话的摘要："


class ConversationMemory:
    """Recent turns verbatim + a model-written summary of the older ones, within a token budget."""

    def __init__(
        self,
        model: ChatModel,
        budget_tokens: int | None = None,
        keep_last: int = 4,
        *,
        trace_path: str | Path | None = None,
        on_summary: Callable[[dict], None] | None = None,
        sampling: Sampling | None = None,
    ) -> None:
        self.model = model
        self.budget = budget_tokens if budget_tokens is not None else model.context_length // 2
        if self.budget < 1 or keep_last < 0:
            raise ValueError(
                f"budget_tokens must be >= 1 and keep_last >= 0, got {self.budget}, {keep_last}"
            )
        self.keep_last = keep_last
        self.trace_path = Path(trace_path) if trace_path else None
        self.on_summary = on_summary
        self.sampling = sampling if sampling is not None else Sampling(max_new_tokens=400)
        self.turns: list[dict] = []
        self.summary = ""

    def history(self) -> list[dict]:
        head = (
            [{"role": "system", "content": SUMMARY_PREFIX + self.summary}] if self.summary else []
        )
        return head + list(self.turns)

    def tokens(self) -> int:
        return sum(self.model.count_tokens(m["content"]) for m in self.history())

    def add(self, role: str, content: str) -> None:
        self.turns.append({"role": role, "content": content})
        while self.tokens() > self.budget and len(self.turns) > self.keep_last:
            self._summarise()

    def _summarise(self) -> None:
        cut = len(self.turns) - self.keep_last
        old, before = self.turns[:cut], self.tokens()
        transcript = "\n".join(f"{m['role']}: {m['content']}" for m in old)
        prompt = (
            "把下面的对话压缩成简洁的要点摘要，保留事实、数字、用户的偏好和还没完成的事，不要编造。\n"
            f"已有摘要：{self.summary or '（无）'}\n对话：\n{transcript}\n只输出新的摘要。"
        )
        reply = self.model.chat([{"role": "user", "content": prompt}], sampling=self.sampling)
        self.summary = (reply.get("content") or "").strip() or self.summary
        self.turns = self.turns[cut:]
        row = {
            "event": "memory_summary",
            "summarised_turns": len(old),
            "tokens_before": before,
            "tokens_after": self.tokens(),
            "summary": self.summary,
        }
        if self.trace_path is not None:
            self.trace_path.parent.mkdir(parents=True, exist_ok=True)
            with self.trace_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        if self.on_summary is not None:
            self.on_summary(row)
