"""The worked examples in module docstrings run and give the printed results."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tinyrag.porter", "tinyrag.analyzers", "tinyrag.bm25", "tinyrag.chunking",
    "tinyrag.fusion", "tinyrag.metrics", "tinyrag.vector_store", "tinyrag.conversation",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0
