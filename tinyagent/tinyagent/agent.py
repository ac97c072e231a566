"""The agent loop: ask the model, run the tools it calls, feed the results back, until it answers.

    >>> from tinyagent import Agent
    >>> from tinyagent.scripted import ScriptedChatModel
    >>> from tinyagent.tools import calculator
    >>> model = ScriptedChatModel([
    ...     ' I need to multiply.\\nAction: calculator\\nAction Input: {"expression": "17*23"}',
    ...     " I know it.\\nFinal Answer: 391",
    ... ])
    >>> Agent(model, [calculator], protocol="react").run("17*23?").answer   # doctest: +SKIP
    '391'

Every failure a small model produces is turned into an observation the model can act on, never an
exception that ends the run: unparsable output, an unknown tool, arguments that do not fit the schema
(validated by ``Tool.validate``), a tool that raises. The run stops on

- ``final_answer``: the model answered;
- ``max_steps``: ``max_steps`` model turns without an answer;
- ``loop``: the model repeated an identical call (same tool, same validated arguments) after being
  told once that it already has that result (``repeat_limit`` warnings are allowed before stopping).

Each step is yielded by ``Agent.stream`` as it happens (the CLI prints them live) and, with
``trace_path``, appended as one JSON line to a trace file (append + flush per line, so a crashed run
still leaves its steps; not an atomic write by design).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tinyagent.qwen_tools import QwenProtocol
from tinyagent.react import ReActProtocol
from tinyagent.tool import Tool, ToolArgumentError
from tinyagent.turn import ToolCall, Turn
from tinyqwen.chat_model import ChatModel
from tinyqwen.sampling import Sampling

__all__ = ["Agent", "AgentResult", "Step", "CallRecord"]


@dataclass
class CallRecord:
    """One tool call as executed (or refused) and the observation the model got back."""

    name: str
    arguments: Any
    observation: str
    ok: bool


@dataclass
class Step:
    """One model turn and what the agent did with it."""

    index: int
    kind: str  # "tool" | "final" | "format_error" | "stopped"
    thought: str = ""
    calls: list[CallRecord] = field(default_factory=list)
    answer: str | None = None
    error: str | None = None
    raw: str = ""
    seconds: float = 0.0
    reasoning: str = ""  # the model's thinking (Qwen3), for the trace only


@dataclass
class AgentResult:
    """The outcome of one run: the answer (None if there is none), why it stopped, every step."""

    answer: str | None
    stop_reason: (
        str  # "final_answer" | "max_steps" | "loop" (a backend error is raised, not returned)
    )
    steps: list[Step]


def _with_defaults(tool: Tool, args: dict) -> dict:
    """``args`` plus the function's defaults, so {"city": "x"} and {"city": "x", "unit": "C"} match."""
    try:
        bound = inspect.signature(tool.fn).bind(**args)
    except TypeError:
        return args
    bound.apply_defaults()
    return dict(bound.arguments)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


class Agent:
    """A tool-using agent over any tinyqwen ``ChatModel`` with the ``react`` or ``qwen`` protocol."""

    def __init__(
        self,
        model: ChatModel,
        tools: list[Tool],
        protocol: str = "qwen",
        *,
        max_steps: int = 8,
        repeat_limit: int = 1,
        max_observation_chars: int = 4000,
        instructions: str = "",
        trace_path: str | Path | None = None,
        on_step: Callable[[Step], None] | None = None,
        sampling: Sampling | None = None,
        context_budget: int | None = None,
        keep_steps: int = 2,
    ) -> None:
        """``context_budget``: when the run's prompt counts more tokens than this, all but the last
        ``keep_steps`` steps are summarised by the model (``tinyagent.memory.compact_run``)."""
        if protocol not in ("react", "qwen"):
            raise ValueError(f"protocol must be 'react' or 'qwen', got {protocol!r}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        self.model = model
        self.tools = {t.name: t for t in tools}
        self.protocol = protocol
        self.max_steps = max_steps
        self.repeat_limit = repeat_limit
        self.max_observation_chars = max_observation_chars
        self.instructions = instructions
        self.trace_path = Path(trace_path) if trace_path else None
        self.on_step = on_step
        self.sampling = sampling if sampling is not None else Sampling()
        self.context_budget, self.keep_steps = context_budget, keep_steps

    # ------------------------------------------------------------------ public API

    def new_protocol(self) -> ReActProtocol | QwenProtocol:
        cls = ReActProtocol if self.protocol == "react" else QwenProtocol
        return cls(list(self.tools.values()), self.instructions)

    def render(self, question: str, history: list[dict] | None = None) -> str:
        """The exact prompt text the model sees on the first step."""
        proto = self.new_protocol()
        proto.start(question, history)
        return proto.prompt()

    def run(self, question: str, history: list[dict] | None = None) -> AgentResult:
        steps: list[Step] = []
        gen = self.stream(question, history)
        while True:
            try:
                steps.append(next(gen))
            except StopIteration as stop:
                answer, reason = stop.value
                return AgentResult(answer=answer, stop_reason=reason, steps=steps)

    def stream(self, question: str, history: list[dict] | None = None) -> Iterator[Step]:
        """Yield each Step as it happens; the generator's return value is (answer, stop_reason).

        ``history`` is earlier conversation (OpenAI messages) placed before the question.
        """
        proto = self.new_protocol()
        proto.start(question, history)
        seen: dict[str, tuple[int, str]] = {}  # call key -> (step index, observation)
        strikes = 0
        trace = self._open_trace(question)
        try:
            for index in range(1, self.max_steps + 1):
                t0 = time.perf_counter()
                try:
                    if self.context_budget is not None:
                        self._compact(proto, trace)
                    turn = proto.next_turn(self.model, self.sampling)
                except Exception as e:  # the backend failed (HTTP error, context too long...)
                    self._finish(trace, None, f"backend_error: {type(e).__name__}: {e}")
                    raise
                step, repeated_only = self._handle(turn, index, seen)
                step.reasoning = turn.reasoning
                if repeated_only:
                    strikes += 1
                if step.kind == "tool" or step.kind == "format_error":
                    observations = [c.observation for c in step.calls]
                    proto.record(turn, observations)
                step.seconds = round(time.perf_counter() - t0, 3)
                self._emit(step, trace)
                yield step
                if step.kind == "final":
                    self._finish(trace, step.answer, "final_answer")
                    return step.answer, "final_answer"
                if repeated_only and strikes > self.repeat_limit:
                    stop = Step(index, "stopped", error="the model keeps repeating the same call")
                    self._emit(stop, trace)
                    yield stop
                    self._finish(trace, None, "loop")
                    return None, "loop"
            stop = Step(
                self.max_steps, "stopped", error=f"no final answer after {self.max_steps} steps"
            )
            self._emit(stop, trace)
            yield stop
            self._finish(trace, None, "max_steps")
            return None, "max_steps"
        finally:
            if trace is not None:
                trace.close()

    # ------------------------------------------------------------------ one turn

    def _handle(self, turn: Turn, index: int, seen: dict) -> tuple[Step, bool]:
        if turn.format_error is not None and not turn.calls:
            step = Step(
                index, "format_error", thought=turn.thought, error=turn.format_error, raw=turn.raw
            )
            return step, False
        if not turn.calls:
            return Step(
                index, "final", thought=turn.thought, answer=turn.final_answer, raw=turn.raw
            ), False
        records, repeated = [], 0
        for call in turn.calls:
            record, was_repeat = self._execute(call, index, seen)
            records.append(record)
            repeated += was_repeat
        step = Step(index, "tool", thought=turn.thought, calls=records, raw=turn.raw)
        step.error = turn.format_error  # blocks that could not be parsed next to good ones
        return step, repeated == len(turn.calls)

    def _resolve(self, name: str) -> Tool | None:
        if name in self.tools:
            return self.tools[name]
        folded = name.strip().strip("()").lower()
        matches = [t for n, t in self.tools.items() if n.lower() == folded]
        return matches[0] if len(matches) == 1 else None

    def _execute(self, call: ToolCall, index: int, seen: dict) -> tuple[CallRecord, bool]:
        """Run one call; every failure is returned as an error observation, never raised."""
        tool = self._resolve(call.name)
        if tool is None:
            names = ", ".join(self.tools) or "(no tools)"
            obs = f"Error: unknown tool {call.name!r}. Available tools: {names}."
            return CallRecord(call.name, call.arguments, obs, False), False
        if call.parse_error:
            obs = f"Error: could not parse the arguments for {tool.name}: {call.parse_error}"
            return CallRecord(tool.name, call.arguments, obs, False), False
        try:
            args = tool.validate(call.arguments)
        except ToolArgumentError as e:
            obs = f"Error: invalid arguments for {tool.name}: {e}"
            return CallRecord(tool.name, call.arguments, obs, False), False
        key = tool.name + json.dumps(
            _with_defaults(tool, args), sort_keys=True, ensure_ascii=False, default=str
        )
        if key in seen:
            first, previous = seen[key]
            obs = (
                f"Error: repeated call. You already called {tool.name} with these arguments at step "
                f"{first} and got: {previous}\nDo not repeat it: use that result, try something "
                "different, or give the final answer."
            )
            return CallRecord(tool.name, args, obs, False), True
        try:
            obs = _to_text(tool.fn(**args))
            ok = True
        except Exception as e:  # a tool bug must not end the run: the model sees it
            obs = f"Error: {tool.name} raised {type(e).__name__}: {e}"
            ok = False
        obs = self._truncate(obs)
        seen[key] = (index, obs)
        return CallRecord(tool.name, args, obs, ok), False

    def _truncate(self, text: str) -> str:
        cap = self.max_observation_chars
        if len(text) <= cap:
            return text
        return text[:cap] + f"\n[... truncated {len(text) - cap} characters]"

    # ------------------------------------------------------------------ trace

    def _open_trace(self, question: str):
        if self.trace_path is None:
            return None
        self.trace_path.parent.mkdir(parents=True, exist_ok=True)
        f = self.trace_path.open("a", encoding="utf-8")
        head = {
            "event": "start",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "question": question,
            "protocol": self.protocol,
            "model": self.model.name,
            "tools": [t.schema for t in self.tools.values()],
        }
        f.write(json.dumps(head, ensure_ascii=False) + "\n")
        f.flush()
        return f

    def _compact(self, proto, trace) -> None:
        from tinyagent.memory import compact_run

        row = compact_run(proto, self.model, self.context_budget, self.keep_steps)
        if row is not None and trace is not None:
            trace.write(json.dumps(row, ensure_ascii=False) + "\n")
            trace.flush()

    def _emit(self, step: Step, trace) -> None:
        if trace is not None:
            trace.write(
                json.dumps({"event": "step", **asdict(step)}, ensure_ascii=False, default=str)
                + "\n"
            )
            trace.flush()
        if self.on_step is not None:
            self.on_step(step)

    @staticmethod
    def _finish(trace, answer: str | None, reason: str) -> None:
        if trace is not None:
            trace.write(
                json.dumps(
                    {"event": "end", "answer": answer, "stop_reason": reason}, ensure_ascii=False
                )
                + "\n"
            )
            trace.flush()
