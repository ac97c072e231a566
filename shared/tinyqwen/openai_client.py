"""OpenAIChatModel: the `ChatModel` interface over any OpenAI-compatible HTTP endpoint.

The same methods and signatures as the local `LLM` (`complete`, `chat`, `chat_batch`, `stream_chat`,
`stream_complete`, `loglikelihood`, `count_tokens`, `embed`; see `tinyqwen.chat_model`), spoken over HTTP with `requests`, so tinyrag / tinyagent / tinyeval run
unchanged against `tinyqwen serve`, vLLM, SGLang, Ollama or a cloud endpoint.

    >>> m = OpenAIChatModel("http://127.0.0.1:8000/v1", "tiny-random")      # doctest: +SKIP
    >>> m.chat([{"role": "user", "content": "hi"}], max_new_tokens=8)      # doctest: +SKIP
    >>> m.chat(msgs, sampling=Sampling(temperature=0.7, seed=1))           # doctest: +SKIP
    {'role': 'assistant', 'content': '...'}
    >>> for delta in m.stream_chat([{"role": "user", "content": "hi"}]):  # doctest: +SKIP
    ...     print(delta, end="")

Environment: `OPENAI_BASE_URL` and `OPENAI_API_KEY` are used when `base_url` / `api_key` are None.

Network behaviour: every request has a timeout; 429, 5xx and connection errors/timeouts are retried
with exponential backoff (`backoff * 2**attempt` seconds, or the server's `Retry-After`), at most
`max_retries` times. A streaming request is retried only until its first byte arrives (after that a
retry would duplicate text the caller has already seen). Other 4xx responses raise `OpenAIAPIError`
at once, with the server's error message.

Stated limits:
- `count_tokens` is an approximation (the OpenAI API has no tokenize endpoint): one token per CJK
  character plus one per 4 other characters. Good for budgeting, not for exact truncation.
- `loglikelihood` needs `/v1/completions` with `echo` + `logprobs` (tinyqwen serve, vLLM; not the
  OpenAI cloud chat models). The context/continuation split is done on the server's `text_offset`:
  the continuation is every echoed token that ends after the context text, so a token straddling the
  boundary counts as continuation. lm-evaluation-harness tokenises `context + continuation` as one
  string too, so for BPE tokenisers the two agree except at such straddling tokens.
- `top_k` and `repetition_penalty` are not OpenAI parameters; they are sent (vLLM and tinyqwen serve
  accept them) only when set to a non-default value.
- `stream_complete` reads the server's `/v1/completions` SSE stream (tinyqwen serve sends the whole
  text in one event).
- `embed` L2-normalises whatever the server returns; `pooling` other than "last" is sent as a
  non-standard field that tinyqwen serve understands.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import requests

from tinyqwen.errors import UserError
from tinyqwen.sampling import Sampling, resolve

# statuses worth retrying: rate limit, server overload / crash, gateway trouble
_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_DEFAULT_CONTEXT_LENGTH = 8192  # used when /v1/models does not say (OpenAI cloud does not)
_PROBE_CONNECT_TIMEOUT = 3.0  # seconds: the first request fails fast when nothing listens


class OpenAIAPIError(UserError, RuntimeError):
    """A non-retryable error answer (or retries exhausted) from an OpenAI-compatible server."""

    def __init__(self, status: int | None, message: str, type: str | None = None, code=None):
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        where = f"HTTP {status}" if status is not None else "connection"
        super().__init__(f"{where}: {message}" + (f" ({type})" if type else ""))


def _error_message(resp: requests.Response) -> tuple[str, str | None, Any]:
    """Pull (message, type, code) out of an OpenAI-style error body, or fall back to the text."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.text[:500] or resp.reason or "error"), None, None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", err)), err.get("type"), err.get("code")
    if isinstance(err, str):  # some servers (Ollama, older vLLM) send {"error": "..."}
        return err, None, None
    if isinstance(body, dict) and "detail" in body:  # FastAPI default error body
        return str(body["detail"]), None, None
    return str(body)[:500], None, None


def approx_token_count(text: str) -> int:
    """One token per CJK character + one per 4 other characters (ceil). Documented approximation."""
    cjk = sum(
        1
        for ch in text
        if "\u4e00" <= ch <= "\u9fff"  # CJK unified ideographs
        or "\u3400" <= ch <= "\u4dbf"  # extension A
        or "\u3000" <= ch <= "\u303f"  # CJK punctuation
        or "\uff00" <= ch <= "\uffef"  # full-width forms
    )
    return cjk + math.ceil((len(text) - cjk) / 4)


def _wire_messages(messages: list[dict]) -> list[dict]:
    """Messages as the OpenAI API wants them: tool-call `arguments` must be JSON strings (our
    chat template also accepts dicts, so callers may hold them that way)."""

    def wire_call(call: dict) -> dict:
        args = call["function"].get("arguments")
        if isinstance(args, str):
            return call
        return {
            **call,
            "function": {**call["function"], "arguments": json.dumps(args, ensure_ascii=False)},
        }

    return [
        {**m, "tool_calls": [wire_call(c) for c in m["tool_calls"]]} if m.get("tool_calls") else m
        for m in messages
    ]


class OpenAIChatModel:
    """A `ChatModel` backed by an OpenAI-compatible HTTP server (see module docstring)."""

    # offered; a server without them answers NotImplementedError (see loglikelihood / embed)
    capabilities = frozenset({"stream", "loglikelihood", "embed"})

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        *,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_concurrency: int = 8,
        context_length: int | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ValueError(
                "OpenAIChatModel needs a base_url (e.g. http://127.0.0.1:8000/v1) "
                "or the OPENAI_BASE_URL environment variable"
            )
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_concurrency = max_concurrency
        # one requests.Session per thread: Session is not documented as thread-safe
        self._local = threading.local()
        self._models_entry: dict | None = None
        self.name = model if model else self._first_model_id()
        self._context_length = context_length

    # ------------------------------------------------------------------ HTTP plumbing
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            if self.api_key:
                s.headers["Authorization"] = f"Bearer {self.api_key}"
            self._local.session = s
        return s

    def _request(self, method: str, path: str, payload: dict | None = None, stream: bool = False):
        """Send one request with retries; return the `requests.Response` (status < 400)."""
        url = f"{self.base_url}{path}"
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            delay = self.backoff * (2**attempt)
            try:
                resp = self._session().request(
                    method, url, json=payload, timeout=self.timeout, stream=stream
                )
            except (requests.ConnectionError, requests.Timeout) as e:
                last = e
            else:
                if resp.status_code < 400:
                    return resp
                message, etype, code = _error_message(resp)
                if resp.status_code == 404 and code != "model_not_found":
                    message += f" ({url}: does base_url end with /v1?)"
                err = OpenAIAPIError(resp.status_code, message, etype, code)
                if resp.status_code not in _RETRY_STATUSES:
                    raise err
                last = err
                retry_after = resp.headers.get("Retry-After")
                if retry_after is not None:
                    try:
                        delay = min(float(retry_after), 60.0)
                    except ValueError:
                        pass
                resp.close()
            if attempt < self.max_retries:
                time.sleep(delay)
        if isinstance(last, OpenAIAPIError):
            raise last
        raise OpenAIAPIError(
            None,
            f"cannot reach {url} after {self.max_retries + 1} attempts: {last}. "
            "Is the server running (tinyqwen serve --model ...) and the base_url right?",
        ) from last

    def _post(self, path: str, payload: dict) -> dict:
        return self._request("POST", path, payload).json()

    def _probe_models(self) -> list:
        """``GET /models`` as the first contact: no retries when nothing answers at all (a wrong
        port fails in about a second, a dead host in ``_PROBE_CONNECT_TIMEOUT``), and a clear error
        when the answer is not an OpenAI-style model list."""
        url = f"{self.base_url}/models"
        try:
            resp = self._session().get(url, timeout=(_PROBE_CONNECT_TIMEOUT, self.timeout))
        except requests.ConnectionError as e:
            raise OpenAIAPIError(
                None,
                f"cannot reach {url} ({type(e).__name__}). Is the server running "
                "(tinyqwen serve --model ...) and the URL right (http://host:port/v1)?",
            ) from e
        if resp.status_code in _RETRY_STATUSES:  # overloaded, not absent: the usual retries
            resp = self._request("GET", "/models")
        elif resp.status_code >= 400 and "json" not in resp.headers.get("Content-Type", ""):
            kind = resp.headers.get("Content-Type", "no content type")
            raise OpenAIAPIError(
                resp.status_code,
                f"{url} is not an OpenAI-compatible server: GET /models answered HTTP "
                f"{resp.status_code} ({kind}); the URL should look like http://host:port/v1",
            )
        elif resp.status_code >= 400:
            message, etype, code = _error_message(resp)
            hint = " (does the URL end with /v1?)" if resp.status_code == 404 else ""
            raise OpenAIAPIError(resp.status_code, f"GET {url}: {message}{hint}", etype, code)
        try:
            data = resp.json().get("data")
        except (ValueError, AttributeError):
            data = None
        if not isinstance(data, list):
            kind = resp.headers.get("Content-Type", "?")
            raise OpenAIAPIError(
                resp.status_code,
                f"{url} is not an OpenAI-compatible server: GET /models answered {kind} without "
                "a 'data' list (expected e.g. tinyqwen serve, vLLM, llama.cpp server)",
            )
        return data

    def _first_model_id(self) -> str:
        data = self._probe_models()
        if not data:
            raise OpenAIAPIError(None, f"{self.base_url}/models lists no models; pass model=...")
        self._models_entry = data[0]
        return str(data[0]["id"])

    @property
    def context_length(self) -> int:
        """From /v1/models (`max_model_len` as vLLM and tinyqwen serve report it), else 8192."""
        if self._context_length is None:
            entry = self._models_entry
            if entry is None or entry.get("id") != self.name:
                try:
                    data = self._request("GET", "/models").json().get("data") or []
                except OpenAIAPIError:
                    data = []
                entry = next((d for d in data if d.get("id") == self.name), {})
            value = entry.get("max_model_len") or entry.get("context_length")
            self._context_length = int(value) if value else _DEFAULT_CONTEXT_LENGTH
        return self._context_length

    @staticmethod
    def _sampling_payload(sampling: Sampling) -> dict:
        out: dict[str, Any] = {
            "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.stop:
            out["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            out["seed"] = sampling.seed
        if sampling.top_k:
            out["top_k"] = sampling.top_k
        if sampling.repetition_penalty != 1.0:
            out["repetition_penalty"] = sampling.repetition_penalty
        return out

    def _chat_payload(
        self,
        messages: list[dict],
        tools: list[dict] | None,
        sampling: Sampling,
        continue_final_message: bool,
        enable_thinking: bool | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.name, "messages": _wire_messages(messages)}
        if tools:
            payload["tools"] = tools
        if continue_final_message:
            # vLLM's (and tinyqwen serve's) extension of the chat API; other servers may ignore it
            payload |= {"continue_final_message": True, "add_generation_prompt": False}
        if enable_thinking is not None:
            # vLLM's (and tinyqwen serve's) way to pass template variables such as Qwen3's switch
            payload["chat_template_kwargs"] = {"enable_thinking": bool(enable_thinking)}
        return payload | self._sampling_payload(sampling)

    def _events(self, path: str, payload: dict) -> Iterator[dict]:
        """The JSON events of an SSE answer, up to ``[DONE]``; an error event raises."""
        resp = self._request("POST", path, payload | {"stream": True}, stream=True)
        with resp:
            for raw in resp.iter_lines():
                if not raw or not raw.startswith(b"data:"):
                    continue  # blank separators, ": keep-alive" comments, "event:" lines
                data = raw[5:].strip()
                if data == b"[DONE]":
                    return
                event = json.loads(data)
                if "error" in event:
                    err = event["error"]
                    raise OpenAIAPIError(resp.status_code, str(err.get("message", err)))
                yield event

    # ------------------------------------------------------------------ ChatModel methods
    def complete(
        self, prompts: str | list[str], *, sampling: Sampling | None = None, **overrides: Any
    ) -> str | list[str]:
        """Plain-text continuation via /v1/completions (one request for a list). str in -> str out."""
        sampling = resolve(sampling, **overrides)
        single = isinstance(prompts, str)
        prompt_list = [prompts] if single else list(prompts)
        if not prompt_list:
            return []
        payload = {"model": self.name, "prompt": prompt_list} | self._sampling_payload(sampling)
        choices = sorted(self._post("/completions", payload)["choices"], key=lambda c: c["index"])
        if len(choices) != len(prompt_list):
            raise OpenAIAPIError(
                None, f"/completions returned {len(choices)} choices for {len(prompt_list)} prompts"
            )
        texts = [c.get("text") or "" for c in choices]
        return texts[0] if single else texts

    def stream_complete(
        self, prompt: str, *, sampling: Sampling | None = None, **overrides: Any
    ) -> Iterator[str]:
        """Text deltas of `complete(prompt)` from the /v1/completions SSE stream."""
        payload = {"model": self.name, "prompt": prompt}
        payload |= self._sampling_payload(resolve(sampling, **overrides))  # bad sampling: now
        return self._completion_deltas(payload)

    def _completion_deltas(self, payload: dict) -> Iterator[str]:
        for event in self._events("/completions", payload):
            for choice in event.get("choices") or []:
                if choice.get("text"):
                    yield choice["text"]

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
        """One assistant message: {"role": "assistant", "content": str, "reasoning_content"?: str,
        "tool_calls"?: [...]}.

        ``continue_final_message=True`` asks the server to continue the last (assistant) message,
        vLLM's extension of the chat API, which ``tinyqwen serve`` implements too.
        ``enable_thinking`` is sent as ``chat_template_kwargs`` (vLLM's field, Qwen3 templates);
        a server's ``reasoning_content`` (or newer vLLM's ``reasoning``) is kept.
        """
        sampling = resolve(sampling, **overrides)
        payload = self._chat_payload(
            messages, tools, sampling, continue_final_message, enable_thinking
        )
        choice = self._post("/chat/completions", payload)["choices"][0]
        msg = choice.get("message") or {}
        out: dict[str, Any] = {"role": "assistant", "content": msg.get("content") or ""}
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        if reasoning:
            out["reasoning_content"] = reasoning
        if msg.get("tool_calls"):
            out["tool_calls"] = msg["tool_calls"]
        return out

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
        """Concurrent `chat` calls (at most `max_concurrency` in flight); results in input order."""
        sampling = resolve(sampling, **overrides)
        if not conversations:
            return []

        def one(conv: list[dict]) -> dict:
            return self.chat(
                conv,
                tools=tools,
                sampling=sampling,
                continue_final_message=continue_final_message,
                enable_thinking=enable_thinking,
            )

        workers = max(1, min(self.max_concurrency, len(conversations)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, conversations))

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
        """Text deltas from an SSE stream. Lines are whole, so a UTF-8 character is never split.

        As with a local ``LLM``, the joined deltas are the raw assistant text: streamed
        ``reasoning_content`` comes back wrapped in ``<think>\\n...\\n</think>\\n\\n`` (so
        ``parse_reasoning`` splits it again) and tool calls as ``<tool_call>`` blocks."""
        sampling = resolve(sampling, **overrides)  # a bad argument fails here, not at next()
        payload = self._chat_payload(
            messages, tools, sampling, continue_final_message, enable_thinking
        )
        return self._chat_deltas(payload)

    def _chat_deltas(self, payload: dict) -> Iterator[str]:
        calls: dict[int, dict] = {}  # streamed tool calls: index -> {"name", "arguments"}
        said_anything = False
        thinking = False  # inside a streamed reasoning_content
        for event in self._events("/chat/completions", payload):
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning:
                    yield reasoning if thinking else "<think>\n" + reasoning
                    thinking = said_anything = True
                if delta.get("content"):
                    said_anything = True
                    yield ("\n</think>\n\n" if thinking else "") + delta["content"]
                    thinking = False
                for call in delta.get("tool_calls") or []:
                    slot = calls.setdefault(call.get("index", 0), {"name": "", "arguments": ""})
                    fn = call.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["arguments"] += fn.get("arguments") or ""
        if thinking:
            yield "\n</think>\n\n"
        # the contract: joined deltas are the raw assistant text, <tool_call> blocks included
        for _, call in sorted(calls.items()):
            try:
                args: Any = json.loads(call["arguments"]) if call["arguments"] else {}
            except json.JSONDecodeError:
                args = call["arguments"]
            block = json.dumps({"name": call["name"], "arguments": args}, ensure_ascii=False)
            yield ("\n" if said_anything else "") + f"<tool_call>\n{block}\n</tool_call>"
            said_anything = True

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """(sum log p(continuation | context), is_greedy) per pair, via /v1/completions echo+logprobs.

        Raises NotImplementedError("... not supported by this backend") when the server cannot echo
        prompt logprobs (e.g. the OpenAI cloud chat models).
        """
        out: list[tuple[float, bool]] = []
        chunk = 16  # prompts per HTTP request
        for start in range(0, len(requests), chunk):
            part = requests[start : start + chunk]
            payload = {
                "model": self.name,
                "prompt": [ctx + cont for ctx, cont in part],
                "max_tokens": 1,  # as lm-evaluation-harness: 0 is rejected by some servers
                "temperature": 0.0,
                "echo": True,
                "logprobs": 1,
            }
            try:
                body = self._post("/completions", payload)
            except OpenAIAPIError as e:
                if e.status in (400, 404, 405, 422, 501):
                    raise NotImplementedError(
                        f"loglikelihood is not supported by this backend ({self.base_url}, "
                        f"model {self.name!r}): /completions with echo+logprobs failed: {e}"
                    ) from e
                raise
            choices = sorted(body["choices"], key=lambda c: c["index"])
            for (ctx, cont), choice in zip(part, choices):
                out.append(self._score_choice(ctx, cont, choice))
        return out

    def _score_choice(self, ctx: str, cont: str, choice: dict) -> tuple[float, bool]:
        lp = choice.get("logprobs") or {}
        offsets = lp.get("text_offset")
        token_lps = lp.get("token_logprobs")
        tops = lp.get("top_logprobs")
        if not offsets or token_lps is None or tops is None:
            raise NotImplementedError(
                f"loglikelihood is not supported by this backend ({self.base_url}): the "
                "/completions answer has no logprobs.text_offset/token_logprobs/top_logprobs"
            )
        full_len = len(ctx) + len(cont)
        # the echoed prompt tokens are those starting inside the prompt text; what follows is the
        # one generated token (max_tokens=1), which is dropped
        n_prompt = sum(1 for o in offsets if o < full_len)
        if not cont:
            return 0.0, True
        ends = list(offsets[1:n_prompt]) + [full_len]
        # a byte token that starts a multi-byte character has zero width (offset == end): it
        # belongs to the continuation when it starts there
        first = next(i for i in range(n_prompt) if offsets[i] >= len(ctx) or ends[i] > len(ctx))
        if first == 0 or token_lps[first] is None:
            raise ValueError(
                "loglikelihood needs a non-empty context (the first token has no logprob); "
                f"got context {ctx!r}"
            )
        total, greedy = 0.0, True
        for i in range(first, n_prompt):
            total += float(token_lps[i])
            top = tops[i] or {}
            # compare values, not token strings: distinct byte tokens may print the same
            if top and float(token_lps[i]) < max(float(v) for v in top.values()) - 1e-6:
                greedy = False
        return total, greedy

    def count_tokens(self, text: str) -> int:
        """Approximate (see module docstring): no tokenize endpoint in the OpenAI API."""
        return approx_token_count(text)

    def embed(
        self,
        texts: list[str],
        pooling: str = "last",
        *,
        instruction: str | None = None,
        dimensions: int | None = None,
    ) -> np.ndarray:
        """[N, H] float32, L2-normalised rows, via /v1/embeddings.

        ``instruction`` formats each text as a Qwen3-Embedding query before sending it;
        ``dimensions`` is sent as OpenAI's ``dimensions`` field and also applied here (first
        components, re-normalised), for servers that ignore it."""
        from tinyqwen.retrieval import embedding_query, truncate_embeddings

        if isinstance(texts, str):
            raise TypeError("embed takes a list of strings, got a single str")
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if instruction is not None:
            texts = [embedding_query(instruction, t) for t in texts]
        payload: dict[str, Any] = {"model": self.name, "input": list(texts)}
        if dimensions is not None:
            payload["dimensions"] = dimensions
        if pooling != "last":
            payload["pooling"] = pooling
        try:
            body = self._post("/embeddings", payload)
        except OpenAIAPIError as e:
            if e.status in (404, 405, 501):
                raise NotImplementedError(
                    f"embed is not supported by this backend ({self.base_url}): {e}"
                ) from e
            raise
        rows = sorted(body["data"], key=lambda d: d["index"])
        emb = np.asarray([r["embedding"] for r in rows], dtype=np.float32)  # [N, H]
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        return truncate_embeddings(emb / np.maximum(norms, 1e-12), dimensions)

    def __repr__(self) -> str:
        return f"OpenAIChatModel(base_url={self.base_url!r}, model={self.name!r})"
