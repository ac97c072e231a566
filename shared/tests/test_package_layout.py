"""The shape of the package, checked from its source: no import circle, a learning core that imports
no serving / HTTP code, no function longer than 150 lines, and a ChatModel contract without probing.

The import graph is read with ``ast`` (every ``import tinyqwen...`` / ``from tinyqwen... import``
anywhere in a module, function-level imports included), so a lazy import inside a function counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tinyqwen

PACKAGE = Path(tinyqwen.__file__).resolve().parent
# the modules a student reads to learn Qwen2 (tokenizer/ is a folder of six files)
CORE = {
    "config",
    "rope",
    "kv_cache",
    "model",
    "linear",
    "moe",
    "checkpoint",
    "trace",
    "generation",
    "sampling",
    "text_generation",
    "scoring",
    "chat_template",
    "atomic",
    "tokenizer",
    "quant",  # int8 weights (a walkthrough chapter); imports torch only
    "int4",  # group-wise int4 weights (same chapter); imports torch only
    "kernel_probe",  # timing kernels against each other (int8 and int4 pick theirs)
    "native",  # hand-written AVX2 matmuls (C in csrc/), built on first use; imports torch only
    "native_decode",  # an int8 decode step in one C call per layer (csrc/decode_avx2.c)
    "compiled",  # the compiled decode step and its static KV cache
}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> tinyqwen modules it imports (dotted names relative to the package)."""
    known = {_module(p) for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.startswith("tinyqwen."):
                    rel = name.removeprefix("tinyqwen.")
                    while rel and rel not in known:
                        rel = rel.rpartition(".")[0]
                    if rel:
                        deps.add(rel)
        graph[_module(path)] = deps - {_module(path)}
    return graph


def _top(module: str) -> str:
    return module.split(".")[0]


def test_no_import_circle():
    graph = _imports()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if d.startswith(m + ".") or m.startswith(d + "."):
                continue  # a package and its own submodules
            assert state.get(d) != 1, f"import circle: {' -> '.join(path + [d])}"
            if d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_learning_core_imports_no_serving_or_client_code():
    graph = _imports()
    for m, deps in graph.items():
        if _top(m) in CORE:
            outside = sorted(d for d in deps if _top(d) not in CORE)
            assert not outside, f"{m} imports {outside}, outside the learning core"


def test_no_function_longer_than_150_lines():
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 150:
                    too_long.append(f"{_module(path)}.{node.name}: {n} lines")
    assert not too_long


def test_model_and_trace_have_one_code_path():
    source = (PACKAGE / "model.py").read_text(encoding="utf-8")
    assert "RECORDER" not in source  # no `if trace.RECORDER` guards: record() is a no-op when off
