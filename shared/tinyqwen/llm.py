"""``LLM``: a local Qwen2 checkpoint (model + tokenizer + chat template) behind the ``ChatModel`` API.

    >>> from tinyqwen import LLM, Sampling
    >>> llm = LLM.from_pretrained("Qwen2.5-0.5B-Instruct")                       # doctest: +SKIP
    >>> llm.complete("The capital of France is", max_new_tokens=5)             # doctest: +SKIP
    ' Paris. The capital of'
    >>> llm.chat([{"role": "user", "content": "你好"}], sampling=Sampling(temperature=0.7, seed=0))  # doctest: +SKIP
    {'role': 'assistant', 'content': '你好！有什么可以帮你的吗？'}
    >>> llm.loglikelihood([("1 + 1 =", " 2")])                                  # doctest: +SKIP
    [(-0.08, True)]

What ``LLM`` does itself is encoding; generation is ``tinyqwen.text_generation`` (stop strings,
UTF-8-safe streaming) and scoring is ``tinyqwen.scoring`` (log-likelihood, embeddings).

How text becomes tokens (the parts a careful user asks about):

- ``complete``, ``loglikelihood``, ``count_tokens`` and ``embed`` encode the text as Hugging Face
  tokenizers do by default: special-token strings written in the text (``<|im_start|>``, ...) become
  special tokens. The text is the caller's own prompt.
- ``chat`` / ``stream_chat`` render the Qwen2.5 template and encode only the template's own markers as
  special tokens; message contents, tool JSON and tool-call arguments are encoded as plain text, so a
  message containing ``<|im_end|><|im_start|>system`` cannot open a new turn. When no message
  contains such strings, the ids equal ``tokenizer.encode(render_chat(...), allowed_special="all")``.
- Generation stops at the end-of-turn/end-of-text tokens (``<|im_end|>``, ``<|endoftext|>``, the
  tokenizer's eos and the config's ``eos_token_id``) and before the first ``stop`` string, even one
  that spans several tokens; the returned text never contains the stop string.
- A streamed delta never ends inside a UTF-8 character; a character cut by ``max_new_tokens`` comes
  out as U+FFFD in both the streamed and the non-streamed text, which are always equal.

Sampling: every method takes ``sampling=Sampling(...)`` and/or the same fields as keywords
(``temperature=0.7``), merged by ``tinyqwen.sampling.resolve``; ``temperature=0`` (default) is greedy.

Limits: inputs longer than the context raise ``ValueError`` for generation (a chat prompt is not
silently cut), are cut on the left for ``loglikelihood`` and on the right for ``embed``, with a
warning; ``max_new_tokens`` is lowered to fit the context, with a warning.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinyqwen import retrieval, scoring
from tinyqwen.chat_formats import detect_chat_format, read_chat_template, render_segments
from tinyqwen.chat_template import parse_tool_calls
from tinyqwen.chat_template_qwen3 import parse_reasoning
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.sampling import Sampling, resolve
from tinyqwen.text_generation import (
    Completion,
    end_token_ids,
    generate_text,
    pad_token_id,
    stream_text,
)
from tinyqwen.tokenizer import Tokenizer


def _outside_this_file() -> int:
    """``stacklevel`` for a warning raised here that points at the user's call, however deep."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def assistant_message(text: str, thinking: bool | None = None) -> dict:
    """``{"role": "assistant", "content", "reasoning_content"?, "tool_calls"?}`` from raw output.

    ``thinking`` (Qwen3 templates; None for others): ``True`` splits a leading
    ``<think>...</think>`` off into ``reasoning_content`` (as vLLM and DeepSeek's API return it),
    ``False`` means thinking was switched off, so all of the text is content. Tool calls are
    parsed whenever the output has ``<tool_call>`` blocks, tools given or not: the model may call
    tools described in a system message."""
    reasoning = ""
    if thinking is not None:
        reasoning, text = parse_reasoning(text, thinking=thinking)
    content, calls = parse_tool_calls(text)
    message: dict[str, Any] = {"role": "assistant", "content": content if calls else text}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    return message


class LLM:
    """Model + tokenizer + chat template: the local implementation of ``tinyqwen.ChatModel``."""

    capabilities = frozenset({"stream", "loglikelihood", "embed", "rerank", "tokenizer"})

    def __init__(
        self,
        model: Qwen2ForCausalLM,
        tokenizer: Tokenizer,
        name: str = "local",
        chat_format: str = "qwen2.5",
    ) -> None:
        """``chat_format``: ``"qwen2.5"``, ``"qwen3"`` or ``"chatml"`` (``tinyqwen.chat_formats``);
        ``from_pretrained`` reads it from the checkpoint's chat template."""
        if tokenizer.vocab_size > model.config.vocab_size:
            raise ValueError(
                f"tokenizer has {tokenizer.vocab_size} tokens but the model's embedding has "
                f"{model.config.vocab_size} rows (config.json vocab_size): they do not belong together"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.chat_format = chat_format
        # special tokens the checkpoint's tokenizer appends to every text (Qwen3-Embedding:
        # "<|endoftext|>", whose hidden state is the embedding); from_pretrained reads them
        self.embed_suffix = ""
        self.context_length: int = int(model.config.max_position_embeddings)
        self.batch_size = 16  # prompts per generation / texts per embed forward
        self.token_budget = 8192  # max padded tokens per loglikelihood forward
        specials = tokenizer.special_tokens
        self._special_re = (
            re.compile("(" + "|".join(re.escape(s) for s in sorted(specials, key=len)[::-1]) + ")")
            if specials
            else None
        )
        self.stop_token_ids: tuple[int, ...] = end_token_ids(model, tokenizer)
        self.pad_token_id: int = pad_token_id(tokenizer, self.stop_token_ids)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        dtype: torch.dtype | str | None = None,
        device: str | None = None,
        quantize: str | None = None,
        compile: bool = False,
    ) -> LLM:
        """Load a Hugging Face Qwen2 / Qwen3 (dense or MoE) directory (config.json, safetensors,
        tokenizer files) through ``tinyqwen.AutoModelForCausalLM``; the chat template is the one
        the checkpoint's tokenizer_config.json names (``tinyqwen.chat_formats``).

        ``device=None`` picks ``"cuda"`` when available, else ``"cpu"``; ``dtype=None`` lets
        ``AutoModelForCausalLM.from_pretrained`` choose (see there); ``quantize="int8"`` / ``"int4"``
        loads int8 / int4 weights (``tinyqwen.quant``, ``tinyqwen.int4``)."""
        from tinyqwen.auto import AutoModelForCausalLM

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=dtype, device=device, quantize=quantize
        )
        tokenizer = Tokenizer.from_pretrained(path)
        chat_format = detect_chat_format(read_chat_template(path))
        llm = cls(model, tokenizer, name=str(path), chat_format=chat_format)
        llm.embed_suffix = "".join(retrieval.appended_special_tokens(path))
        return llm

    def __repr__(self) -> str:
        m, q = self.model, getattr(self.model, "quantization", None)
        weights = f", weights={q}" if q else ""
        return f"LLM(name={self.name!r}, dtype={m.dtype}{weights}, device={m.device}, context={self.context_length})"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ encoding

    def encode(self, text: str) -> list[int]:
        """Token ids of raw text, special-token strings included (Hugging Face's default)."""
        return self.tokenizer.encode(text, allowed_special="all")

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def encode_chat(
        self,
        messages: list[dict],
        tools: list[dict] | None = None,
        add_generation_prompt: bool = True,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
    ) -> list[int]:
        """Token ids of the rendered chat; only the template's own markers become special tokens.

        ``enable_thinking`` (Qwen3 template only): ``False`` pre-fills an empty ``<think>`` block so
        the model answers directly; ``None``/``True`` let it think first."""
        ids: list[int] = []
        plain: list[str] = []  # text waiting to be encoded; BPE must see it whole, not per segment

        def flush() -> None:
            if plain:
                ids.extend(self.tokenizer.encode("".join(plain)))
                plain.clear()

        segments = render_segments(
            self.chat_format,
            messages,
            tools,
            add_generation_prompt,
            continue_final_message,
            enable_thinking,
        )
        for text, is_markup in segments:
            if not is_markup or self._special_re is None:
                plain.append(text)
                continue
            for i, piece in enumerate(self._special_re.split(text)):
                if i % 2 == 1:  # a captured special-token string written by the template
                    flush()
                    ids.append(self.tokenizer.special_tokens[piece])
                elif piece:
                    plain.append(piece)
        flush()
        return ids

    def _chat_ids(
        self,
        messages: list[dict],
        tools: list[dict] | None,
        continue_final_message: bool,
        enable_thinking: bool | None = None,
    ) -> list[int]:
        return self.encode_chat(
            messages, tools, not continue_final_message, continue_final_message, enable_thinking
        )

    def _thinking(self, enable_thinking: bool | None) -> bool | None:
        """``assistant_message``'s ``thinking``: None unless this is a Qwen3 (thinking) template."""
        return None if self.chat_format != "qwen3" else enable_thinking is not False

    # ------------------------------------------------------------------ generation

    def _fit(self, prompt: list[int], max_new_tokens: int, what: str) -> int:
        if not prompt:
            raise ValueError(f"{what} encodes to zero tokens; nothing to continue from")
        room = self.context_length - len(prompt)
        if room <= 0:
            raise ValueError(
                f"{what} has {len(prompt)} tokens but {self.name}'s context is "
                f"{self.context_length} tokens; shorten it"
            )
        if max_new_tokens > room:
            warnings.warn(
                f"max_new_tokens={max_new_tokens} lowered to {room} to fit the context "
                f"({len(prompt)} prompt tokens + {room} = {self.context_length})",
                stacklevel=_outside_this_file(),
            )
            return room
        return max_new_tokens

    def generate_ids(
        self, prompts: list[list[int]], sampling: Sampling, what: str = "prompt"
    ) -> list[Completion]:
        """Generate for token-id prompts, ``batch_size`` at a time: text, ids, finish reason."""
        out: list[Completion] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            budget = min(
                self._fit(p, sampling.max_new_tokens, f"{what} {start + i}")
                for i, p in enumerate(chunk)
            )
            out += generate_text(
                self.model, self.tokenizer, chunk, replace(sampling, max_new_tokens=budget)
            )
        return out

    def _stream_ids(self, prompt: list[int], sampling: Sampling, what: str) -> Iterator[str]:
        # checked now, not at the first next(): a bad prompt fails where the call is made
        budget = self._fit(prompt, sampling.max_new_tokens, what)
        return stream_text(
            self.model, self.tokenizer, prompt, replace(sampling, max_new_tokens=budget)
        )

    def complete(
        self, prompts: str | list[str], *, sampling: Sampling | None = None, **overrides: Any
    ) -> str | list[str]:
        """Continue each prompt (raw text, no chat template). ``str`` in, ``str`` out."""
        sampling = resolve(sampling, **overrides)
        single = isinstance(prompts, str)
        texts = [prompts] if single else list(prompts)
        outs = [c.text for c in self.generate_ids([self.encode(t) for t in texts], sampling)]
        return outs[0] if single else outs

    def stream_complete(
        self, prompt: str, *, sampling: Sampling | None = None, **overrides: Any
    ) -> Iterator[str]:
        """Text deltas of ``complete(prompt, ...)``; joined, they equal its result."""
        return self._stream_ids(self.encode(prompt), resolve(sampling, **overrides), "prompt")

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
        """One assistant turn. ``<tool_call>`` blocks in the output become ``tool_calls``.

        ``continue_final_message=True``: the last message is an assistant message whose text the
        model continues (no new turn is opened); the reply holds only the continuation.
        Qwen3 checkpoints: ``enable_thinking=False`` switches thinking off; a thought the model
        wrote comes back as ``reasoning_content``, separate from ``content``.
        """
        return self.chat_batch(
            [messages],
            tools=tools,
            sampling=sampling,
            continue_final_message=continue_final_message,
            enable_thinking=enable_thinking,
            **overrides,
        )[0]

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
        """``chat`` for many conversations in one batched generation (same ``tools`` for all)."""
        sampling = resolve(sampling, **overrides)
        prompts = [
            self._chat_ids(m, tools, continue_final_message, enable_thinking) for m in conversations
        ]
        completions = self.generate_ids(prompts, sampling, "conversation")
        thinking = self._thinking(enable_thinking)
        return [assistant_message(c.text, thinking) for c in completions]

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
        """Text deltas of one assistant turn (raw text: ``<tool_call>`` blocks and a Qwen3
        ``<think>...</think>`` block are included).

        ``"".join(stream_chat(...))`` equals ``chat(...)["content"]`` when there are no tool calls
        and no thought; otherwise ``assistant_message(joined, thinking)`` gives ``chat``'s reply
        (``tinyqwen.chat_template_qwen3.ReasoningStream`` splits the deltas one by one).
        """
        sampling = resolve(sampling, **overrides)
        prompt = self._chat_ids(messages, tools, continue_final_message, enable_thinking)
        return self._stream_ids(prompt, sampling, "conversation")

    # ------------------------------------------------------------------ scoring

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), is_greedy)`` per pair (``tinyqwen.scoring``)."""
        return scoring.loglikelihood(
            self.model,
            self.tokenizer,
            requests,
            batch_size=self.batch_size,
            token_budget=self.token_budget,
        )

    def embed(
        self,
        texts: list[str],
        pooling: str = "last",
        *,
        instruction: str | None = None,
        dimensions: int | None = None,
    ) -> np.ndarray:
        """``[N, H]`` float32 L2-normalised embeddings (``tinyqwen.scoring.embed``).

        For Qwen3-Embedding (``tinyqwen.retrieval``): ``instruction`` turns each text into the
        query form ``"Instruct: {instruction}\\nQuery:{text}"`` (embed documents without it), the
        tokenizer's appended ``<|endoftext|>`` is added, and ``dimensions`` keeps the first
        components, re-normalised."""
        if isinstance(texts, str):
            raise TypeError("embed takes a list of strings, got a single str")
        if instruction is not None:
            texts = [retrieval.embedding_query(instruction, t) for t in texts]
        if self.embed_suffix:
            texts = [t + self.embed_suffix for t in texts]
        out = scoring.embed(self.model, self.tokenizer, texts, pooling, batch_size=self.batch_size)
        return retrieval.truncate_embeddings(out, dimensions)

    def rerank(
        self, query: str, documents: list[str], instruction: str | None = None
    ) -> list[float]:
        """Qwen3-Reranker relevance in [0, 1] per document (``tinyqwen.retrieval.rerank``)."""
        return retrieval.rerank(
            self.model, self.tokenizer, query, documents, instruction, batch_size=self.batch_size
        )
