"""Run a model on BFCL v4's single-turn categories the way the leaderboard runs Qwen FC models.

    $ python -m tinyagent data fetch bfcl                  # -> <data cache>/bfcl_v4/
    $ python -m tinyagent bfcl --model ~/models/Qwen2.5-0.5B-Instruct --categories simple,irrelevance
    $ python -m tinyagent bfcl --model http://127.0.0.1:8000/v1 --mode chat --limit 50

Per test entry (``BFCL_v4_<category>.json``: ``id``, ``question`` (turns of messages), ``function``)
this does what BFCL's ``QwenFCHandler`` does:

1. every function description gets ``" Note that the provided function is in Python 3 syntax."``
   (BFCL's language hint); the functions stay in BFCL's own schema (``"type": "dict"``...);
2. the prompt is BFCL's hand-written Qwen template: ``<|im_start|>system\\n`` (+ the entry's system
   message) + ``# Tools`` + one ``json.dumps(function)`` per line inside ``<tools></tools>`` + the
   ``<tool_call>`` instruction, then the user (and later system) turns, then
   ``<|im_start|>assistant\\n`` -- sent with ``model.complete`` (``--mode prompt``, the default).
   ``--mode chat`` sends ``model.chat(messages, tools=...)`` instead (for endpoints without raw
   completions; functions converted to JSON schema types), so its numbers are not leaderboard ones;
3. the reply's ``<tool_call>\\n{...}\\n</tool_call>`` blocks are decoded (a block that is not JSON is
   skipped, as BFCL does; a block without ``name``/``arguments`` object fails the decode); a Qwen3
   ``<think>...</think>`` part is kept as ``reasoning_content`` and never decoded;
4. :func:`tinyagent.bfcl.check` scores it (BFCL's verdicts); irrelevance categories pass when there
   is no call, ``live_relevance`` when there is one.

Files, in BFCL's layout (``<model>`` = ``--name``, slashes -> ``_``; ``<group>`` = ``non_live`` or
``live``): ``<out>/result/<model>/<group>/BFCL_v4_<cat>_result.json`` (one line per entry: ``id``,
``result`` -- the raw reply, or ``"Error during inference: ..."`` -- ``reasoning_content``,
``latency``) and ``<out>/score/<model>/<group>/BFCL_v4_<cat>_score.json`` (a header line
``accuracy``/``correct_count``/``total_count``, then one line per failed entry with ``error_type``,
``error``, ``model_result_raw``, ``model_result_decoded``, ``possible_answer``). A rerun continues:
entries already in the result file are not asked again (failed inferences are).

Limits: single-turn Python categories only (no multi_turn, memory, web_search, format_sensitivity,
Java/JavaScript); ``--limit`` takes the first N entries, so a partial score is not the leaderboard's;
user text is sent inside a raw prompt, so an entry whose text contains a ``<|...|>`` special-token
string is refused (recorded as an inference error) instead of being tokenised as control tokens.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from tinyagent.bfcl import CheckResult, check
from tinyagent.thinking import split_thinking
from tinyqwen.atomic import atomic_write_text
from tinyqwen.chat_model import ChatModel
from tinyqwen.connection import add_quantize_argument
from tinyqwen.sampling import Sampling

__all__ = ["CATEGORIES", "load_entries", "qwen_fc_prompt", "decode_tool_calls", "run_category"]
__all__ += ["default_data_dir", "main"]

CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
ALIASES = {"simple": "simple_python"}
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."
TOOLS_HEADER = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
    '"arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
)
TO_JSON_SCHEMA = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}
_SPECIAL = re.compile(r"<\|[a-z_]+\|>")


def default_data_dir() -> Path:
    """``<data cache>/bfcl_v4`` (``$TINYU_DATA_DIR`` or ``~/.cache/tiny-universe/data``)."""
    from tinyqwen.data_cache import data_dir

    return data_dir() / "bfcl_v4"


def group_of(category: str) -> str:
    return "live" if category.startswith("live_") else "non_live"


def _jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: invalid JSON: {e}") from None
    return rows


def load_entries(data_dir: str | Path, category: str, limit: int | None = None) -> list[dict]:
    """Entries of one category with ``ground_truth`` joined in (``None`` for (ir)relevance)."""
    category = ALIASES.get(category, category)
    if category not in CATEGORIES:
        raise ValueError(
            f"unsupported BFCL category {category!r}; supported: {', '.join(CATEGORIES)}"
        )
    data_dir = Path(data_dir)
    qpath = data_dir / f"BFCL_v4_{category}.json"
    if not qpath.is_file():
        raise FileNotFoundError(
            f"{qpath} not found; fetch the data with `python -m tinyagent data fetch bfcl` "
            "or pass --data-dir"
        )
    entries = _jsonl(qpath)[:limit]
    if not category.endswith("relevance"):
        apath = data_dir / "possible_answer" / qpath.name
        if not apath.is_file():
            raise FileNotFoundError(f"{apath} not found (the possible answers of {category})")
        answers = {r["id"]: r["ground_truth"] for r in _jsonl(apath)}
        for e in entries:
            if e["id"] not in answers:
                raise ValueError(f"{apath}: no possible answer for {e['id']!r}")
            e["ground_truth"] = answers[e["id"]]
    for e in entries:
        e.setdefault("ground_truth", None)
        e["functions"] = _with_hint(e["function"])
    return entries


def _with_hint(functions: list[dict]) -> list[dict]:
    out = copy.deepcopy(functions)
    for f in out:
        f["description"] = f.get("description", "") + PYTHON_HINT
    return out


def qwen_fc_prompt(messages: list[dict], functions: list[dict]) -> str:
    """BFCL's ``QwenFCHandler._format_prompt``: the Qwen3 template written out by hand::

    >>> p = qwen_fc_prompt([{"role": "user", "content": "hi"}], [{"name": "f"}])
    >>> p.startswith('<|im_start|>system\\n# Tools') and '\\n{"name": "f"}\\n</tools>' in p
    True
    >>> p.endswith('</tool_call><|im_end|>\\n<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n')
    True
    """
    out = ""
    if functions:
        out += "<|im_start|>system\n"
        if messages and messages[0]["role"] == "system":
            out += messages[0]["content"] + "\n\n"
        out += TOOLS_HEADER + "".join(f"\n{json.dumps(f)}" for f in functions) + TOOLS_FOOTER
    elif messages and messages[0]["role"] == "system":
        out += f"<|im_start|>system\n{messages[0]['content']}<|im_end|>\n"
    last_query = len(messages) - 1
    for i in range(len(messages) - 1, -1, -1):
        c = messages[i]["content"]
        if messages[i]["role"] == "user" and isinstance(c, str):
            if not (c.startswith("<tool_response>") and c.endswith("</tool_response>")):
                last_query = i
                break
    for i, m in enumerate(messages):
        role, content = m["role"], m.get("content") or ""
        if role == "user" or (role == "system" and i != 0):
            out += f"<|im_start|>{role}\n{content}<|im_end|>\n"
        elif role == "assistant":
            out += _assistant(m, content, i > last_query, i == len(messages) - 1)
        elif role == "tool":
            if i == 0 or messages[i - 1]["role"] != "tool":
                out += "<|im_start|>user"
            out += f"\n<tool_response>\n{content}\n</tool_response>"
            if i == len(messages) - 1 or messages[i + 1]["role"] != "tool":
                out += "<|im_end|>\n"
    return out + "<|im_start|>assistant\n"


def _assistant(m: dict, content: str, after_query: bool, last: bool) -> str:
    reasoning = m.get("reasoning_content") or ""
    if not reasoning and "</think>" in content:
        parts = content.split("</think>")
        reasoning = parts[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
        content = parts[-1].lstrip("\n")
    out = "<|im_start|>assistant\n"
    if after_query and (last or reasoning):
        out += "<think>\n" + reasoning.strip("\n") + "\n</think>\n\n" + content.lstrip("\n")
    else:
        out += content
    for k, tc in enumerate(m.get("tool_calls") or []):
        if k > 0 or content:
            out += "\n"
        fn = tc.get("function", tc)
        args = fn["arguments"] if isinstance(fn["arguments"], str) else json.dumps(fn["arguments"])
        out += (
            '<tool_call>\n{"name": "' + fn["name"] + '", "arguments": ' + args + "}\n</tool_call>"
        )
    return out + "<|im_end|>\n"


def split_reasoning(text: str) -> tuple[str, str]:
    """``(reasoning, reply)``: a Qwen3 ``<think>...</think>`` part is cut off, as BFCL does."""
    return split_thinking(text)


def decode_tool_calls(text: str) -> list[dict]:
    """``<tool_call>\\n{json}\\n</tool_call>`` blocks -> ``[{name: args}]`` (BFCL's Qwen decoder).

    >>> decode_tool_calls('<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>')
    [{'f': {'x': 1}}]
    """
    calls = []
    for block in re.findall(r"<tool_call>\n(.*?)\n</tool_call>", text, re.S):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            continue  # BFCL skips a block that is not JSON
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("arguments"), dict)
            or "name" not in obj
        ):
            raise ValueError(f"a tool call without a name and an arguments object: {block[:120]!r}")
        calls.append({obj["name"]: dict(obj["arguments"])})
    return calls


def _json_schema(node: Any) -> Any:
    """BFCL's schema types -> JSON schema types (``--mode chat`` only)."""
    if isinstance(node, dict):
        out = {k: _json_schema(v) for k, v in node.items()}
        if isinstance(out.get("type"), str):
            out["type"] = TO_JSON_SCHEMA.get(out["type"], out["type"])
        return out
    if isinstance(node, list):
        return [_json_schema(v) for v in node]
    return node


def infer(model: ChatModel, entry: dict, mode: str, sampling: Sampling) -> dict:
    """One inference: ``{"id", "result", "reasoning_content", "latency"}`` (errors recorded)."""
    messages = entry["question"][0]
    t0 = time.perf_counter()
    try:
        if mode == "prompt":
            untrusted = json.dumps([messages, entry["functions"]], ensure_ascii=False)
            if _SPECIAL.search(untrusted):
                raise ValueError("the entry's text contains a special-token string; refused")
            text = model.complete(qwen_fc_prompt(messages, entry["functions"]), sampling=sampling)
        else:
            tools = [{"type": "function", "function": _json_schema(f)} for f in entry["functions"]]
            reply = model.chat(messages, tools=tools, sampling=sampling)
            text = reply.get("content") or ""
            for tc in reply.get("tool_calls") or []:
                fn = tc.get("function", tc)
                args = fn.get("arguments")
                args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
                text += f'\n<tool_call>\n{{"name": {json.dumps(fn["name"])}, "arguments": {args}}}\n</tool_call>'
        reasoning, text = split_reasoning(text)
    except Exception as e:  # a backend error is a failed entry, not a crashed run
        reasoning, text = "", f"Error during inference: {type(e).__name__}: {e}"
    return {
        "id": entry["id"],
        "result": text,
        "reasoning_content": reasoning,
        "latency": round(time.perf_counter() - t0, 3),
    }


def score_entry(entry: dict, category: str, result: str) -> dict:
    """``{"valid": True}`` or BFCL's failed-entry record."""
    decoded: Any = None
    try:
        decoded = decode_tool_calls(result)
        r = check(entry["function"], decoded, entry["ground_truth"] or [], category)
    except ValueError as e:
        if category.endswith("irrelevance"):
            r = CheckResult(True)  # a reply that does not decode is "no call"
        elif category.endswith("relevance"):
            r = CheckResult(False, "relevance_error:decoder_failed", str(e))
        else:
            r = CheckResult(False, "ast_decoder:decoder_failed", str(e))
    if r.valid:
        return {"valid": True}
    return {
        "id": entry["id"],
        "test_category": category,
        "valid": False,
        "error": [r.error],
        "error_type": r.error_type,
        "model_result_raw": result,
        "model_result_decoded": decoded,
        "possible_answer": entry["ground_truth"],
    }


def _write_rows(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def run_category(
    model: ChatModel,
    entries: list[dict],
    category: str,
    out: str | Path,
    model_name: str,
    mode: str = "prompt",
    sampling: Sampling | None = None,
    on_entry=None,
) -> dict:
    """Infer (resuming), score, write BFCL's result and score files; returns the score header
    plus ``inference_errors`` (count) and ``first_inference_error``."""
    category = ALIASES.get(category, category)
    sampling = sampling or Sampling(max_new_tokens=512)
    name = model_name.replace("/", "_")
    sub = Path(name) / group_of(category)
    rpath = Path(out) / "result" / sub / f"BFCL_v4_{category}_result.json"
    done = {}
    if rpath.is_file():
        done = {r["id"]: r for r in _jsonl(rpath) if not r["result"].startswith("Error during")}
    results = []
    for i, entry in enumerate(entries):
        row = done.get(entry["id"]) or infer(model, entry, mode, sampling)
        results.append(row)
        if on_entry:
            on_entry(i, row)
        if entry["id"] not in done and i % 20 == 19:
            _write_rows(rpath, results)
    _write_rows(rpath, results)
    failed = [
        s
        for e, r in zip(entries, results)
        if not (s := score_entry(e, category, r["result"]))["valid"]
    ]
    header = {
        "accuracy": (len(entries) - len(failed)) / max(len(entries), 1),
        "correct_count": len(entries) - len(failed),
        "total_count": len(entries),
    }
    _write_rows(Path(out) / "score" / sub / f"BFCL_v4_{category}_score.json", [header, *failed])
    errors = [r["result"] for r in results if r["result"].startswith("Error during inference")]
    return {
        **header,
        "inference_errors": len(errors),
        "first_inference_error": errors[0] if errors else "",
    }


def main(argv: list[str]) -> int:
    """``python -m tinyagent bfcl``: run and score; a table on stdout, BFCL's files under --out."""
    p = argparse.ArgumentParser(
        prog="python -m tinyagent bfcl",
        description="Run a model on BFCL v4 (Qwen FC prompt format) and score it with BFCL's rules.",
    )
    p.add_argument(
        "--model", default="tiny-random", help="checkpoint dir | tiny-random | http://host:port/v1"
    )
    add_quantize_argument(p)
    p.add_argument(
        "--categories",
        default="simple,multiple,parallel,parallel_multiple,irrelevance",
        help=f"comma-separated, or 'all': {', '.join(CATEGORIES)}",
    )
    p.add_argument(
        "--data-dir", default=None, help=f"BFCL v4 data folder (default {default_data_dir()})"
    )
    p.add_argument("--out", default="bfcl_runs", help="folder for result/ and score/")
    p.add_argument(
        "--name", default=None, help="model name in the file layout (default: the model's)"
    )
    p.add_argument("--mode", choices=("prompt", "chat"), default="prompt")
    p.add_argument("--limit", type=int, default=None, help="first N entries per category")
    p.add_argument("--max-new-tokens", type=int, default=512)
    args = p.parse_args(argv)
    cats = list(CATEGORIES) if args.categories == "all" else args.categories.split(",")
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    try:
        loaded = [(ALIASES.get(c, c), load_entries(data_dir, c, args.limit)) for c in cats]
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from tinyagent.cli import _connect

    model = _connect(args.model, args.quantize)
    name = args.name or Path(str(model.name)).name or "model"
    sampling = Sampling(max_new_tokens=args.max_new_tokens)
    print("| category | accuracy | correct/total | inference errors |\n|---|---|---|---|")
    for cat, entries in loaded:
        s = run_category(model, entries, cat, args.out, name, args.mode, sampling)
        print(
            f"| {cat} | {s['accuracy']:.3f} | {s['correct_count']}/{s['total_count']} "
            f"| {s['inference_errors']} |",
            flush=True,
        )
        if s["inference_errors"]:
            print(f"  first inference error: {s['first_inference_error'][:300]}")
    print(f"files: {Path(args.out) / 'score' / name.replace('/', '_')}")
    return 0
