"""tiny-universe's held-out split as chat requests: what the ``universe`` task sends and scores.

``python -m qwen_blog universe`` trains the ``tiny-universe`` model and ships, beside it in
``tinyqwen/assets/tiny-universe/``, ``heldout.jsonl``: its test split (templates and entities never
seen in training), one conversation per line::

    {"messages": [...], "tools": [...]?, "task": "calc_qwen", "lang": "zh", "answer": "...",
     "value": "219", "expression": "906 - 687", "citation": 2?, "arguments": {...}?, ...}

tinyeval finds it through ``tinyqwen.tiny_universe.ASSET_DIR`` (a task's ``data.path``
``"tiny-universe:heldout.jsonl"``), so it needs only tinyqwen, never qwen-blog. Each line becomes
one request: the messages before the first assistant turn, sent through the model's chat template

* with ``tools=`` for ``calc_qwen`` / ``clock_qwen`` (the Qwen2.5 ``<tool_call>`` protocol);
* plus an open assistant message ``"Thought:"`` continued with ``continue_final_message=True`` and
  stopped at ``Observation`` for ``calc_react`` / ``clock_react`` -- exactly how tinyagent's ReAct
  loop asks for its first step;
* as they are for ``rag`` / ``refuse`` (tinyrag's system prompt and numbered sources).

and carries the gold facts ``metrics/universe.py`` scores the reply against: the tool the gold
turn calls and its arguments, the offered tool names, ``value``, ``citation``.

    >>> row = {"task": "calc_qwen", "lang": "en", "value": "12", "answer": "4 + 8 = 12.",
    ...        "tools": [{"type": "function", "function": {"name": "calculator", "parameters": {}}}],
    ...        "messages": [{"role": "user", "content": "4 plus 8?"},
    ...                     {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
    ...                      "function": {"name": "calculator", "arguments": '{"expression": "4 + 8"}'}}]}]}
    >>> ex = universe_example(row, "heldout.jsonl:1")
    >>> ex["conversation"], ex["tool"], ex["arguments"], ex["offered"]
    ([{'role': 'user', 'content': '4 plus 8?'}], 'calculator', {'expression': '4 + 8'}, ['calculator'])

``chat`` lines are skipped: a greeting has many right replies and the gold one is a single
template, so exact match would measure the template, not a skill (issue 20 sets no chat target).

Limits: a line whose first assistant turn has no tool call for a tool subtask, or a ``rag`` line
without ``value``/``citation``, is an error naming the file and line (the split is generated, so
this means a corpus change the scorer does not know).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tinyeval.metrics.universe import SUBTASKS, TOOL_SUBTASKS, qwen_tool_call, react_action

PATH_PREFIX = "tiny-universe:"  # data.path "tiny-universe:heldout.jsonl" -> ASSET_DIR/heldout.jsonl
SCRATCHPAD = "Thought:"  # tinyagent's ReAct scratchpad starts the assistant turn with this
REACT_STOP = ["\nObservation", "Observation:"]  # tinyagent's ReAct stop words
SKIPPED = ("chat",)

_QUESTION = re.compile(r"(?:Question: |问题：)")
_ONE_OF = re.compile(r"should be one of \[([^\]]*)\]")
_REACT_TOOL = re.compile(r"^(\w+): .*? Parameters: (\{.*\})$", re.M)


def asset_path(relative: str) -> Path:
    """``relative`` inside the installed tiny-universe asset folder."""
    from tinyqwen.tiny_universe import ASSET_DIR

    return ASSET_DIR / relative


def _defaults(parameters: dict) -> dict:
    props = parameters.get("properties") if isinstance(parameters, dict) else None
    return {k: v["default"] for k, v in (props or {}).items() if "default" in v}


def _react_tools(system: str) -> tuple[list[str], dict[str, dict]]:
    """Offered tool names and their argument defaults, from a ReAct system prompt."""
    m = _ONE_OF.search(system)
    names = [n.strip() for n in m.group(1).split(",") if n.strip()] if m else []
    defaults = {}
    for name, params in _REACT_TOOL.findall(system):
        try:
            defaults[name] = _defaults(json.loads(params))
        except json.JSONDecodeError:
            defaults[name] = {}
    return names, defaults


def _tool_fields(row: dict, prompt: list[dict], gold: dict, where: str) -> dict[str, Any]:
    if row["task"].endswith("_react"):
        names, defaults = _react_tools(prompt[0].get("content", "") if prompt else "")
        text = gold.get("content") or ""
        call = react_action(text[len(SCRATCHPAD) :] if text.startswith(SCRATCHPAD) else text)
        fields = {
            "protocol": "react",
            "conversation": [*prompt, {"role": "assistant", "content": SCRATCHPAD}],
            "stop": REACT_STOP,
        }
    else:
        tools = row.get("tools")
        if not isinstance(tools, list) or not tools:
            raise ValueError(f"{where}: a {row['task']} line needs a non-empty 'tools' list")
        fns = [t.get("function") or {} for t in tools]
        names = [f.get("name") for f in fns]
        defaults = {f.get("name"): _defaults(f.get("parameters")) for f in fns}
        call = qwen_tool_call(gold.get("tool_calls"))
        fields = {"protocol": "qwen", "conversation": prompt, "tools": tools}
    if call is None:
        raise ValueError(
            f"{where}: the gold assistant turn of this {row['task']} line has no tool call"
        )
    if call[0] == "calculator" and not isinstance(row.get("value"), str):
        raise ValueError(f"{where}: a calculator line needs the gold number as string 'value'")
    return {
        **fields,
        "offered": names,
        "tool": call[0],
        "arguments": call[1],
        "defaults": defaults.get(call[0], {}),
        "value": row.get("value"),
    }


def universe_example(row: dict, where: str) -> dict[str, Any]:
    """One held-out line -> a request (``conversation``, ``tools``?, ``stop``?) plus gold fields."""
    subtask = row.get("task")
    if subtask not in SUBTASKS:
        raise ValueError(f"{where}: unknown 'task' {subtask!r}; expected one of {SUBTASKS}")
    messages = row.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError(f"{where}: 'messages' must be a list of message objects")
    first = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), None)
    if first is None:
        raise ValueError(f"{where}: 'messages' has no assistant turn to score against")
    prompt, gold = messages[:first], messages[first]
    last_user = next((m for m in reversed(prompt) if m.get("role") == "user"), {})
    ex: dict[str, Any] = {
        "subtask": subtask,
        "lang": row.get("lang"),
        "question": row.get("question") or _QUESTION.split(last_user.get("content") or "")[-1],
        "answers": [row.get("answer") or gold.get("content") or ""],
    }
    if subtask in TOOL_SUBTASKS:
        ex.update(_tool_fields(row, prompt, gold, where))
    else:
        ex["conversation"] = prompt
        if subtask == "rag":
            if not isinstance(row.get("value"), str) or not isinstance(row.get("citation"), int):
                raise ValueError(f"{where}: a rag line needs string 'value' and integer 'citation'")
            ex.update(value=row["value"], citation=row["citation"])
    return ex


def universe_rows(path: Path, subtasks: list[str] | None = None) -> list[tuple[str, dict]]:
    """``(where, example)`` for every line of ``path`` whose subtask is wanted (default: all but
    ``chat``), in file order."""
    wanted = set(subtasks or SUBTASKS)
    unknown = wanted - set(SUBTASKS)
    if unknown:
        raise ValueError(f"data.subtasks: unknown {sorted(unknown)}; expected some of {SUBTASKS}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: invalid JSON line: {e}") from e
            if not isinstance(row, dict):
                raise ValueError(f"{where}: a held-out line must be a JSON object")
            name = row.get("task")
            if name in SKIPPED or (name in SUBTASKS and name not in wanted):
                continue
            rows.append((where, universe_example(row, where)))
    return rows
