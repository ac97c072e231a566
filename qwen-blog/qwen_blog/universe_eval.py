"""``python -m qwen_blog universe-eval``: held-out metrics of a ``universe`` model, through the real loops.

    python -m qwen_blog universe-eval --model runs/universe/model                  # 300 test items
    python -m qwen_blog universe-eval --model runs/universe/model --n 50 --report r.json

The held-out split (:mod:`qwen_blog.universe_corpus`, ``split="test"``: unseen templates and
entities) is regenerated from ``--seed`` or read from ``--data``. Each item runs the way the
mini-projects run it:

* tool tasks go through **tinyagent's** ``Agent`` (``qwen`` or ``react`` protocol, its real
  ``calculator`` and ``current_time`` tools, greedy decoding);
* grounded QA and refusals send **tinyrag's** answer prompt and parse ``[n]`` citations.

Metrics (the issue's targets in brackets):

======================== ==========================================================================
``format_valid``         first agent step is a parsable call of an offered tool (>= 98 %)
``call_correct``         calculator: the called expression evaluates to the right number
``clock_call_correct``   clock: the called time zone is the question's city's (UTC when none is named)
``agent_success``        the final answer contains the right number / date / time / weekday (>= 90 %);
                         for the clock the truth is read from the observation the real tool returned
``qa_exact``             the answer contains the gold value and cites exactly the right source (>= 80 %)
``refusal_acc``          unanswerable questions answered with tinyrag's refusal sentence (>= 80 %)
``false_refusal``        answerable questions refused (lower is better)
======================== ==========================================================================

Limits: needs tinyagent installed (the agent loop is the thing measured); the clock's
``agent_success`` compares with the observation, so it measures reading the tool's output -- whether
the model asked for the right city is ``clock_call_correct``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from tinyqwen.connection import add_quantize_argument

_CITE = re.compile(r"\[(\d+)\]")  # tinyrag parses [1, 2] too; a universe model writes one [n]
_KIND = [  # the piece of a clock reading the question asks for: regex on the observation
    (re.compile(r"^\d{2}:\d{2}$"), re.compile(r" (\d{2}:\d{2}):\d{2} ")),
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), re.compile(r"^(\d{4}-\d{2}-\d{2}) ")),
    (re.compile(r"^[A-Z][a-z]+day$"), re.compile(r", ([A-Z][a-z]+day)$")),
]


def _agent_item(llm, conv: dict, max_new_tokens: int) -> dict:
    from tinyagent.agent import Agent
    from tinyagent.tools.calculator import calculator, evaluate
    from tinyagent.tools.clock import current_time
    from tinyqwen.sampling import Sampling

    offered = {s["function"]["name"] for s in conv.get("tools") or []}
    if not offered:  # react conversations carry their tools in the system prompt
        offered = {
            n
            for n in ("calculator", "current_time")
            if f"\n{n}: " in conv["messages"][0]["content"]
        }
    tools = [t for t in (calculator, current_time) if t.name in offered]
    protocol = "qwen" if conv["task"].endswith("_qwen") else "react"
    agent = Agent(llm, tools, protocol=protocol, max_steps=3,
                  sampling=Sampling(max_new_tokens=max_new_tokens))  # fmt: skip
    question = conv.get("question") or conv["messages"][-3]["content"]
    result = agent.run(question)
    first = result.steps[0] if result.steps else None
    valid = bool(first and first.kind == "tool" and first.error is None and first.calls
                 and all(c.name in offered and isinstance(c.arguments, dict) for c in first.calls))  # fmt: skip
    out = {"format_valid": valid, "answer": result.answer, "stop": result.stop_reason,
           "calls": [(c.name, c.arguments, c.observation) for s in result.steps for c in s.calls]}  # fmt: skip
    answer = result.answer or ""
    if conv["task"].startswith("calc"):
        truth = conv["value"]
        expr = first.calls[0].arguments.get("expression") if valid else None
        try:
            out["call_correct"] = expr is not None and str(evaluate(str(expr))) == truth
        except ValueError:
            out["call_correct"] = False
        out["success"] = re.search(rf"(?<![\d.]){re.escape(truth)}(?![\d.])", answer) is not None
    else:  # the clock: the right zone is part of the call (UTC when the question names no city)
        zone = first.calls[0].arguments.get("timezone_name", "UTC") if valid else None
        out["call_correct"] = zone == conv["arguments"].get("timezone_name", "UTC")
        obs = next((c.observation for s in result.steps for c in s.calls if c.ok), None)
        pattern = next(p for k, p in _KIND if k.match(conv["value"]))
        m = pattern.search(obs) if obs else None
        out["success"] = bool(m and m.group(1) in answer)
    return out


def _rag_item(llm, conv: dict, max_new_tokens: int) -> dict:
    from qwen_blog.universe_corpus import REFUSAL
    from tinyqwen.sampling import Sampling

    reply = llm.chat(conv["messages"][:-1], sampling=Sampling(max_new_tokens=max_new_tokens))
    text = reply.get("content") or ""
    cites = [int(n) for n in _CITE.findall(text)]
    refused = REFUSAL["zh"] in text or REFUSAL["en"] in text
    out = {"answer": text, "refused": refused}
    if conv["task"] == "rag":
        value = re.escape(conv["value"])  # a whole number/word: 992 does not match inside 1992
        found = re.search(rf"(?<![0-9A-Za-z.]){value}(?![0-9A-Za-z])", text) is not None
        out["exact"] = not refused and found and sorted(set(cites)) == [conv["citation"]]
    return out


def evaluate(llm, convs: list[dict], max_new_tokens: int = 96, show_progress: bool = True) -> dict:
    """Run every conversation of the held-out split; returns ``{"metrics", "counts", "items"}``."""
    from tqdm import tqdm

    items = []
    for conv in tqdm(convs, desc="universe-eval", disable=not show_progress):
        if conv["task"] == "chat":
            from tinyqwen.sampling import Sampling

            reply = llm.chat(
                conv["messages"][:-1], sampling=Sampling(max_new_tokens=max_new_tokens)
            )
            r = {"answer": reply.get("content") or ""}
        elif conv["task"] in ("rag", "refuse"):
            r = _rag_item(llm, conv, max_new_tokens)
        else:
            r = _agent_item(llm, conv, max_new_tokens)
        question = (
            conv.get("question")
            or re.split(r"\n\n(?:问题：|Question: )", conv["messages"][-2]["content"])[-1]
        )
        items.append({"task": conv["task"], "lang": conv["lang"], "question": question,
                      "gold": conv["answer"], **r})  # fmt: skip
    return {"metrics": metrics(items), "counts": _counts(items), "items": items}


def _rate(xs: list[bool]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def metrics(items: list[dict]) -> dict:
    by = defaultdict(list)
    for it in items:
        by[it["task"]].append(it)
    tool = [it for t in ("calc_qwen", "calc_react", "clock_qwen", "clock_react") for it in by[t]]
    return {
        "format_valid": _rate([it["format_valid"] for it in tool]),
        "call_correct": _rate([it["call_correct"] for it in by["calc_qwen"] + by["calc_react"]]),
        "clock_call_correct": _rate(
            [it["call_correct"] for it in by["clock_qwen"] + by["clock_react"]]
        ),
        "agent_success": _rate([it["success"] for it in tool]),
        "qa_exact": _rate([it["exact"] for it in by["rag"]]),
        "refusal_acc": _rate([it["refused"] for it in by["refuse"]]),
        "false_refusal": _rate([it["refused"] for it in by["rag"]]),
        **{
            f"agent_success[{t}]": _rate([it["success"] for it in by[t]])
            for t in ("calc_qwen", "calc_react", "clock_qwen", "clock_react")
        },  # fmt: skip
    }


def _counts(items: list[dict]) -> dict:
    c: dict[str, int] = defaultdict(int)
    for it in items:
        c[it["task"]] += 1
    return dict(c)


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(
        prog="qwen_blog universe-eval", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--model", required=True, help="checkpoint dir (e.g. runs/universe/model) or tiny-universe"
    )
    p.add_argument(
        "--data", default=None, help="test.jsonl; default: regenerate the held-out split"
    )
    p.add_argument("--n", type=int, default=300, help="items of the regenerated split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--report", default=None, help="write metrics + every item as JSON here")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--no-progress", action="store_true")
    add_quantize_argument(p)
    return p


def run(args: argparse.Namespace) -> int:
    try:
        import tinyagent  # noqa: F401
    except ModuleNotFoundError:
        raise ValueError(
            "universe-eval runs tinyagent's agent loop: pip install -e tinyagent"
        ) from None
    from qwen_blog.sample import resolve_checkpoint
    from qwen_blog.universe_corpus import universe_conversations
    from tinyqwen import LLM
    from tinyqwen.atomic import atomic_write_text

    if args.data:
        from qwen_blog.data import iter_jsonl

        if not Path(args.data).is_file():
            raise FileNotFoundError(f"--data {args.data}: no such file")
        convs = [c for _, c in iter_jsonl(Path(args.data))]
    else:
        convs = universe_conversations("test", args.n, args.seed)
    import torch

    if args.model == "tiny-universe":  # the shipped model, exactly as tinyqwen.connect loads it
        from tinyqwen.tiny_universe import load_tiny_universe

        llm = load_tiny_universe(args.quantize)
    else:  # fp32: the dtype the shipped model is measured and loaded in (bf16 would change greedy picks)
        path = resolve_checkpoint(args.model)
        llm = LLM.from_pretrained(
            path, dtype=torch.float32, device=args.device, quantize=args.quantize
        )
    result = evaluate(llm, convs, args.max_new_tokens, show_progress=not args.no_progress)
    for k, v in result["metrics"].items():
        print(f"{k:28s} {'n/a' if v is None else f'{100 * v:.1f} %'}")
    failures = [
        it for it in result["items"] if it.get("success") is False or it.get("exact") is False
    ]
    for it in failures[:5]:
        print(f"  fail [{it['task']}] {it['question']!r} -> {it['answer']!r}", file=sys.stderr)
    if args.report:
        atomic_write_text(
            Path(args.report), json.dumps(result, ensure_ascii=False, indent=1) + "\n"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
