"""``LLM``: a local Qwen2 checkpoint (model + tokenizer + chat template) behind the ``ChatModel`` API.

    >>> from tinyqwen import LLM
    >>> llm = LLM.from_pretrained("Qwen2.5-0.5B-Instruct")                       # doctest: +SKIP
    >>> llm.complete("The capital of France is", max_new_tokens=5)             # doctest: +SKIP
    ' Paris. The capital of'
    >>> llm.chat([{"role": "user", "content": "你好"}])                          # doctest: +SKIP
    {'role': 'assistant', 'content': '你好！有什么可以帮你的吗？'}
    >>> llm.loglikelihood([("1 + 1 =", " 2")])                                  # doctest: +SKIP
    [(-0.08, True)]

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
- Text is decoded with the tokenizer's ``decode_stream()``, so a streamed delta never ends inside a
  UTF-8 character; a character cut by ``max_new_tokens`` comes out as U+FFFD in both the streamed
  and the non-streamed text, which are always equal.

``loglikelihood`` follows lm-evaluation-harness (``HFLM._encode_pair`` / ``_loglikelihood_tokens``):
trailing spaces of the context move to the continuation; ``context + continuation`` is encoded
whole and the continuation is whatever follows the tokens of ``context`` encoded alone (so a merge
across the boundary is scored as continuation, like lm-eval); an empty context is replaced by the
eos token (Qwen has no bos); the input is cut on the left to ``context_length + 1`` tokens; and
``is_greedy`` means every continuation token is the argmax. Requests are batched (longest first,
right padding, which a causal model never attends to).

``embed`` feeds each text (left-padded, position ids counted from the first real token), takes the
final-norm hidden state of the last token (``pooling="last"``, as gte-Qwen2 does) or the mean over
real tokens (``"mean"``), and L2-normalises in float32. Add any instruction prefix or eos your
embedding checkpoint expects to the texts yourself.

Limits: inputs longer than the context raise ``ValueError`` for generation (a chat prompt is not
silently cut), are cut on the left for ``loglikelihood`` and on the right for ``embed``, with a
warning; ``max_new_tokens`` is lowered to fit the context, with a warning.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinyqwen.chat_formats import detect_chat_format, read_chat_template, render_segments
from tinyqwen.chat_template import parse_tool_calls
from tinyqwen.chat_template_qwen3 import parse_reasoning
from tinyqwen.generation import generate_steps, stream_generate  # see _generate_texts
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.tokenizer import Tokenizer

_SAMPLING_KEYS = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "stop",
    "seed",
)
# Markers that end a turn or a document in Qwen tokenizers (ids looked up in the tokenizer).
_END_TOKENS = ("<|im_end|>", "<|endoftext|>")


def _check_sampling(sampling: dict[str, Any]) -> None:
    unknown = sorted(set(sampling) - set(_SAMPLING_KEYS))
    if unknown:
        raise TypeError(
            f"unknown sampling argument(s) {unknown}; expected some of {_SAMPLING_KEYS}"
        )


def _find_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index where the earliest stop string starts in ``text``, or None."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of some stop string.

    Those characters cannot be emitted yet: the next token may complete the stop string.
    """
    best = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:k]):
                best = k
                break
    return best


class _StopText:
    """Generated ids -> text deltas for one sequence: whole UTF-8 characters, cut before a stop string.

    Stop strings may span tokens: text that could be the start of one is held back until the next
    token decides. ``done`` turns True once a stop string was found (the caller stops generating).
    """

    def __init__(self, tokenizer: Tokenizer, stop: Sequence[str]) -> None:
        self._decoder = tokenizer.decode_stream()
        self._stop = [s for s in stop if s]
        self._pending = ""
        self.done = False

    def push(self, token_id: int) -> str:
        if self.done:
            return ""
        self._pending += self._decoder.step(token_id)
        ready = len(self._pending)
        if self._stop:
            cut = _find_stop(self._pending, self._stop)
            if cut is not None:
                self.done = True
                ready = cut
                self._pending = self._pending[:cut]
            else:
                ready -= _held_back(self._pending, self._stop)
        out, self._pending = self._pending[:ready], self._pending[ready:]
        return out

    def finish(self) -> str:
        """End of generation: the held-back text (an incomplete last character becomes U+FFFD)."""
        if self.done:
            return ""
        self.done = True
        text = self._pending + self._decoder.flush()
        self._pending = ""
        cut = _find_stop(text, self._stop) if self._stop else None
        return text if cut is None else text[:cut]


class LLM:
    """Model + tokenizer + chat template: the local implementation of ``tinyqwen.ChatModel``."""

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
        self.context_length: int = int(model.config.max_position_embeddings)
        self.batch_size = 16  # prompts per generate() call / texts per embed forward
        self.token_budget = 8192  # max padded tokens per loglikelihood forward
        specials = tokenizer.special_tokens
        self._special_re = (
            re.compile("(" + "|".join(re.escape(s) for s in sorted(specials, key=len)[::-1]) + ")")
            if specials
            else None
        )
        stop_ids = {specials[t] for t in _END_TOKENS if t in specials}
        if tokenizer.eos_token_id is not None:
            stop_ids.add(tokenizer.eos_token_id)
        eos = model.config.eos_token_id
        stop_ids.update([eos] if isinstance(eos, int) else (eos or []))
        self.stop_token_ids: tuple[int, ...] = tuple(sorted(stop_ids))
        self.pad_token_id: int = (
            tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else (self.stop_token_ids[0] if self.stop_token_ids else 0)
        )
        # lm-eval's prefix token for an empty context: bos if any (Qwen has none), else eos.
        prefix = model.config.bos_token_id
        if prefix is None:
            prefix = tokenizer.eos_token_id
        if prefix is None:
            prefix = specials.get("<|endoftext|>", self.pad_token_id)
        self._prefix_token_id: int = prefix

    @classmethod
    def from_pretrained(
        cls, path: str | Path, dtype: torch.dtype | str | None = None, device: str | None = None
    ) -> LLM:
        """Load a Hugging Face Qwen2 / Qwen3 (dense or MoE) directory (config.json, safetensors,
        tokenizer files) through ``tinyqwen.AutoModelForCausalLM``.

        ``device=None`` picks ``"cuda"`` when available, else ``"cpu"``; ``dtype=None`` lets
        ``AutoModelForCausalLM.from_pretrained`` choose (see there)."""
        from tinyqwen.auto import AutoModelForCausalLM

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, device=device)
        tokenizer = Tokenizer.from_pretrained(path)
        chat_format = detect_chat_format(read_chat_template(path))
        return cls(model, tokenizer, name=str(path), chat_format=chat_format)

    def __repr__(self) -> str:
        p = next(self.model.parameters())
        return f"LLM(name={self.name!r}, dtype={p.dtype}, device={p.device}, context={self.context_length})"

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
                stacklevel=3,
            )
            return room
        return max_new_tokens

    def _generate_texts(
        self, prompts: list[list[int]], stop: list[str], what: str, sampling: dict[str, Any]
    ) -> list[str]:
        """Generate for a batch of prompts; each row ends at a stop token or a stop string.

        The loop ends as soon as every row has ended either way, so a stop string saves the rest
        of ``max_new_tokens`` just like a stop token does. That is why this drives
        ``generation.generate_steps`` (the loop ``generate()`` itself runs, one step's tokens at a
        time) rather than ``generate()``, which only knows stop token ids.
        """
        max_new = int(sampling.pop("max_new_tokens", 256))
        texts: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            budget = min(self._fit(p, max_new, f"{what} {start + i}") for i, p in enumerate(chunk))
            rows = [_StopText(self.tokenizer, stop) for _ in chunk]
            parts: list[list[str]] = [[] for _ in chunk]
            ended = [False] * len(chunk)  # by a stop token
            with torch.inference_mode():
                steps = generate_steps(
                    self.model,
                    chunk,
                    max_new_tokens=budget,
                    temperature=float(sampling.get("temperature", 0.0)),
                    top_k=int(sampling.get("top_k", 0)),
                    top_p=float(sampling.get("top_p", 1.0)),
                    repetition_penalty=float(sampling.get("repetition_penalty", 1.0)),
                    stop_token_ids=self.stop_token_ids,
                    seed=sampling.get("seed"),
                    pad_token_id=self.pad_token_id,
                )
                for step in steps:  # one new token (or None once a row stopped) per row
                    for i, tok in enumerate(step):
                        if tok is None:
                            ended[i] = True
                        elif not rows[i].done:
                            parts[i].append(rows[i].push(tok))
                    if all(e or r.done for e, r in zip(ended, rows)):
                        steps.close()
                        break
            texts += ["".join(p) + r.finish() for p, r in zip(parts, rows)]
        return texts

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
        """Continue each prompt (raw text, no chat template). ``str`` in, ``str`` out."""
        single = isinstance(prompts, str)
        texts = [prompts] if single else list(prompts)
        sampling = dict(
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            repetition_penalty=repetition_penalty,
            seed=seed,
        )
        outs = self._generate_texts(
            [self.encode(t) for t in texts], list(stop or []), "prompt", sampling
        )
        return outs[0] if single else outs

    def stream_complete(self, prompt: str, **sampling: Any) -> Iterator[str]:
        """Text deltas of ``complete(prompt, ...)`` (not part of ``ChatModel``; used by the CLI)."""
        _check_sampling(sampling)
        return self._stream(self.encode(prompt), "prompt", sampling)

    def _assistant_message(self, text: str, enable_thinking: bool | None = None) -> dict:
        # Qwen3: the <think>...</think> part becomes "reasoning_content" (as vLLM and DeepSeek's API
        # return it). Tool calls are parsed whenever the output has <tool_call> blocks, tools given
        # or not: the model may call tools described in a system message.
        reasoning = ""
        if self.chat_format == "qwen3":
            reasoning, text = parse_reasoning(text, thinking=enable_thinking is not False)
        content, calls = parse_tool_calls(text)
        message: dict[str, Any] = {"role": "assistant", "content": content if calls else text}
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = calls
        return message

    def chat(
        self,
        messages: list[dict],
        tools: list[dict] | None = None,
        *,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
        **sampling: Any,
    ) -> dict:
        """One assistant turn. ``<tool_call>`` blocks in the output become ``tool_calls``.

        ``continue_final_message=True``: the last message is an assistant message whose text the
        model continues (no new turn is opened); the reply holds only the continuation.
        Qwen3 checkpoints: ``enable_thinking=False`` switches thinking off; a thought the model
        wrote is returned as ``reasoning_content``, separate from ``content``.
        """
        return self.chat_batch(
            [messages],
            tools=tools,
            continue_final_message=continue_final_message,
            enable_thinking=enable_thinking,
            **sampling,
        )[0]

    def chat_batch(
        self,
        conversations: list[list[dict]],
        tools: list[dict] | None = None,
        *,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
        **sampling: Any,
    ) -> list[dict]:
        """``chat`` for many conversations in one batched generation (same ``tools`` for all)."""
        _check_sampling(sampling)
        stop = list(sampling.pop("stop", None) or [])
        prompts = [
            self.encode_chat(
                m, tools, not continue_final_message, continue_final_message, enable_thinking
            )
            for m in conversations
        ]
        texts = self._generate_texts(prompts, stop, "conversation", sampling)
        return [self._assistant_message(t, enable_thinking) for t in texts]

    def stream_chat(
        self,
        messages: list[dict],
        tools: list[dict] | None = None,
        *,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
        **sampling: Any,
    ) -> Iterator[str]:
        """Text deltas of one assistant turn (raw text: ``<tool_call>`` blocks and a Qwen3
        ``<think>...</think>`` block are included).

        ``"".join(stream_chat(...))`` equals ``chat(...)["content"]`` when there are no tool calls
        and no thought; otherwise pass the joined text to ``parse_reasoning`` (``tinyqwen.
        chat_template_qwen3``; ``ReasoningStream`` splits it delta by delta) and ``parse_tool_calls``.
        """
        _check_sampling(sampling)
        prompt = self.encode_chat(
            messages, tools, not continue_final_message, continue_final_message, enable_thinking
        )
        return self._stream(prompt, "conversation", sampling)

    def _stream(self, prompt: list[int], what: str, sampling: dict[str, Any]) -> Iterator[str]:
        sampling = dict(sampling)
        stop = list(sampling.pop("stop", None) or [])
        # checked now, not at the first next(): a bad prompt fails where the call is made
        max_new = self._fit(prompt, int(sampling.pop("max_new_tokens", 256)), what)
        tokens = stream_generate(
            self.model,
            prompt,
            max_new_tokens=max_new,
            stop_token_ids=self.stop_token_ids,
            **sampling,
        )
        return self._stream_text(tokens, _StopText(self.tokenizer, stop))

    @staticmethod
    def _stream_text(tokens: Iterator[int], row: _StopText) -> Iterator[str]:
        try:
            for tok in tokens:
                delta = row.push(tok)
                if delta:
                    yield delta
                if row.done:
                    return
            tail = row.finish()
            if tail:
                yield tail
        finally:
            tokens.close()  # a stop string (or the caller) ended the turn: stop the model too

    # ------------------------------------------------------------------ scoring

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """lm-evaluation-harness ``HFLM._encode_pair`` (see the module docstring)."""
        if context == "":
            return [self._prefix_token_id], self.encode(continuation)
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces > 0:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = self.encode(context + continuation)
        n_context = len(self.encode(context))
        return whole[:n_context], whole[n_context:]

    def _final_hidden(
        self, ids: torch.Tensor, mask: torch.Tensor | None, positions: torch.Tensor | None
    ) -> torch.Tensor:
        return self.model.model(ids, attention_mask=mask, position_ids=positions)  # [B, T, H]

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), is_greedy)`` per pair, lm-eval semantics."""
        rows: list[tuple[int, list[int], list[int]]] = []  # (request index, input ids, targets)
        for i, (context, continuation) in enumerate(requests):
            ctx, cont = self._encode_pair(context, continuation)
            if not cont:
                raise ValueError(f"requests[{i}]: the continuation {continuation!r} has no tokens")
            if len(cont) > self.context_length:
                raise ValueError(
                    f"requests[{i}]: the continuation alone has {len(cont)} tokens, more than the "
                    f"context of {self.context_length}"
                )
            full = ctx + cont
            if len(full) > self.context_length + 1:
                warnings.warn(
                    f"requests[{i}]: {len(full)} tokens exceed the context of "
                    f"{self.context_length}; the context is cut on the left (as lm-eval does)",
                    stacklevel=2,
                )
                full = full[-(self.context_length + 1) :]
            rows.append((i, full[:-1], cont))  # the last token is only ever a target

        results: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
        rows.sort(key=lambda r: -len(r[1]))  # longest first: similar lengths share a batch
        device = self.device
        start = 0
        while start < len(rows):
            width = len(rows[start][1])
            count = max(1, min(self.batch_size, self.token_budget // width))
            batch = rows[start : start + count]
            start += count
            ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
            for b, (_, inp, _) in enumerate(batch):
                ids[b, : len(inp)] = torch.tensor(inp)
            with torch.inference_mode():
                # Right padding needs no mask: causal attention never looks at later positions.
                hidden = self._final_hidden(ids.to(device), None, None)  # [B, T, H]
                for b, (i, inp, cont) in enumerate(batch):
                    # the hidden state at position t predicts token t + 1
                    h = hidden[b, len(inp) - len(cont) : len(inp)]  # [C, H]
                    logprobs = torch.log_softmax(self.model.lm_head(h).float(), dim=-1)  # [C, V]
                    target = torch.tensor(cont, device=device)  # [C]
                    picked = logprobs.gather(-1, target[:, None]).squeeze(-1)  # [C]
                    greedy = bool((logprobs.argmax(-1) == target).all())
                    results[i] = (float(picked.sum()), greedy)
        return results

    # ------------------------------------------------------------------ embeddings

    def embed(self, texts: list[str], pooling: str = "last") -> np.ndarray:
        """``[N, H]`` float32 L2-normalised embeddings (see the module docstring)."""
        if pooling not in ("last", "mean"):
            raise ValueError(f"pooling must be 'last' or 'mean', got {pooling!r}")
        encoded: list[list[int]] = []
        for i, text in enumerate(texts):
            ids = self.encode(text)
            if not ids:
                raise ValueError(f"texts[{i}] is empty; an empty text has no embedding")
            if len(ids) > self.context_length:
                warnings.warn(
                    f"texts[{i}] has {len(ids)} tokens; only the first {self.context_length} "
                    "(the context) are embedded",
                    stacklevel=2,
                )
                ids = ids[: self.context_length]
            encoded.append(ids)
        hidden_size = int(self.model.config.hidden_size)
        out = np.zeros((len(texts), hidden_size), dtype=np.float32)
        order = sorted(range(len(encoded)), key=lambda k: -len(encoded[k]))
        device = self.device
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = len(encoded[idx[0]])
            ids = torch.full((len(idx), width), self.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for b, k in enumerate(idx):  # left padding: the last column is every text's last token
                ids[b, width - len(encoded[k]) :] = torch.tensor(encoded[k])
                mask[b, width - len(encoded[k]) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [B, T] 0 at each first real token
            with torch.inference_mode():
                hidden = self._final_hidden(ids.to(device), mask.to(device), positions.to(device))
                hidden = hidden.float()  # [B, T, H]
                if pooling == "last":
                    pooled = hidden[:, -1]  # [B, H]
                else:
                    m = mask.to(device, torch.float32)[..., None]  # [B, T, 1]
                    pooled = (hidden * m).sum(1) / m.sum(1)  # [B, H]
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.cpu().numpy()
        return out
