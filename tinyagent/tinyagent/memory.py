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

Inside one long run, ``Agent(context_budget=N)`` does the same to the run's own steps:
:func:`compact_run` is called before every model turn and, when the prompt counts more than ``N``
tokens, folds all but the last ``keep_steps`` tool exchanges (Qwen protocol: assistant calls + tool
results; ReAct: Thought/Action/Observation blocks of the scratchpad) into a summary appended to the
question, and the agent writes the same ``memory_summary`` trace line.

Limits: a summary is only as faithful as the model writing it; the last ``keep_last`` turns (or
``keep_steps`` steps) are always kept verbatim, even when they alone exceed the budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tinyqwen.chat_model import ChatModel
from tinyqwen.sampling import Sampling

__all__ = ["ConversationMemory", "compact_run"]

SUMMARY_PREFIX = "此前对话的摘要："
STEPS_PREFIX = "\n\n此前步骤的摘要（较早的工具调用与结果已压缩）："
SUMMARISE = (
    "把下面的内容压缩成简洁的要点摘要，保留事实、数字、用户的偏好和还没完成的事，不要编造。\n"
    "已有摘要：{old}\n内容：\n{text}\n只输出新的摘要。"
)


def _summarise(model: ChatModel, old: str, text: str, sampling: Sampling) -> str:
    prompt = SUMMARISE.format(old=old or "（无）", text=text)
    reply = model.chat([{"role": "user", "content": prompt}], sampling=sampling)
    return (reply.get("content") or "").strip() or old


def compact_run(
    proto, model: ChatModel, budget: int, keep_steps: int = 2, sampling=None
) -> dict | None:
    """Fold the older steps of a running protocol into a summary when its prompt is over ``budget``
    tokens; returns the ``memory_summary`` trace row, or None when nothing was folded."""
    sampling = sampling if sampling is not None else Sampling(max_new_tokens=400)
    before = model.count_tokens(proto.prompt())
    if before <= budget:
        return None
    if hasattr(proto, "scratchpad"):  # ReAct: "Thought: ...\nObservation: ...\nThought: ..."
        blocks = proto.scratchpad.split("\nThought:")
        done, current = blocks[:-1], blocks[-1]  # the last block is the open "Thought:"
        if len(done) <= keep_steps:
            return None
        old, kept = done[: len(done) - keep_steps], done[len(done) - keep_steps :]
        text = "\nThought:".join(old)
        question = proto.messages[-1]
        base, _, summary = question["content"].partition(STEPS_PREFIX)
        summary = _summarise(model, summary, text, sampling)
        question["content"] = base + STEPS_PREFIX + summary
        kept[0] = "Thought:" + kept[0] if kept and not kept[0].startswith("Thought:") else kept[0]
        proto.scratchpad = "\nThought:".join([*kept, current]) if kept else "Thought:" + current
        folded = len(old)
    else:  # Qwen: messages after the question, grouped by assistant turn
        q = proto.question_index
        starts = [
            i for i in range(q + 1, len(proto.messages)) if proto.messages[i]["role"] == "assistant"
        ]
        if len(starts) <= keep_steps:
            return None
        cut = starts[len(starts) - keep_steps] if keep_steps else len(proto.messages)
        old = proto.messages[q + 1 : cut]
        text = "\n".join(_render(m) for m in old)
        base, _, summary = proto.messages[q]["content"].partition(STEPS_PREFIX)
        summary = _summarise(model, summary, text, sampling)
        proto.messages[q] = {**proto.messages[q], "content": base + STEPS_PREFIX + summary}
        del proto.messages[q + 1 : cut]
        folded = len(starts) - keep_steps
    return {
        "event": "memory_summary",
        "summarised_steps": folded,
        "tokens_before": before,
        "tokens_after": model.count_tokens(proto.prompt()),
        "summary": summary,
    }


def _render(m: dict) -> str:
    calls = [tc["function"] for tc in m.get("tool_calls") or []]
    text = m.get("content") or ""
    if calls:
        text += " " + " ".join(f"{c['name']}({c['arguments']})" for c in calls)
    return f"{m['role']}: {text.strip()}"


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
        self.summary = _summarise(self.model, self.summary, transcript, self.sampling)
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
