"""The worked examples in the module docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tinyeval.metrics",
    "tinyeval.metrics.normalize",
    "tinyeval.metrics.qa_f1",
    "tinyeval.metrics.rouge",
    "tinyeval.metrics.classification",
    "tinyeval.metrics.retrieval",
    "tinyeval.metrics.count",
    "tinyeval.metrics.code_sim",
    "tinyeval.metrics.squad",
    "tinyeval.metrics.cmrc",
    "tinyeval.metrics.gaokao",
    "tinyeval.metrics.choice",
    "tinyeval.metrics.gsm8k",
    "tinyeval.metrics.bleu",
    "tinyeval.metrics.accuracy",
    "tinyeval.metrics.perplexity",
    "tinyeval.task",
    "tinyeval.score",
    "tinyeval.report",
    "tinyeval.runner",
    "tinyeval.template",
    "tinyeval.lock",
    "tinyeval.longbench",
    "tinyeval.metrics.resolve",
    "tinyeval.categories",
    "tinyeval.subjects",
    "tinyeval.export",
    "tinyeval.judge",
    "tinyeval.metrics.universe",
    "tinyeval.universe",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
