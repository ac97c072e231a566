"""``Sampling``: how to pick the next tokens, as ONE frozen value checked once.

    >>> from tinyqwen.sampling import Sampling
    >>> s = Sampling(max_new_tokens=32, temperature=0.7, top_p=0.9, stop=["\\n\\n"], seed=0)
    >>> s.stop
    ('\\n\\n',)
    >>> s.replace(temperature=0.0).greedy
    True
    >>> Sampling(temperature=float("nan"))
    Traceback (most recent call last):
    ...
    tinyqwen.sampling.SamplingError: temperature must be a finite number >= 0, got nan

The same value travels from the CLI flags, the server's request body and ``OpenAIChatModel`` down to
``tinyqwen.generation.generate_steps``; nothing below the constructor re-checks it. Fields
(default in parentheses):

- ``max_new_tokens`` (256): most tokens to generate, ``>= 0``;
- ``temperature`` (0.0): ``0`` = greedy (argmax), else logits / temperature; finite, ``>= 0``;
- ``top_p`` (1.0): nucleus, keep the smallest set of tokens with probability ``>= top_p``; ``(0, 1]``;
- ``top_k`` (0): keep the ``top_k`` most likely tokens (``0`` = all);
- ``repetition_penalty`` (1.0): CTRL penalty on tokens already seen; finite, ``> 0``, ``1`` = off;
- ``stop`` (``()``): stop strings; the text ends before the first one, which is not included;
- ``seed`` (None): seed of the sampling RNG (``None`` = nondeterministic), torch's range.

Order of application, as transformers' logits processors: repetition penalty, temperature, top-k,
top-p, then sample.

A bad value raises ``SamplingError`` (a ``ValueError``) whose ``field`` names the field, so a server
can answer 400 with ``param`` set. ``resolve(sampling, **overrides)`` is the one place where keyword
arguments (``llm.chat(msgs, temperature=0.7)``) become a ``Sampling``; an unknown keyword is a
``TypeError`` naming it.

Limits: ``stop`` strings are applied to decoded text (``tinyqwen.text_generation``); the token-level
``generate()`` ignores them. Empty stop strings are dropped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# torch.Generator.manual_seed accepts exactly this range
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1


class SamplingError(ValueError):
    """A sampling field has a bad value; ``field`` names it (e.g. ``"top_p"``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SamplingError(name, f"{name} must be a number, got {value!r}")
    return float(value)


def _integer(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SamplingError(name, f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise SamplingError(name, f"{name} must be {bound}, got {value}")
    return int(value)


def _stop_strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(s, str) for s in value):
        raise SamplingError("stop", f"stop must be a string or a list of strings, got {value!r}")
    return tuple(s for s in value if s)


@dataclass(frozen=True)
class Sampling:
    """Decoding settings; validated and normalised (``stop`` -> tuple) on construction."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)  # frozen: normalise once, here

        put("max_new_tokens", _integer("max_new_tokens", self.max_new_tokens, 0))
        t = _number("temperature", self.temperature)
        if not (math.isfinite(t) and t >= 0):
            raise SamplingError("temperature", f"temperature must be a finite number >= 0, got {t}")
        put("temperature", t)
        p = _number("top_p", self.top_p)
        if not 0 < p <= 1:  # also false for NaN
            raise SamplingError("top_p", f"top_p must be in (0, 1], got {p}")
        put("top_p", p)
        put("top_k", _integer("top_k", self.top_k, 0))
        r = _number("repetition_penalty", self.repetition_penalty)
        if not (math.isfinite(r) and r > 0):
            raise SamplingError(
                "repetition_penalty", f"repetition_penalty must be a finite number > 0, got {r}"
            )
        put("repetition_penalty", r)
        put("stop", _stop_strings(self.stop))
        if self.seed is not None:
            put("seed", _integer("seed", self.seed, SEED_MIN, SEED_MAX))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def replace(self, **changes: Any) -> Sampling:
        """A copy with some fields changed (checked again); unknown names are a ``TypeError``."""
        unknown = sorted(set(changes) - FIELDS)
        if unknown:
            raise TypeError(
                f"unknown sampling argument(s) {unknown}; expected some of {sorted(FIELDS)}"
            )
        return dataclasses.replace(self, **changes)


FIELDS = frozenset(f.name for f in dataclasses.fields(Sampling))


def resolve(sampling: Sampling | None = None, **overrides: Any) -> Sampling:
    """``sampling`` (default ``Sampling()``) with ``overrides`` applied: how every ``ChatModel``
    method turns ``chat(msgs, sampling=s, temperature=0.7)`` into one ``Sampling``."""
    if sampling is None:
        sampling = Sampling()
    elif not isinstance(sampling, Sampling):
        raise TypeError(f"sampling must be a tinyqwen.Sampling, got {type(sampling).__name__}")
    return sampling.replace(**overrides) if overrides else sampling
