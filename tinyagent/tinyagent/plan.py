"""Plan-and-execute: a numbered plan first, each step run by the agent loop, replanning on failure.

    >>> from tinyagent.scripted import ScriptedChatModel
    >>> model = ScriptedChatModel(["1. 算 17*23\\n2. 回答", "391", "17*23 = 391", "答案是 391。"])
    >>> r = PlanAndExecute(model, []).run("17*23 是多少？")
    >>> r.plans, r.answer
    ([['算 17*23', '回答']], '答案是 391。')

1. **plan**: the model gets the question and the tool list and writes a numbered plan (``1. ...``);
   lines that are not numbered are ignored, no numbered line at all = a one-step plan.
2. **execute**: each step runs as one :class:`tinyagent.agent.Agent` run (ReAct or Qwen protocol,
   all tools) that sees the goal, the plan and the earlier steps' results. A step *fails* when the
   agent stops without an answer (max steps, loop) or answers ``STEP FAILED: <why>``.
3. **replan**: on a failure the model writes a new plan for the remaining work, given what was
   done and why the step failed; at most ``max_replans`` times, then the run stops with
   ``step_failed``.
4. **answer**: the model answers the question from the step results.

Tracing is the agent's: with ``trace_path`` every step's agent run appends its start/step/end lines,
and the planner adds ``{"event": "plan"|"replan"|"plan_step"|"end", ...}`` lines to the same file.

Limits: steps run in order, one agent run each (no parallel steps, no dependency graph); the plan
is free text, so a model that ignores the numbering gets a one-step plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinyagent.agent import Agent, Step
from tinyagent.tool import Tool
from tinyqwen.chat_model import ChatModel
from tinyqwen.sampling import Sampling

__all__ = ["PlanAndExecute", "PlanResult", "parse_plan"]

FAILED = "STEP FAILED:"
_NUMBERED = re.compile(r"^\s*(?:\d+|[一二三四五六七八九十]+)\s*[.、)）:：]\s*(.+?)\s*$", re.M)


def parse_plan(text: str) -> list[str]:
    """Numbered lines (``1. x``, ``2) y``, ``三、z``) -> their texts; none -> ``[text]``.

    >>> parse_plan("好的：\\n1. 查天气\\n2) 算温差\\n备注")
    ['查天气', '算温差']
    """
    steps = [s for s in _NUMBERED.findall(text) if s]
    return steps or ([text.strip()] if text.strip() else [])


@dataclass
class PlanResult:
    answer: str | None
    stop_reason: str  # "final_answer" | "step_failed" | "empty_plan"
    plans: list[list[str]] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)  # {"step", "ok", "answer"}


class PlanAndExecute:
    """Plan, execute with the tools, replan on failure, answer."""

    def __init__(
        self,
        model: ChatModel,
        tools: list[Tool],
        protocol: str = "qwen",
        *,
        max_replans: int = 2,
        agent_steps: int = 6,
        trace_path: str | Path | None = None,
        on_step: Callable[[Step], None] | None = None,
        on_event: Callable[[dict], None] | None = None,
        sampling: Sampling | None = None,
    ) -> None:
        self.model, self.tools, self.protocol = model, list(tools), protocol
        self.max_replans, self.agent_steps = max_replans, agent_steps
        self.trace_path = Path(trace_path) if trace_path else None
        self.on_step, self.on_event = on_step, on_event
        self.sampling = sampling if sampling is not None else Sampling()

    def _ask(self, prompt: str) -> str:
        msg = self.model.chat([{"role": "user", "content": prompt}], sampling=self.sampling)
        return (msg.get("content") or "").strip()

    def _tool_list(self) -> str:
        return "\n".join(f"- {t.name}: {t.description}" for t in self.tools) or "（没有工具）"

    def _event(self, row: dict) -> None:
        if self.trace_path is not None:
            self.trace_path.parent.mkdir(parents=True, exist_ok=True)
            with self.trace_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        if self.on_event is not None:
            self.on_event(row)

    def _done_text(self, results: list[dict]) -> str:
        return "\n".join(f"- {r['step']} => {r['answer']}" for r in results) or "（无）"

    def run(self, question: str) -> PlanResult:
        plan = parse_plan(
            self._ask(
                f"问题：{question}\n可用工具：\n{self._tool_list()}\n"
                "先不要回答问题。写一个简短的编号计划（1. 2. 3. ……，每行一步，最多 6 步），"
                "每一步都是可以用工具或推理完成的具体动作。"
            )
        )
        result = PlanResult(None, "empty_plan", [plan])
        self._event({"event": "plan", "steps": plan})
        replans = 0
        while plan:
            step, plan = plan[0], plan[1:]
            ok, answer = self._execute(question, step, result)
            result.results.append({"step": step, "ok": ok, "answer": answer})
            self._event({"event": "plan_step", "step": step, "ok": ok, "answer": answer})
            if ok:
                continue
            if replans >= self.max_replans:
                result.stop_reason = "step_failed"
                self._event({"event": "end", "answer": None, "stop_reason": "step_failed"})
                return result
            replans += 1
            plan = parse_plan(
                self._ask(
                    f"问题：{question}\n可用工具：\n{self._tool_list()}\n"
                    f"已完成的步骤和结果：\n{self._done_text(result.results)}\n"
                    f"步骤「{step}」失败了：{answer}\n"
                    "为剩下的工作写一个新的编号计划（1. 2. ……），换一种做法，不要重复失败的步骤。"
                )
            )
            result.plans.append(plan)
            self._event({"event": "replan", "failed": step, "why": answer, "steps": plan})
        if not result.results:
            self._event({"event": "end", "answer": None, "stop_reason": "empty_plan"})
            return result
        result.answer = self._ask(
            f"问题：{question}\n各步骤的结果：\n{self._done_text(result.results)}\n"
            "根据这些结果，直接给出问题的最终回答。"
        )
        result.stop_reason = "final_answer"
        self._event({"event": "end", "answer": result.answer, "stop_reason": "final_answer"})
        return result

    def _execute(self, question: str, step: str, result: PlanResult) -> tuple[bool, str]:
        agent = Agent(
            self.model,
            self.tools,
            self.protocol,
            max_steps=self.agent_steps,
            trace_path=self.trace_path,
            on_step=self.on_step,
            sampling=self.sampling,
        )
        run = agent.run(
            f"总目标：{question}\n已完成：\n{self._done_text(result.results)}\n"
            f"现在只执行这一步：{step}\n完成后简要回答这一步的结果；"
            f"如果这一步做不到，回答以 `{FAILED}` 开头并说明原因。"
        )
        if run.answer is None:
            return False, f"没有得到结果（{run.stop_reason}）"
        if run.answer.strip().upper().startswith(FAILED):
            return False, run.answer.strip()[len(FAILED) :].strip()
        return True, run.answer
