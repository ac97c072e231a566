"""BFCL's own ``ast_checker`` (unmodified), loaded from a ``bfcl_eval`` package when one is around.

``pip install bfcl-eval`` pulls in ~40 heavy, pinned dependencies (numpy==1.26.4, vllm extras,
cloud SDKs), so it is not a test dependency. Its checker module needs none of them for Python
categories: this loader executes the original ``ast_checker.py`` with small stand-ins for the
imports it only uses on Java/JavaScript paths and for dotted names (``Language``,
``MODEL_CONFIG_MAPPING``, the type converters). Point ``BFCL_EVAL_SRC`` at an unpacked
``bfcl_eval`` folder, e.g. ::

    pip download bfcl-eval --no-deps -d /tmp/bfcl && unzip -q /tmp/bfcl/*.whl -d /tmp/bfcl
    BFCL_EVAL_SRC=/tmp/bfcl/bfcl_eval python -m pytest tests/test_bfcl_parity.py

The same folder holds BFCL v4's data (``data/`` + ``data/possible_answer/``).
"""

from __future__ import annotations

import enum
import importlib.util
import os
import sys
import types
from pathlib import Path


def source_dir() -> Path | None:
    """The ``bfcl_eval`` package folder: ``$BFCL_EVAL_SRC`` or an installed ``bfcl_eval``."""
    env = os.environ.get("BFCL_EVAL_SRC")
    if env:
        return Path(env) if (Path(env) / "eval_checker").is_dir() else None
    spec = importlib.util.find_spec("bfcl_eval")
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return None


def load_ast_checker(src: Path):
    """The ``ast_checker`` function of BFCL's source under ``src`` (Python language only)."""
    stubs = {
        "bfcl_eval": types.ModuleType("bfcl_eval"),
        "bfcl_eval.constants": types.ModuleType("bfcl_eval.constants"),
        "bfcl_eval.constants.enums": types.ModuleType("bfcl_eval.constants.enums"),
        "bfcl_eval.constants.model_config": types.ModuleType("bfcl_eval.constants.model_config"),
        "bfcl_eval.constants.type_mappings": types.ModuleType("bfcl_eval.constants.type_mappings"),
    }
    Language = enum.Enum("Language", ["PYTHON", "JAVA", "JAVASCRIPT"])
    stubs["bfcl_eval.constants.enums"].Language = Language
    config = types.SimpleNamespace(underscore_to_dot=False)  # Qwen FC models keep dotted names
    stubs["bfcl_eval.constants.model_config"].MODEL_CONFIG_MAPPING = _Always(config)
    stubs["bfcl_eval.constants.type_mappings"].JAVA_TYPE_CONVERSION = {}
    stubs["bfcl_eval.constants.type_mappings"].JS_TYPE_CONVERSION = {}
    for lang in ("java", "js"):
        name = f"bfcl_eval.eval_checker.ast_eval.type_convertor.{lang}_type_converter"
        mod = types.ModuleType(name)
        setattr(mod, f"{lang}_type_converter", _unsupported)
        stubs[name] = mod
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        path = src / "eval_checker" / "ast_eval" / "ast_checker.py"
        spec = importlib.util.spec_from_file_location("bfcl_reference_ast_checker", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v

    def ast_checker(funcs, calls, answers, category):
        return module.ast_checker(funcs, calls, answers, Language.PYTHON, category, "Qwen_x-FC")

    return ast_checker


class _Always(dict):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def __missing__(self, key):
        return self.value


def _unsupported(*args, **kwargs):
    raise NotImplementedError("Java/JavaScript categories are not compared")
