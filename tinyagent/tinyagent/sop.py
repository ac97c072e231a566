"""SOP agents: a declared procedure of named steps, each run by the tool-using agent loop.

An SOP (standard operating procedure) is a JSON file (YAML too when PyYAML is installed) or a dict::

    {"name": "退货退款", "description": "...", "start": "lookup",
     "steps": [
       {"name": "lookup", "instruction": "查询订单", "tools": ["lookup_order"],
        "output": {"type": "object", "properties": {"status": {"type": "string"}},
                   "required": ["status"]},
        "next": "decide"},
       {"name": "decide", "instruction": "判断能否退款",
        "branches": {"可以退款": "refund", "不能退款": "explain"}},
       {"name": "ask", "instruction": "向用户确认", "handoff": true, "next": "refund"},
       {"name": "refund", "instruction": "...", "tools": ["issue_refund"], "next": "END"}, ...]}

A step has an ``instruction``, the ``tools`` it may use (none: the model only thinks and answers),
an ``output`` (a JSON schema the answer must satisfy, or absent: a free-text slot), and a
transition: ``next`` (a step name or ``"END"``), ``branches`` (the model picks one named option by
ending its answer with ``NEXT: <option>``), and ``handoff: true`` (after the step the run pauses and
hands its output -- a question -- back to the user; ``resume`` continues at ``next`` with the user's
reply in the state as ``user_reply``).

The runtime (:class:`SOPRunner`) runs each step with :class:`tinyagent.agent.Agent` (``react`` or
``qwen`` protocol) restricted to the step's tools, with the task and the earlier steps' outputs in
the prompt. The answer is validated (JSON parsed leniently, checked against the schema, branch
option known); a bad answer is retried with the error as the next user message, at most
``max_retries`` times, then the run fails. State (task, current step, outputs, status) is saved
atomically after every step to ``state_path``; the trace gets one JSON line per SOP step.

    >>> sop = SOP.from_dict({"name": "demo", "steps": [
    ...     {"name": "greet", "instruction": "Say hi", "next": "END"}]})
    >>> from tinyagent.scripted import ScriptedChatModel
    >>> SOPRunner(ScriptedChatModel(["hi!"]), sop).run("start").outputs
    {'greet': 'hi!'}

Limits: steps run one after another (no parallel branches); the model sees earlier outputs as JSON
in its prompt, so very long outputs cost context; a tool named in a step must be passed to the
runner (the CLI resolves built-in and example tools by name).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tinyagent.agent import Agent
from tinyagent.parsing import JSONParseError, loads_lenient
from tinyagent.tool import Tool, ToolArgumentError, validate_value
from tinyqwen.atomic import atomic_write_text
from tinyqwen.chat_model import ChatModel
from tinyqwen.sampling import Sampling

__all__ = ["SOP", "SOPStep", "SOPState", "SOPRunner", "load_sop"]

END = "END"
_NEXT = re.compile(r"^\s*NEXT\s*[:：]\s*(.+?)\s*$", re.M | re.I)


@dataclass
class SOPStep:
    name: str
    instruction: str
    tools: list[str] = field(default_factory=list)
    output: dict | None = None  # a JSON schema; None = free text
    next: str | None = None
    branches: dict[str, str] | None = None  # option -> step name
    handoff: bool = False


@dataclass
class SOP:
    name: str
    steps: dict[str, SOPStep]
    start: str
    description: str = ""

    @classmethod
    def from_dict(cls, data: dict, where: str = "SOP") -> SOP:
        """Build and check an SOP; every problem is a ``ValueError`` naming the step and field."""
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("steps"), list)
            or not data["steps"]
        ):
            raise ValueError(f"{where}: needs a non-empty 'steps' list")
        steps: dict[str, SOPStep] = {}
        known = set(SOPStep.__dataclass_fields__)
        for i, raw in enumerate(data["steps"]):
            if not isinstance(raw, dict) or "name" not in raw or "instruction" not in raw:
                raise ValueError(f"{where}: steps[{i}] needs 'name' and 'instruction'")
            extra = set(raw) - known
            if extra:
                raise ValueError(f"{where}: step {raw['name']!r}: unknown field(s) {sorted(extra)}")
            step = SOPStep(**raw)
            if step.name in steps or step.name == END:
                raise ValueError(f"{where}: step name {step.name!r} is repeated or reserved")
            steps[step.name] = step
        for s in steps.values():
            targets = list((s.branches or {}).values()) + ([s.next] if s.next else [])
            if not targets:
                raise ValueError(f"{where}: step {s.name!r} has no transition (next/branches)")
            if s.branches and s.next:
                raise ValueError(f"{where}: step {s.name!r} has both 'next' and 'branches'")
            for t in targets:
                if t != END and t not in steps:
                    raise ValueError(f"{where}: step {s.name!r} goes to unknown step {t!r}")
            if s.output is not None and not isinstance(s.output, dict):
                raise ValueError(f"{where}: step {s.name!r}: 'output' must be a JSON schema object")
        start = data.get("start") or next(iter(steps))
        if start not in steps:
            raise ValueError(f"{where}: start step {start!r} is not a step")
        return cls(data.get("name", "sop"), steps, start, data.get("description", ""))

    def tool_names(self) -> set[str]:
        return {t for s in self.steps.values() for t in s.tools}


def load_sop(path: str | Path) -> SOP:
    """Read an SOP from a ``.json`` (or ``.yaml``/``.yml`` with PyYAML) file."""
    path = Path(path)
    text = path.read_text("utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError(f"{path}: reading YAML needs PyYAML (pip install pyyaml)") from None
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON: {e}") from None
    return SOP.from_dict(data, str(path))


@dataclass
class SOPState:
    """Everything needed to resume: saved as JSON after each step."""

    sop: str
    task: str
    current: str | None
    outputs: dict[str, Any] = field(default_factory=dict)
    status: str = "running"  # running | waiting_user | done | failed
    steps_run: int = 0
    error: str | None = None
    path: list[str] = field(default_factory=list)


class SOPRunner:
    """Run an :class:`SOP` step by step; ``run`` starts, ``resume`` continues a saved state."""

    def __init__(
        self,
        model: ChatModel,
        sop: SOP,
        tools: list[Tool] | None = None,
        protocol: str = "qwen",
        *,
        max_retries: int = 2,
        max_steps: int = 20,
        agent_steps: int = 6,
        state_path: str | Path | None = None,
        trace_path: str | Path | None = None,
        on_step=None,
        on_record=None,
        sampling: Sampling | None = None,
    ) -> None:
        """``on_step``: called with each agent Step inside a SOP step; ``on_record``: with each
        SOP step's trace row (step, attempts, output, next, calls, error, status)."""
        self.model, self.sop, self.protocol = model, sop, protocol
        self.on_record = on_record
        self.tools = {t.name: t for t in tools or []}
        missing = sorted(sop.tool_names() - set(self.tools))
        if missing:
            raise ValueError(f"SOP {sop.name!r} uses tools that were not given: {missing}")
        self.max_retries, self.max_steps, self.agent_steps = max_retries, max_steps, agent_steps
        self.state_path = Path(state_path) if state_path else None
        self.trace_path = Path(trace_path) if trace_path else None
        self.on_step = on_step
        self.sampling = sampling

    def run(self, task: str) -> SOPState:
        return self._loop(SOPState(self.sop.name, task, self.sop.start))

    def resume(self, state: SOPState | str | Path, user_reply: str | None = None) -> SOPState:
        """Continue a saved run; a run waiting for the user needs ``user_reply``; a failed run
        retries the step it failed on."""
        if not isinstance(state, SOPState):
            state = SOPState(**json.loads(Path(state).read_text("utf-8")))
        if state.sop != self.sop.name:
            raise ValueError(f"the state belongs to SOP {state.sop!r}, not {self.sop.name!r}")
        if state.status == "waiting_user":
            if user_reply is None:
                raise ValueError("the run is waiting for the user: pass the user's reply")
            state.outputs["user_reply"] = user_reply
            state.status = "running"
        elif state.status == "failed":
            state.status, state.error = "running", None
        return self._loop(state)

    # ------------------------------------------------------------------ the loop

    def _loop(self, state: SOPState) -> SOPState:
        while state.status == "running":
            if state.current == END or state.current is None:
                state.status = "done"
                break
            if state.steps_run >= self.max_steps:
                state.status, state.error = "failed", f"max_steps: {self.max_steps} SOP steps run"
                break
            step = self.sop.steps[state.current]
            record = self._run_step(step, state)
            state.steps_run += 1
            state.path.append(step.name)
            if record["error"]:
                state.status, state.error = "failed", f"step {step.name!r}: {record['error']}"
            else:
                state.outputs[step.name] = record["output"]
                state.current = record["next"]
                if step.handoff:
                    state.status = "waiting_user"
                elif state.current == END:
                    state.status = "done"
            row = {"event": "sop_step", **record, "status": state.status}
            self._trace(row)
            if self.on_record is not None:
                self.on_record(row)
            self._save(state)
        return state

    def _prompt(self, step: SOPStep, state: SOPState) -> str:
        parts = [f"你正在执行标准流程（SOP）「{self.sop.name}」。{self.sop.description}".strip()]
        parts.append(f"任务：{state.task}")
        if state.outputs:
            done = json.dumps(state.outputs, ensure_ascii=False, indent=1)
            parts.append(f"已完成步骤的输出：\n{done}")
        parts.append(f"当前步骤「{step.name}」：{step.instruction}")
        if step.output is not None:
            schema = json.dumps(step.output, ensure_ascii=False)
            parts.append(f"最终回答必须是一个符合此 JSON Schema 的 JSON 对象：{schema}")
        if step.branches:
            options = " / ".join(step.branches)
            parts.append(f"回答的最后一行写 `NEXT: <选项>`，选项只能是：{options}")
        return "\n\n".join(parts)

    def _check(self, step: SOPStep, answer: str) -> tuple[Any, str | None]:
        """(output, next step) or raise ValueError with a message for the model."""
        nxt = step.next
        if step.branches:
            found = _NEXT.findall(answer)
            if not found:
                raise ValueError(
                    f"缺少最后一行 `NEXT: <选项>`（选项：{' / '.join(step.branches)}）"
                )
            choice = found[-1].strip().strip("`'\"「」")
            if choice not in step.branches:
                raise ValueError(
                    f"NEXT 选项 {choice!r} 不存在；只能是：{' / '.join(step.branches)}"
                )
            nxt = step.branches[choice]
            answer = _NEXT.sub("", answer).strip()
        if step.output is None:
            return answer, nxt
        try:
            value = loads_lenient(answer)
        except JSONParseError as e:
            raise ValueError(f"输出不是 JSON：{e}") from None
        try:
            return validate_value(value, step.output, ""), nxt
        except ToolArgumentError as e:
            raise ValueError(f"输出不符合 schema：{e}") from None

    def _run_step(self, step: SOPStep, state: SOPState) -> dict:
        agent = Agent(
            self.model,
            [self.tools[t] for t in step.tools],
            self.protocol,
            max_steps=self.agent_steps,
            on_step=self.on_step,
            sampling=self.sampling,
        )
        question, history = self._prompt(step, state), []
        calls, error = [], None
        for attempt in range(1, self.max_retries + 2):
            result = agent.run(question, history)
            calls += [
                {"name": c.name, "arguments": c.arguments, "ok": c.ok}
                for s in result.steps
                for c in s.calls
            ]
            if result.answer is None:
                error = f"no answer ({result.stop_reason})"
            else:
                try:
                    output, nxt = self._check(step, result.answer)
                    return {
                        "step": step.name,
                        "attempts": attempt,
                        "output": output,
                        "next": nxt,
                        "calls": calls,
                        "error": None,
                    }
                except ValueError as e:
                    error = str(e)
            history += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": result.answer or "(没有回答)"},
            ]
            question = f"上一个回答不合格：{error}\n请重新完成当前步骤「{step.name}」。"
        return {
            "step": step.name,
            "attempts": self.max_retries + 1,
            "output": None,
            "next": None,
            "calls": calls,
            "error": error,
        }

    def _save(self, state: SOPState) -> None:
        if self.state_path is not None:
            atomic_write_text(
                self.state_path, json.dumps(asdict(state), ensure_ascii=False, indent=1)
            )

    def _trace(self, row: dict) -> None:
        if self.trace_path is not None:
            self.trace_path.parent.mkdir(parents=True, exist_ok=True)
            with self.trace_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
