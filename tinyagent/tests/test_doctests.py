"""The worked examples in the module docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tinyagent",
    "tinyagent.tool",
    "tinyagent.parsing",
    "tinyagent.turn",
    "tinyagent.qwen_tools",
    "tinyagent.scripted",
    "tinyagent.bfcl",
    "tinyagent.bfcl_strict",
    "tinyagent.bfcl_runner",
    "tinyagent.sop",
    "tinyagent.plan",
    "tinyagent.memory",
    "tinyagent.thinking",
    "tinyagent.sops.tools",
    "tinyagent.tools.calculator",
    "tinyagent.tools.python_exec",
    "tinyagent.tools.seccomp",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name == "tinyagent.tools.python_exec":
        from tinyagent.tools.sandbox import probe

        if not probe().ok:
            pytest.skip(f"no kernel sandbox here: {probe().reason}")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name in ("tinyagent",)
