"""The ReAct text protocol (Yao et al. 2022): Thought / Action / Action Input / Observation / Final Answer.

The model sees one chat prompt (rendered with tinyqwen's Qwen2.5 template) whose system message lists
the tools and the format, then an open assistant turn that holds the scratchpad so far. Each step we
call ``model.chat(messages + [scratchpad], continue_final_message=True, stop=["Observation:"])``,
parse what came back, run the tool, and append ``Observation: ...`` plus a fresh ``Thought:`` to the
scratchpad (a chat call, so tool output in the scratchpad is encoded as plain text, never as special
tokens)::

    <|im_start|>system ... tools + format ...<|im_end|>
    <|im_start|>user
    Question: what is 17 * 23?<|im_end|>
    <|im_start|>assistant
    Thought: I should multiply.
    Action: calculator
    Action Input: {"expression": "17 * 23"}
    Observation: 391
    Thought:                      <- the model continues from here

Robustness: a stop word the model only half produced (``"Observ"``) or an ``Observation:`` it wrote
itself is cut away; the Action Input may be JSON in a code fence, single-quoted, with trailing commas,
or a bare string for a tool with one parameter; ``Action: search[Paris]`` (the original ReAct paper's
form) is accepted too. Anything unparsable becomes a ``Turn.format_error`` that is shown to the model.

Limits: one tool call per step (ReAct has no parallel calls; use the ``qwen`` protocol for those);
the prompt is Qwen's chat format, so other model families see a foreign template.
"""

from __future__ import annotations

import json
import re

from tinyagent.parsing import JSONParseError, loads_lenient, strip_code_fences, strip_partial_stop
from tinyagent.thinking import split_thinking
from tinyagent.tool import Tool
from tinyagent.turn import ToolCall, Turn
from tinyqwen.chat_model import ChatModel
from tinyqwen.sampling import Sampling

__all__ = ["ReActProtocol", "parse_react", "react_system_prompt", "STOP_WORDS"]

# "\nObservation" also stops the numbered form of the paper ("Observation 1:")
STOP_WORDS = ["\nObservation", "Observation:"]
FINISH_NAMES = ("finish", "final answer", "final_answer", "answer")

_ACTION = re.compile(r"^[ \t]*Action[ \t]*\d*[ \t]*:[ \t]*(.*?)[ \t]*$", re.M)
_ACTION_INPUT = re.compile(r"^[ \t]*Action[ \t]*Input[ \t]*\d*[ \t]*:[ \t]*", re.M)
_FINAL = re.compile(r"Final[ \t]*Answer[ \t]*:[ \t]*", re.I)
_NEXT_BLOCK = re.compile(r"\n[ \t]*(Thought|Action|Final[ \t]*Answer)[ \t]*\d*[ \t]*:", re.I)
_BRACKET_ACTION = re.compile(r"^(\w+)\s*[\[(](.*)[\])]$", re.S)
_OBSERVATION = re.compile(r"(?:^|\n)[ \t]*Observation[ \t]*\d*[ \t]*:")

_FORMAT = """Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [{names}]
Action Input: the input to the action, as a JSON object
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can be repeated zero or more times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question"""


def react_system_prompt(tools: list[Tool], instructions: str = "") -> str:
    """The system message: tool list (name, description, JSON parameters) + the ReAct format."""
    lines = [
        "Answer the following questions as best you can. You have access to the following tools:",
        "",
    ]
    for t in tools:
        params = json.dumps(t.parameters, ensure_ascii=False)
        lines.append(f"{t.name}: {t.description} Parameters: {params}")
    lines += ["", _FORMAT.format(names=", ".join(t.name for t in tools)), "", "Begin!"]
    if instructions:
        lines = [instructions, ""] + lines
    return "\n".join(lines)


def _single_param(tool: Tool | None) -> str | None:
    """The one parameter a bare-string Action Input can fill, if the tool has exactly one."""
    if tool is None:
        return None
    props = tool.parameters.get("properties", {})
    required = tool.parameters.get("required", [])
    if len(required) == 1:
        return required[0]
    return next(iter(props)) if len(props) == 1 else None


def _parse_action_input(raw: str, tool: Tool | None) -> tuple[dict | str, str | None]:
    """(arguments, parse_error) for the text after ``Action Input:``."""
    raw = raw.strip()
    props = tool.parameters.get("properties", {}) if tool is not None else {}
    try:
        value, error = loads_lenient(raw), None
    except JSONParseError as e:
        value, error = None, str(e)
    # a JSON object is the arguments -- unless it was found inside other text, none of its keys
    # is a parameter, and the tool takes one bare value (e.g. code that prints a dict)
    param = _single_param(tool)
    body = strip_code_fences(raw).strip("`").strip()  # ```python ... ``` -> the code
    whole_object = body.startswith("{") and body.endswith("}")
    if isinstance(value, dict) and (whole_object or param is None or set(value) & set(props)):
        return value, None
    if param is not None and raw:
        try:
            whole = json.loads(body)  # the entire input is one JSON value: "Paris", 42, [1, 2]
        except json.JSONDecodeError:
            quoted = len(body) >= 2 and body[0] == body[-1] and body[0] in "'\""
            whole = body[1:-1] if quoted and body[0] not in body[1:-1] else body
        return {param: whole}, None
    if error is None:
        error = f"Action Input must be a JSON object, got {type(value).__name__}"
    return raw, error


def _answer_text(raw: str) -> str:
    """The answer in ``Action: Finish`` input: plain text, or the one value of a JSON object."""
    raw = raw.strip()
    try:
        value = loads_lenient(raw)
    except JSONParseError:
        return raw
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_react(text: str, tools: dict[str, Tool] | None = None) -> Turn:
    """Parse one ReAct continuation (the text generated after ``Thought:``) into a Turn."""
    tools = tools or {}
    invented = _OBSERVATION.search(text)  # an observation the model wrote itself
    text = strip_partial_stop(text[: invented.start()] if invented else text, ["Observation:"])
    action, final = _ACTION.search(text), _FINAL.search(text)
    if action and (final is None or action.start() < final.start()):
        thought = text[: action.start()].strip()
        name = action.group(1).strip().strip("`'\"*").strip()
        rest = text[action.end() :]
        inp = _ACTION_INPUT.search(rest)
        bracket = _BRACKET_ACTION.match(name)
        if inp is None and bracket:  # Action: search[Paris]
            name, raw_input = bracket.group(1), bracket.group(2)
            text = text[: action.end()]
        elif inp is None:
            return Turn(
                raw=text,
                thought=thought,
                format_error=(
                    f"Invalid format: 'Action: {name}' must be followed by a line "
                    "'Action Input: <JSON object>'."
                ),
            )
        else:
            raw_input = rest[inp.end() :]
            nxt = _NEXT_BLOCK.search(raw_input)
            if nxt:  # the model went on with another block it should not have written yet
                raw_input = raw_input[: nxt.start()]
            text = text[: action.end()] + rest[: inp.end()] + raw_input.rstrip()
        if name.lower() in FINISH_NAMES and name not in tools:  # Action: Finish[answer]
            return Turn(raw=text.rstrip(), thought=thought, final_answer=_answer_text(raw_input))
        args, error = _parse_action_input(raw_input, tools.get(name))
        call = ToolCall(name=name, arguments=args, parse_error=error)
        return Turn(raw=text.rstrip(), thought=thought, calls=[call])
    if final:
        answer = text[final.end() :].strip()
        return Turn(raw=text, thought=text[: final.start()].strip(), final_answer=answer)
    return Turn(
        raw=text,
        thought=text.strip(),
        format_error=(
            "Invalid format: write 'Action: <tool name>' and 'Action Input: <JSON object>' to use "
            "a tool, or 'Final Answer: <answer>' to finish."
        ),
    )


class ReActProtocol:
    """Per-run state for the ReAct protocol: the chat messages and the growing scratchpad."""

    name = "react"

    def __init__(self, tools: list[Tool], instructions: str = "") -> None:
        self.tools = {t.name: t for t in tools}
        self.system = react_system_prompt(tools, instructions)
        self.messages: list[dict] = []
        self.scratchpad = ""

    def start(self, question: str, history: list[dict] | None = None) -> None:
        self.messages = [{"role": "system", "content": self.system}, *(history or [])]
        self.messages.append({"role": "user", "content": f"Question: {question}"})
        self.scratchpad = "Thought:"

    def _conversation(self) -> list[dict]:
        # the scratchpad is an open assistant message that the model continues
        return [*self.messages, {"role": "assistant", "content": self.scratchpad}]

    def prompt(self) -> str:
        """The exact text the model is asked to continue."""
        from tinyqwen import render_chat

        return render_chat(
            self._conversation(), add_generation_prompt=False, continue_final_message=True
        )

    def next_turn(self, model: ChatModel, sampling: Sampling) -> Turn:
        # chat(continue_final_message=True), not complete(prompt): the scratchpad holds tool
        # observations (web pages, files), and only the chat path encodes message text with
        # special-token strings as plain text, so an observation cannot forge a turn.
        stop = (*sampling.stop, *STOP_WORDS, "<|im_end|>", "<|endoftext|>")
        reply = model.chat(
            self._conversation(),
            continue_final_message=True,
            sampling=sampling.replace(stop=stop),
        )
        reasoning, text = split_thinking(reply)  # a Qwen3 <think> block is not part of ReAct
        turn = parse_react(text, self.tools)
        turn.reasoning = reasoning
        return turn

    def record(self, turn: Turn, observations: list[str]) -> None:
        body = turn.raw.strip()
        obs = "\n".join(observations) if observations else (turn.format_error or "")
        self.scratchpad += f" {body}\nObservation: {obs}\nThought:"
