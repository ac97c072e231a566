"""Shared fixtures: a scripted ChatModel double and the dev-data location."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tinyqwen.data_cache import shared_dev_data

# The developers' copy of the real data (../shared/data beside the checkout); absent on a user's
# clone and hidden by TINYU_SHARED_DATA=off, so every test that needs it skips with this path.
DEV_DATA = shared_dev_data(Path(__file__).resolve().parents[2]) or Path(
    "../shared/data (absent, or hidden by TINYU_SHARED_DATA=off)"
)
DATA = DEV_DATA


def data_dir(name: str) -> Path:
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} not present (dev data lives in ../shared/data)")
    return path


class ScriptedModel:
    """Implements the ChatModel methods tinyrag uses, deterministically.

    - chat/stream_chat: ``reply(messages) -> str`` (default: cite source 1);
    - embed: hashed bag of character bigrams (similar texts -> similar vectors), L2-normalised;
    - loglikelihood: " yes" scores high when the passage shares words with the question.
    Every call is recorded in ``self.calls``.
    """

    name = "scripted"
    context_length = 4096
    capabilities = frozenset({"stream", "loglikelihood", "embed"})

    def __init__(self, reply: Callable[[list[dict]], str] | None = None, dim: int = 64) -> None:
        self.reply = reply or (lambda messages: "The answer is in the first source [1].")
        self.dim = dim
        self.calls: list[tuple[str, object]] = []

    def chat(self, messages: list[dict], *, tools=None, sampling=None, **overrides) -> dict:
        self.calls.append(("chat", messages))
        return {"role": "assistant", "content": self.reply(messages)}

    def stream_chat(
        self, messages: list[dict], *, tools=None, sampling=None, **overrides
    ) -> Iterator[str]:
        self.calls.append(("stream_chat", messages))
        text = self.reply(messages)
        for i in range(0, len(text), 3):
            yield text[i : i + 3]

    def count_tokens(self, text: str) -> int:
        return len(text) // 2

    def embed(
        self, texts: list[str], pooling: str = "last", *, instruction: str | None = None
    ) -> np.ndarray:
        if instruction is not None:  # the ChatModel contract: Qwen3-Embedding query format
            from tinyqwen.retrieval import embedding_query

            texts = [embedding_query(instruction, t) for t in texts]
        self.calls.append(("embed", list(texts)))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            t = t.lower()
            for a, b in zip(t, t[1:]):
                out[i, zlib.crc32((a + b).encode()) % self.dim] += 1.0
            out[i, zlib.crc32(t.encode()) % self.dim] += 1e-3  # never all-zero
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        self.calls.append(("loglikelihood", list(requests)))
        out = []
        for ctx, cont in requests:
            passage = re.search(r"Passage: (.*?)\n\nQuestion:", ctx, re.S).group(1)
            question = ctx.rsplit("Question: ", 1)[1]
            overlap = len(
                set(re.findall(r"\w+", passage.lower())) & set(re.findall(r"\w+", question.lower()))
            )
            yes = -1.0 / (1 + overlap)
            out.append((yes if cont == " yes" else -0.5, cont == " yes"))
        return out


@pytest.fixture
def scripted() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture(autouse=True)
def _isolated_data_cache(tmp_path_factory, monkeypatch):
    """Tests never read (or fill) the user's ~/.cache/tiny-universe/data."""
    monkeypatch.setenv("TINYU_DATA_DIR", str(tmp_path_factory.mktemp("data-cache")))
