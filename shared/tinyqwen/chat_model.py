"""``ChatModel``: the one interface every consumer of a language model in this repo codes against.

Two classes implement it: ``tinyqwen.LLM`` (our hand-written Qwen2, running locally) and
``tinyqwen.OpenAIChatModel`` (any OpenAI-compatible endpoint: vLLM, Ollama, SGLang, a cloud API,
or ``tinyqwen serve``). ``tinyqwen.connect(spec)`` returns one or the other, so tinyrag, tinyagent and
tinyeval never care which.

    >>> import tinyqwen
    >>> def summarize(model: tinyqwen.ChatModel, text: str) -> str:
    ...     return model.chat([{"role": "user", "content": f"Summarize: {text}"}])["content"]

It is a structural ``typing.Protocol`` (``runtime_checkable``): any object with these members is a
``ChatModel``; nothing needs to inherit from it. Messages, tools and tool calls are in OpenAI's format
(see ``tinyqwen.chat_template``). Sampling keywords are those of ``complete``; ``temperature=0`` means
greedy decoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # numpy is only needed for the annotation
    import numpy as np


@runtime_checkable
class ChatModel(Protocol):
    name: str
    """Model name: a checkpoint path, ``"tiny-random"``, or the remote model id."""
    context_length: int
    """Most tokens the model accepts (prompt + generated)."""

    def complete(
        self,
        prompts: str | list[str],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        top_k: int = 0,
        repetition_penalty: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> str | list[str]:
        """Continue raw text. A ``str`` in gives a ``str`` out; a list gives a list.

        The output never contains a stop string (generation ends before it)."""
        ...

    def chat(self, messages: list[dict], tools: list[dict] | None = None, **sampling: Any) -> dict:
        """One assistant turn: ``{"role": "assistant", "content": str, "tool_calls"?: [...]}``.

        ``continue_final_message=True`` (keyword; ``LLM``, ``OpenAIChatModel`` and ``tinyqwen serve``
        accept it, as vLLM does) continues the final assistant message instead of opening a new
        turn: the safe way to feed a scratchpad that contains untrusted text."""
        ...

    def chat_batch(self, conversations: list[list[dict]], **sampling: Any) -> list[dict]:
        """``chat`` over many conversations (batched locally, concurrent requests remotely)."""
        ...

    def stream_chat(
        self, messages: list[dict], tools: list[dict] | None = None, **sampling: Any
    ) -> Iterator[str]:
        """Text deltas of one assistant turn; never splits a UTF-8 character. Joined, they equal the
        raw assistant text (``<tool_call>`` blocks included when tools are used)."""
        ...

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), continuation is the greedy one)`` per request, as
        lm-evaluation-harness defines it. Backends that cannot compute it raise
        ``NotImplementedError("... not supported by this backend")``."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (exact locally; remote backends may approximate)."""
        ...

    def embed(self, texts: list[str], pooling: str = "last") -> np.ndarray:
        """``[N, H]`` float32, each row L2-normalised. ``pooling`` is ``"last"`` or ``"mean"``."""
        ...
