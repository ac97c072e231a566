"""Run the ```python code blocks of a walkthrough chapter, in order, in one namespace.

This is how the docs are kept honest: the tests run every chapter, so a block that no longer matches
``tinyqwen`` fails the build instead of misleading a reader.

    >>> from qwen_blog.docrun import python_blocks
    >>> python_blocks("text\\n```python\\nx = 1\\n```\\n")
    [(3, 'x = 1\\n')]

Rules: only fences whose info string is exactly ``python`` run (```python no-run``` or ```text``` don't);
blocks share one namespace per chapter, like cells of a notebook; the working directory is a fresh temp dir.
Limits: no output comparison — blocks assert what they claim with ``assert`` statements.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)


def python_blocks(markdown: str) -> list[tuple[int, str]]:
    """``(line_number, code)`` of every block fenced as exactly ```python."""
    out = []
    for m in _FENCE.finditer(markdown):
        if m.group(1).strip() == "python":
            out.append((markdown.count("\n", 0, m.start()) + 2, m.group(2)))
    return out


def run_chapter(path: str | Path) -> dict:
    """Execute every python block of the chapter at ``path``; returns the final namespace.

    A failing block is re-raised as ``RuntimeError`` naming the file and the block's line.
    """
    path = Path(path).resolve()
    namespace: dict = {"__name__": f"chapter_{path.stem.replace('-', '_')}"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for line, code in python_blocks(path.read_text(encoding="utf-8")):
                try:
                    exec(compile(code, f"{path}:{line}", "exec"), namespace)
                except Exception as e:
                    raise RuntimeError(
                        f"{path.name}, block at line {line}: {type(e).__name__}: {e}"
                    ) from e
        finally:
            os.chdir(cwd)
    return namespace
