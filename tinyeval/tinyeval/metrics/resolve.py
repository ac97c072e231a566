"""Turn a task config's ``"metric"`` string into a function: a built-in name, a file, or a module.

Three spellings, all checked when the task config is loaded — before any model is loaded or any
token generated:

* a built-in name — ``qa_f1``, ``rouge``, ``classification``, ``squad_f1``, ``cmrc_f1``, ``bleu``, …
  (``python -m tinyeval metrics`` lists them);
* ``"my_metrics.py:keyword_recall"`` — a function in a Python file; a relative path is looked up
  next to the task config first, then in the current directory;
* ``"my_package.metrics.keyword_recall"`` — a dotted path to a function in an importable module.

The signature of a per-example metric (the LongBench convention)::

    def keyword_recall(prediction: str, ground_truth: str, **kwargs) -> float:  # 0.0 .. 1.0
        ...

``kwargs`` may contain ``all_classes`` (the task's label set, or None) and ``example`` (the whole
prediction record); a function that does not take ``**kwargs`` gets only the keywords it names.
The task score is ``round(100 · mean over examples of max over gold answers, 2)``. A function
with the attribute ``corpus = True`` is a corpus metric instead: ``fn(predictions: list[str],
answers: list[list[str]]) -> float`` in 0..100 (BLEU is one).

    >>> m = resolve_metric("qa_f1")
    >>> m.corpus, m.fn("Paris, France", "Paris")
    (False, 0.6666666666666666)
    >>> resolve_metric("bleu").corpus
    True
    >>> resolve_metric("no_such_metric")
    Traceback (most recent call last):
    ...
    ValueError: unknown metric 'no_such_metric': not a built-in (see `python -m tinyeval metrics`), not 'file.py:function', not 'package.module.function'

Limits: a metric file is imported (executed) when the task is loaded — only name files you
trust, exactly as with any Python import.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyeval.metrics import CORPUS_METRICS, METRICS

KWARGS = ("all_classes", "example")  # what a per-example metric may be given
SPECIAL = ("gsm8k",)  # scored by their own loop in score.py (several sub-metrics)


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[..., Any]
    corpus: bool = False
    accepts: tuple[str, ...] = KWARGS  # keyword arguments fn takes (of KWARGS)

    def example(self, prediction: str, ground_truth: Any, **kwargs: Any) -> float:
        """One (prediction, gold) score, checked to be a number in [0, 1]."""
        value = self.fn(prediction, ground_truth, **{k: kwargs.get(k) for k in self.accepts})
        return _checked(self.name, value, 1.0)

    def corpus_score(self, predictions: Sequence[str], answers: Sequence[Sequence[Any]]) -> float:
        return _checked(self.name, self.fn(list(predictions), [list(a) for a in answers]), 100.0)


def _checked(name: str, value: Any, top: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"metric {name!r} returned {value!r}; it must return a number")
    if not 0.0 <= value <= top:
        raise ValueError(f"metric {name!r} returned {value}; it must be in [0, {top:g}]")
    return float(value)


def builtin_names() -> list[str]:
    return sorted([*METRICS, *CORPUS_METRICS, *SPECIAL])


def _load_file(file: str, func: str, base_dir: Path | None, spec: str) -> Callable:
    candidates = [Path(file)] if Path(file).is_absolute() else []
    if not candidates:
        candidates = [*([base_dir / file] if base_dir else []), Path.cwd() / file]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise ValueError(
            f"metric {spec!r}: file {file!r} not found (looked in "
            + ", ".join(str(p.parent) for p in candidates)
            + ")"
        )
    path = path.resolve()
    mod_name = "tinyeval_user_metric_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if mod_name not in sys.modules:
        mod_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(mod_spec)
        try:
            mod_spec.loader.exec_module(module)
        except Exception as e:
            raise ValueError(f"metric {spec!r}: importing {path} failed: {e!r}") from e
        sys.modules[mod_name] = module
    fn = getattr(sys.modules[mod_name], func, None)
    if fn is None:
        raise ValueError(f"metric {spec!r}: {path} has no function {func!r}")
    return fn


def _load_dotted(spec: str) -> Callable:
    module_name, _, func = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"metric {spec!r}: cannot import module {module_name!r}: {e}") from e
    fn = getattr(module, func, None)
    if fn is None:
        raise ValueError(f"metric {spec!r}: module {module_name!r} has no function {func!r}")
    return fn


def _accepted_kwargs(fn: Callable, spec: str) -> tuple[str, ...]:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: give it nothing extra
        return ()
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepts = KWARGS
    else:
        accepts = tuple(k for k in KWARGS if k in params)
    try:
        inspect.signature(fn).bind("", "", **dict.fromkeys(accepts))
    except TypeError as e:
        raise ValueError(
            f"metric {spec!r}: signature must be fn(prediction, ground_truth, **kwargs) -> float "
            f"({e})"
        ) from e
    return accepts


def resolve_metric(spec: str, base_dir: str | Path | None = None) -> Metric:
    """The ``Metric`` that ``spec`` names (see the module docstring); ``ValueError`` if none."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"metric must be a non-empty string, got {spec!r}")
    if spec in METRICS:
        return Metric(spec, METRICS[spec])
    if spec in CORPUS_METRICS:
        return Metric(spec, CORPUS_METRICS[spec], corpus=True, accepts=())
    if spec in SPECIAL:
        return Metric(spec, METRICS["gsm8k_strict"])  # score.py scores both sub-metrics
    if ":" in spec:
        file, _, func = spec.rpartition(":")
        fn = _load_file(file, func, Path(base_dir) if base_dir else None, spec)
    elif "." in spec and all(part.isidentifier() for part in spec.split(".")):
        fn = _load_dotted(spec)
    else:
        raise ValueError(
            f"unknown metric {spec!r}: not a built-in (see `python -m tinyeval metrics`), "
            "not 'file.py:function', not 'package.module.function'"
        )
    if not callable(fn):
        raise ValueError(f"metric {spec!r} is not a function")
    if getattr(fn, "corpus", False):
        return Metric(spec, fn, corpus=True, accepts=())
    return Metric(spec, fn, accepts=_accepted_kwargs(fn, spec))
