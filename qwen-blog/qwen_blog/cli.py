"""Command line: ``python -m qwen_blog {pretrain,sft,universe,universe-eval,sample,trace,figures} ...``.

    python -m qwen_blog pretrain --config tiny --max-steps 30 --out runs/demo
    python -m qwen_blog sft --base runs/demo --lora --out runs/demo-lora
    python -m qwen_blog sample --ckpt runs/demo "小明有"
    python -m qwen_blog universe --out runs/universe   # the tool-using model; universe-eval scores it
    python -m qwen_blog trace "你好，Qwen"            # the walkthrough's op-by-op tensor trace
    python -m qwen_blog figures --out docs/figures   # regenerate the walkthrough's figures

Each subcommand lives in its own module and is imported only when run, so ``--help`` is instant.
``trace`` and ``figures`` hand their arguments straight to ``qwen_blog.trace.main(argv)`` and
``qwen_blog.figures.main(argv)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS = {
    "pretrain": ("qwen_blog.pretrain", "train a small Qwen2 from scratch on a packed corpus"),
    "sft": (
        "qwen_blog.sft",
        "instruction-tune (full or LoRA) with the loss on assistant replies only",
    ),
    "universe": (
        "qwen_blog.universe",
        "pretrain + SFT the tiny-universe model (tool calls, cited answers) end to end",
    ),
    "universe-eval": (
        "qwen_blog.universe_eval",
        "held-out metrics of a universe model: tool-call format, agent success, cited QA, refusals",
    ),
    "sample": ("qwen_blog.sample", "generate text from a trained checkpoint or adapter"),
    "trace": ("qwen_blog.trace", "print every intermediate tensor of one forward pass"),
    "figures": ("qwen_blog.figures", "regenerate the walkthrough's figures as PNG"),
}
PASSTHROUGH = ("trace", "figures")  # modules that parse their own argv


def _load(command: str):
    module = COMMANDS[command][0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise  # a real missing dependency inside the module
        print(
            f"error: '{command}' is not available: module {module} is not installed in this checkout",
            file=sys.stderr,
        )
        return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m qwen_blog", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if name in PASSTHROUGH:
            sub.add_parser(name, help=help_text, add_help=False)
        else:
            sp = sub.add_parser(name, help=help_text, description=help_text)
            sp.set_defaults(module=module)
            importlib.import_module(module).build_parser(sp)  # light: modules import torch lazily
    return p


def _main(argv: list[str]) -> int:
    if argv and argv[0] in PASSTHROUGH:
        mod = _load(argv[0])
        if mod is None:
            return 2
        return int(mod.main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args.module).run(args) or 0)


def main(argv: list[str] | None = None) -> int:
    from tinyqwen.errors import run_cli

    return run_cli(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
