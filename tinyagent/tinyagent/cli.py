"""Command line: run the agent, chat interactively, show the prompt, score tool calls, demo.

    python -m tinyagent "17 * 23 是多少？" --model http://127.0.0.1:8000/v1 --tools calculator
    python -m tinyagent --model ~/models/Qwen2.5-0.5B-Instruct          # interactive (needs a terminal)
    python -m tinyagent render --tools calculator,python --protocol qwen  # the exact prompt
    python -m tinyagent eval --model SPEC --categories normal_single_turn_single_function --limit 20
    python -m tinyagent eval --ground-truth                              # checker self-test
    python -m tinyagent demo                        # scripted run (no model), then the real loop on tiny-universe
    python -m tinyagent sandbox                                          # what isolates the python tool

    python -m tinyagent sop tinyagent/sops/refund.json "订单 A1001 要退货" --model SPEC --state s.json
    python -m tinyagent bfcl --model SPEC --categories simple,live_simple   # BFCL v4, BFCL's rules

Tools: calculator, python (sandboxed), clock, web (web_search + fetch_page), files (search_files +
read_file over ``--folder``). Exit codes: 0 ok, 1 the agent gave no answer, 2 usage/model errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tinyagent.agent import Agent, Step
from tinyagent.tool import Tool
from tinyqwen.connection import add_quantize_argument
from tinyqwen.sampling import Sampling

TOOL_NAMES = ("calculator", "python", "clock", "web", "files")
DEFAULT_TOOLS = "calculator,python,clock"

GET_A_MODEL = (
    "To get a usable model, either download one and pass its folder:\n"
    "    tinyqwen download Qwen/Qwen2.5-0.5B-Instruct --to ~/models/Qwen2.5-0.5B-Instruct\n"
    '    python -m tinyagent "..." --model ~/models/Qwen2.5-0.5B-Instruct\n'
    "or point --model at an OpenAI-compatible endpoint, e.g. --model http://127.0.0.1:8000/v1\n"
    "(`tinyqwen serve --model DIR` starts one)."
)


def build_tools(
    names: str, folder: str = ".", search_provider: str | None = None, unsafe_python: bool = False
) -> list[Tool]:
    """Tool objects for a comma-separated list of names (see ``TOOL_NAMES``)."""
    tools: list[Tool] = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        if name == "calculator":
            from tinyagent.tools.calculator import calculator

            tools.append(calculator)
        elif name == "python":
            from tinyagent.tools.python_exec import make_python_tool, python

            tools.append(make_python_tool(allow_unsafe=True) if unsafe_python else python)
        elif name == "clock":
            from tinyagent.tools.clock import current_time

            tools.append(current_time)
        elif name == "web":
            from tinyagent.tools.web import make_web_tools

            tools += make_web_tools(search_provider)
        elif name == "files":
            from tinyagent.tools.files import make_file_tools

            tools += make_file_tools(folder)
        else:
            raise SystemExit(f"error: unknown tool {name!r}; choose from {', '.join(TOOL_NAMES)}")
    return tools


def print_step(step: Step, out=None) -> None:
    """Stream one step to the terminal as it happens."""
    out = out or sys.stdout
    if step.reasoning:
        think = step.reasoning if len(step.reasoning) < 400 else step.reasoning[:400] + " ..."
        out.write(f"[step {step.index}] (thinking) {think}\n")
    if step.thought and step.kind != "format_error":  # a format error prints the raw text below
        out.write(f"[step {step.index}] Thought: {step.thought}\n")
    for c in step.calls:
        args = (
            json.dumps(c.arguments, ensure_ascii=False)
            if not isinstance(c.arguments, str)
            else c.arguments
        )
        out.write(f"  -> {c.name}({args})\n")
        obs = c.observation if len(c.observation) < 600 else c.observation[:600] + " ..."
        out.write("  <- " + obs.replace("\n", "\n     ") + "\n")
    if step.kind == "format_error":
        out.write(f"[step {step.index}] format error: {step.error}\n  raw: {step.raw[:300]!r}\n")
    elif step.kind == "final":
        out.write(f"[answer] {step.answer}\n")
    elif step.kind == "stopped":
        out.write(f"[stopped] {step.error}\n")
    out.flush()


def _connect(spec: str, quantize: str | None = None):
    import tinyqwen

    try:
        model = tinyqwen.connect(spec, quantize=quantize)
    except Exception as e:  # a bad path, an unreachable URL, missing weights...
        print(f"error: cannot use --model {spec!r}: {e}\n\n{GET_A_MODEL}", file=sys.stderr)
        raise SystemExit(2) from None
    if spec == "tiny-random":
        print(
            "NOTE: --model tiny-random is a randomly initialised toy model: its replies are gibberish,\n"
            "so expect format errors; any answer or score it produces is meaningless. It only proves\n"
            "the wiring.\n" + GET_A_MODEL + "\n",
            file=sys.stderr,
        )
    return model


def connect_mcp(specs: list[str]) -> tuple[list, list[Tool]]:
    """MCP clients for ``--mcp`` specs (command lines or http(s) URLs) and their tools; an
    unusable server is a one-line ``error:`` and exit code 2."""
    from tinyagent.mcp import MCPClient, MCPError

    clients, tools = [], []
    for spec in specs:
        try:
            client = MCPClient.connect(spec)
            clients.append(client)
            tools += client.tools()
        except MCPError as e:
            for c in clients:
                c.close()
            print(f"error: --mcp {spec!r}: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    return clients, tools


def _add_agent_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tools", default=DEFAULT_TOOLS, help=f"comma-separated: {', '.join(TOOL_NAMES)}"
    )
    p.add_argument("--protocol", choices=("react", "qwen"), default="qwen")
    p.add_argument("--folder", default=".", help="root folder of the files tool")
    p.add_argument("--search-provider", default=None, help="duckduckgo | searxng | serper")
    p.add_argument(
        "--unsafe-python",
        action="store_true",
        help="run the python tool WITHOUT a sandbox when none works here (warns every call)",
    )


def cmd_run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m tinyagent", description="Run a tool-using agent.")
    p.add_argument("question", nargs="?", help="the question; omit for interactive mode")
    p.add_argument(
        "--model", default="tiny-random", help="checkpoint dir | tiny-random | http://host:port/v1"
    )
    add_quantize_argument(p)
    _add_agent_args(p)
    p.add_argument("--max-steps", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--trace", default=None, help="append a step-by-step jsonl trace to this file")
    p.add_argument("--plan", action="store_true", help="plan-and-execute: plan, run, replan")
    p.add_argument(
        "--context-budget",
        type=int,
        default=None,
        help="tokens; past it older steps of a run are summarised by the model "
        "(default: 3/4 of the model's context; 0: off)",
    )
    p.add_argument(
        "--mcp",
        action="append",
        default=[],
        help='an MCP server: a command ("python my_server.py") or http(s) URL; repeatable',
    )
    args = p.parse_args(argv)
    if args.question is None and not sys.stdin.isatty():
        print(
            "error: no question given and stdin is not a terminal, so interactive mode cannot start.\n"
            'Pass the question as an argument: python -m tinyagent "你的问题" --model SPEC',
            file=sys.stderr,
        )
        return 2
    tools = build_tools(args.tools, args.folder, args.search_provider, args.unsafe_python)
    model = _connect(args.model, args.quantize)
    clients, mcp_tools = connect_mcp(args.mcp)
    try:
        return _run(args, model, tools + mcp_tools)
    finally:
        for c in clients:
            c.close()


def _run(args: argparse.Namespace, model, tools: list[Tool]) -> int:
    try:
        agent = Agent(
            model,
            tools,
            args.protocol,
            max_steps=args.max_steps,
            trace_path=args.trace,
            on_step=print_step,
            sampling=Sampling(max_new_tokens=args.max_new_tokens),
            context_budget=(
                model.context_length * 3 // 4
                if args.context_budget is None
                else (args.context_budget or None)
            ),
        )
    except ValueError as e:  # e.g. an MCP tool named like a built-in one
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.plan and args.question is not None:
        from tinyagent.plan import PlanAndExecute

        def show(row: dict) -> None:
            if row["event"] in ("plan", "replan"):
                steps = "\n".join(f"  {i}. {s}" for i, s in enumerate(row["steps"], 1))
                print(f"[{row['event']}]\n{steps}")
            elif row["event"] == "plan_step":
                print(
                    f"[plan step {'ok' if row['ok'] else 'FAILED'}] {row['step']}: {row['answer']}"
                )
            elif row["event"] == "end":
                print(
                    f"[answer] {row['answer']}"
                    if row["answer"]
                    else f"[stopped] {row['stop_reason']}"
                )

        runner = PlanAndExecute(
            model,
            tools,
            args.protocol,
            agent_steps=args.max_steps,
            trace_path=args.trace,
            on_step=print_step,
            on_event=show,
            sampling=agent.sampling,
        )
        return 0 if runner.run(args.question).answer is not None else 1
    if args.question is not None:
        result = agent.run(args.question)
        return 0 if result.answer is not None else 1
    from tinyagent.memory import ConversationMemory

    print(f"tinyagent: {args.protocol} protocol, tools: {', '.join(agent.tools)}. Ctrl-D to quit.")
    memory = ConversationMemory(
        model,
        trace_path=args.trace,
        on_summary=lambda row: print(
            f"[memory] summarised {row['summarised_turns']} older turns "
            f"({row['tokens_before']} -> {row['tokens_after']} tokens)"
        ),
    )
    while True:
        try:
            question = input("\n你> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            continue
        result = agent.run(question, memory.history())
        memory.add("user", question)
        memory.add("assistant", result.answer or "(no answer)")


def cmd_render(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tinyagent render", description="Print the exact first prompt."
    )
    _add_agent_args(p)
    p.add_argument("--question", default="17 * 23 等于多少？")
    args = p.parse_args(argv)
    agent = Agent(None, build_tools(args.tools, args.folder, args.search_provider), args.protocol)
    sys.stdout.write(agent.render(args.question))
    sys.stdout.write("\n")
    return 0


def cmd_eval(argv: list[str]) -> int:
    from tinyagent.acebench import (
        CATEGORIES,
        evaluate,
        ground_truth_calls,
        load_examples,
        score_calls,
    )

    p = argparse.ArgumentParser(
        prog="python -m tinyagent eval", description="Score tool calls (BFCL rules) on ACEBench."
    )
    p.add_argument(
        "--data",
        default=None,
        help="ACEBench data_zh folder (default: acebench_zh in $TINYU_DATA_DIR or "
        "~/.cache/tiny-universe/data; python -m tinyagent data fetch acebench)",
    )
    p.add_argument(
        "--categories",
        default="normal_single_turn_single_function,normal_single_turn_parallel_function",
    )
    p.add_argument("--model", default="tiny-random")
    add_quantize_argument(p)
    p.add_argument("--limit", type=int, default=None, help="examples per category")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--out", default=None, help="write the report + one row per example (jsonl)")
    p.add_argument(
        "--ground-truth",
        action="store_true",
        help="score the ground truth itself (checker self-test)",
    )
    args = p.parse_args(argv)
    cats = list(CATEGORIES) if args.categories == "all" else args.categories.split(",")
    from tinyqwen.data_cache import data_dir, missing_hint

    args.data = args.data or str(data_dir() / "acebench_zh")
    try:
        examples = [e for c in cats for e in load_examples(args.data, c, args.limit)]
    except FileNotFoundError as e:
        print(
            f"error: {e}; {missing_hint('python -m tinyagent', 'acebench', '--data')}",
            file=sys.stderr,
        )
        return 2
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.ground_truth:
        bad = [
            (e.id, r) for e in examples if not (r := score_calls(e, ground_truth_calls(e))).valid
        ]
        print(f"ground truth as predictions: {len(examples) - len(bad)}/{len(examples)} valid")
        for eid, r in bad:
            print(f"  {eid}: {r.error_type}: {r.error}")
        return 0
    model = _connect(args.model, args.quantize)
    report = evaluate(model, examples, args.out, max_new_tokens=args.max_new_tokens)
    print("| category | accuracy |\n|---|---|")
    for c, acc in report["per_category"].items():
        print(f"| {c} | {acc:.3f} |")
    print(f"| **all** ({report['n']}) | {report['accuracy']:.3f} |")
    print(f"errors: {report['errors']}  ({report['seconds']} s)")
    for kind, message in report.get("first_error", {}).items():
        if kind == "backend_error":  # the cause, not only a count (rows in --out have them all)
            print(f"  first {kind}: {message[:300]}")
    return 0


# the real-loop part of the demo: (question, the expression it asks for, protocol). The operand
# pairs are in tiny-universe's held-out split (qwen_blog.universe_corpus: never in its training data).
DEMO_LIVE = [
    ("23乘以47等于多少？", "23 * 47", "qwen"),
    ("What is 64 times 35?", "64 * 35", "react"),
]


def cmd_demo(argv: list[str]) -> int:
    """A scripted (model-free) run: the prompt a model would see, then a 3-step agent run; then the
    real loop on a real model (default ``tiny-universe``, shipped in tinyqwen) with a check line."""
    from tinyagent.scripted import ScriptedChatModel

    p = argparse.ArgumentParser(
        prog="python -m tinyagent demo",
        description="The exact prompt, a scripted tool-using run (no model), then the real loop.",
    )
    p.add_argument(
        "--model", default="tiny-universe",
        help="model of the real-loop part (default: tiny-universe, the small model shipped in "
        "tinyqwen that calls the calculator and the clock)",
    )  # fmt: skip
    p.add_argument("--scripted-only", action="store_true", help="skip the real-loop part")
    add_quantize_argument(p)
    args = p.parse_args(argv)
    tools = build_tools("calculator,python")
    question = "一个边长 17 米的正方形花园，面积是多少平方米？再算出 1 到 100 的质数之和。"
    print("=== the prompt the model sees (qwen protocol) ===")
    print(Agent(None, tools, "qwen").render(question))
    script = [
        # a malformed call (single quotes, trailing comma): recovered by the lenient parser
        "<tool_call>\n{'name': 'calculator', 'arguments': {'expression': '17 ** 2',},}\n</tool_call>",
        '<tool_call>\n{"name": "python", "arguments": {"code": "print(sum(p for p in range(2, 101) '
        'if all(p % d for d in range(2, p))))"}}\n</tool_call>',
        "花园面积是 289 平方米；1 到 100 的质数之和是 1060。",
    ]
    print("=== a scripted run (ScriptedChatModel replays fixed model outputs; no weights) ===")
    result = Agent(ScriptedChatModel(script), tools, "qwen", on_step=print_step).run(question)
    if not args.scripted_only:
        demo_live(_connect(args.model, args.quantize), args.model)
    return 0 if result.answer else 1


def demo_live(model, name: str) -> None:
    """The real loop on ``model`` for each ``DEMO_LIVE`` question, then one check line: did it call
    the calculator, and does its final answer contain the right number? (Printed, not enforced: the
    demo shows what the model does.)"""
    from tinyagent.tools.calculator import calculator

    tools = build_tools("calculator,clock")
    for question, expression, protocol in DEMO_LIVE:
        print(f"=== the real loop: {name}, {protocol} protocol, tools calculator + clock ===")
        print(f"Q: {question}")
        agent = Agent(
            model, tools, protocol, max_steps=3, on_step=print_step,
            sampling=Sampling(max_new_tokens=128),
        )  # fmt: skip
        result = agent.run(question)
        called = any(c.name == "calculator" for s in result.steps for c in s.calls)
        want = calculator(expression)
        # the number itself, not a longer one containing it (1081 in 10810)
        right = re.search(rf"(?<![\d.]){re.escape(want)}(?!\.?\d)", result.answer or "") is not None
        print(
            f"check: called the calculator: {'yes' if called else 'no'}; final answer contains "
            f"{want} (= {expression}): {'yes' if right else 'no'}\n"
        )


def cmd_sandbox(argv: list[str]) -> int:
    """Report the python tool's isolation here (a real sandboxed run); exit 1 when there is none."""
    from tinyagent.tools.sandbox import HOW_TO_ENABLE, sandbox_layers

    if argv:
        print("usage: python -m tinyagent sandbox", file=sys.stderr)
        return 2
    layers = sandbox_layers()
    for k, v in layers.items():
        print(f"{k}: {v}")
    if not layers["sandbox"]:
        print(f"\nerror: the python tool will refuse to run code. {HOW_TO_ENABLE}", file=sys.stderr)
        return 1
    return 0


def cmd_sop(argv: list[str]) -> int:
    """Run (or resume) an SOP: one line per SOP step; exit 0 done or waiting for the user, 1 failed."""
    from tinyagent.sop import SOPRunner, load_sop
    from tinyagent.sops.tools import EXAMPLE_TOOLS

    p = argparse.ArgumentParser(prog="python -m tinyagent sop", description="Run an SOP agent.")
    p.add_argument("file", help="the SOP (.json, or .yaml with PyYAML)")
    p.add_argument("task", nargs="?", default="", help="the task (or, with --resume, the reply)")
    p.add_argument("--model", default="tiny-random")
    add_quantize_argument(p)
    p.add_argument("--protocol", choices=("react", "qwen"), default="qwen")
    p.add_argument(
        "--tools", default="", help=f"built-in tools besides the example ones: {TOOL_NAMES}"
    )
    p.add_argument("--state", default=None, help="save the run state here after every step")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --state")
    p.add_argument("--trace", default=None, help="append one jsonl line per SOP step")
    p.add_argument("--max-retries", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument("--mcp", action="append", default=[], help="an MCP server (repeatable)")
    p.add_argument("--max-new-tokens", type=int, default=512)
    args = p.parse_args(argv)
    try:
        sop = load_sop(args.file)
        tools = list(EXAMPLE_TOOLS) + build_tools(args.tools)
        if args.resume and not (args.state and Path(args.state).is_file()):
            raise ValueError("--resume needs --state FILE of an earlier run")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def show(row: dict) -> None:
        status = f"error: {row['error']}" if row["error"] else f"-> {row['next']}"
        out = json.dumps(row["output"], ensure_ascii=False)
        print(f"[sop] {row['step']} ({row['attempts']} attempt(s)) {status}\n      {out[:300]}")

    model = _connect(args.model, args.quantize)
    clients, mcp_tools = connect_mcp(args.mcp)
    tools += mcp_tools
    try:
        runner = SOPRunner(
            model,
            sop,
            tools,
            args.protocol,
            max_retries=args.max_retries,
            max_steps=args.max_steps,
            state_path=args.state,
            trace_path=args.trace,
            on_record=show,
            sampling=Sampling(max_new_tokens=args.max_new_tokens),
        )
        state = (
            runner.resume(args.state, args.task or None) if args.resume else runner.run(args.task)
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        for c in clients:
            c.close()
    if state.status == "waiting_user":
        print(f"[waiting for the user] {state.outputs[state.path[-1]]}")
        print(
            f'reply with: python -m tinyagent sop {args.file} "..." --resume --state {args.state}'
        )
    elif state.status == "failed":
        print(f"[failed] {state.error}")
    return 1 if state.status == "failed" else 0


def cmd_bfcl(argv: list[str]) -> int:
    from tinyagent.bfcl_runner import main as bfcl_main

    return bfcl_main(argv)


def cmd_data(argv: list[str]) -> int:
    from tinyagent.data import DATASETS
    from tinyqwen.data_cache import data_main

    return data_main(argv, DATASETS, "python -m tinyagent")


def _main(argv: list[str]) -> int:
    commands = {
        "data": cmd_data,
        "render": cmd_render,
        "eval": cmd_eval,
        "bfcl": cmd_bfcl,
        "sop": cmd_sop,
        "demo": cmd_demo,
        "run": cmd_run,
        "sandbox": cmd_sandbox,
    }
    if argv and argv[0] in commands:
        return commands[argv[0]](argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(
            "usage: python -m tinyagent [SUBCOMMAND] ...\n\nsubcommands (each has --help):\n"
            "  run       run the agent on a question, or chat (the default when none is given)\n"
            "  render    print the exact first prompt\n"
            "  demo      a scripted run (no model), then the real loop on tiny-universe\n"
            "  sop       run / resume an SOP agent (a declared procedure of steps)\n"
            "  eval      score tool calls on ACEBench (strict checker)\n"
            "  bfcl      run + score BFCL v4 with BFCL's own rules and file layout\n"
            "  sandbox   report how the python tool is isolated here\n"
            "  data      list / fetch the datasets (ACEBench, BFCL v4) into the data cache\n"
        )
    return cmd_run(argv)


def main(argv: list[str] | None = None) -> int:
    from tinyqwen.errors import run_cli

    return run_cli(_main, argv)
