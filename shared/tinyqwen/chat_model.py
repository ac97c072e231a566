"""``ChatModel``: the one interface every consumer of a language model in this repo codes against.

Two classes implement it, with identical signatures: ``tinyqwen.LLM`` (our hand-written Qwen2,
running locally) and ``tinyqwen.OpenAIChatModel`` (any OpenAI-compatible endpoint: vLLM, Ollama,
SGLang, a cloud API, or ``tinyqwen serve``). ``tinyqwen.connect(spec)`` returns one or the other, so
tinyrag, tinyagent and tinyeval never care which.

    >>> import tinyqwen
    >>> def summarize(model: tinyqwen.ChatModel, text: str) -> str:
    ...     return model.chat([{"role": "user", "content": f"Summarize: {text}"}])["content"]
    >>> def can_score(model: tinyqwen.ChatModel) -> bool:
    ...     return LOGLIKELIHOOD in model.capabilities

It is a structural ``typing.Protocol`` (``runtime_checkable``): any object with these members is a
``ChatModel``; nothing needs to inherit from it. Messages, tools and tool calls are in OpenAI's
format (see ``tinyqwen.chat_template``).

**Sampling.** Generating methods take ``sampling=Sampling(...)`` (``tinyqwen.sampling``) and/or its
fields as keywords (``temperature=0.7``); ``tinyqwen.sampling.resolve`` merges them, and an unknown
keyword is a ``TypeError``. ``temperature=0`` (the default) is greedy decoding.

**Thinking.** ``enable_thinking`` is Qwen3's template switch (``False``: answer directly; ``None``:
the template's default). A thought the model wrote comes back as ``reasoning_content`` beside
``content`` in ``chat`` replies; ``stream_chat`` yields the raw text, ``<think>...</think>`` included.
Templates without thinking ignore it.

**Capabilities** are declared, not probed: ``model.capabilities`` is a frozenset of these names.

- ``"stream"``: ``stream_chat`` / ``stream_complete`` yield text while it is generated.
- ``"loglikelihood"``: ``loglikelihood`` is offered (a remote server may still answer
  ``NotImplementedError``, e.g. the OpenAI cloud, which has no prompt logprobs).
- ``"embed"``: ``embed`` is offered (same caveat for remote servers).
- ``"rerank"``: ``rerank(query, documents)`` gives Qwen3-Reranker relevance P(yes) per document
  (``tinyqwen.retrieval``); meaningful only when the checkpoint is a Qwen3-Reranker.
- ``"tokenizer"``: the model runs in this process with its exact tokenizer: ``model.tokenizer``
  (a ``tinyqwen.Tokenizer``), ``model.model`` (the ``Qwen2ForCausalLM``), ``encode(text)`` and
  ``encode_chat(messages, tools, add_generation_prompt, continue_final_message)`` give the very ids
  it is fed, and ``generate_ids(prompt_ids, sampling)`` returns ``Completion`` objects (text, ids,
  finish reason). Token counts are then exact and token logprobs possible.

A method whose capability is missing raises ``NotImplementedError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # numpy and the Sampling type are only needed for the annotations
    import numpy as np

    from tinyqwen.sampling import Sampling

STREAM = "stream"
LOGLIKELIHOOD = "loglikelihood"
EMBED = "embed"
RERANK = "rerank"
TOKENIZER = "tokenizer"


@runtime_checkable
class ChatModel(Protocol):
    name: str
    """Model name: a checkpoint path, ``"tiny-random"``, or the remote model id."""
    context_length: int
    """Most tokens the model accepts (prompt + generated)."""
    capabilities: frozenset[str]
    """Optional abilities this backend offers (see the module docstring)."""

    def complete(
        self, prompts: str | list[str], *, sampling: Sampling | None = None, **overrides: Any
    ) -> str | list[str]:
        """Continue raw text. A ``str`` in gives a ``str`` out; a list gives a list.

        The output never contains a stop string (generation ends before it)."""
        ...

    def chat(
        self,
        messages: list[dict],
        *,
        tools: list[dict] | None = None,
        sampling: Sampling | None = None,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
        **overrides: Any,
    ) -> dict:
        """One assistant turn: ``{"role": "assistant", "content": str, "tool_calls"?: [...]}``.

        ``continue_final_message=True`` continues the final assistant message instead of opening
        a new turn (vLLM's option; ``tinyqwen serve`` has it too): the safe way to feed a
        scratchpad that contains untrusted text."""
        ...

    def chat_batch(
        self,
        conversations: list[list[dict]],
        *,
        tools: list[dict] | None = None,
        sampling: Sampling | None = None,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
        **overrides: Any,
    ) -> list[dict]:
        """``chat`` over many conversations (batched locally, concurrent requests remotely)."""
        ...

    def stream_chat(
        self,
        messages: list[dict],
        *,
        tools: list[dict] | None = None,
        sampling: Sampling | None = None,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
        **overrides: Any,
    ) -> Iterator[str]:
        """Text deltas of one assistant turn; never splits a UTF-8 character. Joined, they equal the
        raw assistant text (``<tool_call>`` blocks included when tools are used)."""
        ...

    def stream_complete(
        self, prompt: str, *, sampling: Sampling | None = None, **overrides: Any
    ) -> Iterator[str]:
        """Text deltas of ``complete(prompt)``; joined, they equal its result."""
        ...

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), continuation is the greedy one)`` per request, as
        lm-evaluation-harness defines it."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (exact with ``"tokenizer"``; remote backends approximate)."""
        ...

    def embed(
        self,
        texts: list[str],
        pooling: str = "last",
        *,
        instruction: str | None = None,
        dimensions: int | None = None,
    ) -> np.ndarray:
        """``[N, H]`` float32, each row L2-normalised. ``pooling`` is ``"last"`` or ``"mean"``.

        Qwen3-Embedding (``tinyqwen.retrieval``): ``instruction`` writes each text as a query
        (``"Instruct: ...\\nQuery:..."``); ``dimensions`` keeps the first components, re-normalised."""
        ...
