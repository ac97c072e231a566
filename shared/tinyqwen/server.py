"""`tinyqwen serve`: an OpenAI-compatible HTTP server in front of any `ChatModel`.

    $ tinyqwen serve --model tiny-random --port 8000          # binds 127.0.0.1 unless told otherwise
    $ curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
        -d '{"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}'

or from Python: `uvicorn.run(create_app(tinyqwen.connect("tiny-random")))`.

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (stream or not; `tools` in -> `tool_calls`
out with `finish_reason: "tool_calls"`), `POST /v1/completions` (prompt: str, list of str, token ids
or lists of token ids; `echo` + `logprobs` in the legacy format), `POST /v1/embeddings`, `GET /health`.

How requests reach the model: the model is not thread-safe and there is one of it, so every request
becomes a job on a queue served by ONE worker thread. When the worker picks a job it also takes every
queued job with the same batch key (same endpoint and sampling parameters, no tools, not streaming)
and runs them as one `chat_batch` / `complete` / `embed` call, so 8 concurrent clients cost about one
batched forward per step instead of 8 sequential generations. Streaming requests run alone.

Validation (OpenAI-style 4xx body `{"error": {"message", "type", "param", "code"}}`): invalid JSON,
wrong types, unknown model (404 `model_not_found`), negative `max_tokens`, `n != 1`, a prompt that
already fills the context (400 `context_length_exceeded`). `max_tokens` is clamped to the context left
after the prompt (vLLM's default when unset); unset on /v1/completions means 16, as in OpenAI's API.

Stated limits:
- `usage.completion_tokens` re-tokenises the returned text, and `finish_reason` is "length" when that
  count reaches `max_tokens`. A sampled token sequence that is not the canonical BPE encoding of its
  text re-tokenises shorter, so for a random model both can under-report.
- `logprobs` (only on /v1/completions) need a local model with `.model` and `.tokenizer` (`LLM`):
  the prompt (and the returned text, re-tokenised) is scored in one forward pass.
- `stream: true` on /v1/completions sends the whole text in one event; chat streams token by token.
  With `tools`, streamed text stops at the first `<tool_call>` and the calls come in a final delta.
- No `n > 1`, `presence_penalty`, `frequency_penalty`, `logit_bias`, chat `logprobs`.
"""

# no `from __future__ import annotations`: FastAPI must evaluate `request: fastapi.Request`,
# and `fastapi` is imported lazily inside create_app (the extra is optional)
import argparse
import asyncio
import base64
import itertools
import json
import queue
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_MISSING_SERVE_DEPS = (
    "tinyqwen serve needs FastAPI and uvicorn, which are the optional extra 'serve': "
    "pip install 'tinyqwen[serve]'  (or: pip install fastapi uvicorn)"
)


def _import_web() -> tuple[Any, Any]:
    try:
        import fastapi
        import uvicorn
    except ImportError as e:
        raise ImportError(f"{_MISSING_SERVE_DEPS} ({e})") from e
    return fastapi, uvicorn


# ---------------------------------------------------------------------------------------- errors
class APIError(Exception):
    """A request error rendered as OpenAI's `{"error": {...}}` body."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = (
            status,
            message,
            param,
            code,
            type,
        )

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def _error_from_exception(e: BaseException) -> APIError:
    if isinstance(e, APIError):
        return e
    if isinstance(e, (ValueError, TypeError, KeyError)):
        # raised by the model/template for bad input (unknown role, bad tool-call arguments, ...)
        return APIError(f"{type(e).__name__}: {e}", 400)
    if isinstance(e, NotImplementedError):
        return APIError(str(e), 400, code="not_supported")
    return APIError(f"internal error: {type(e).__name__}: {e}", 500, type="server_error")


# ---------------------------------------------------------------------------------------- validation
def _check_number(body: dict, key: str, default: float, lo: float, hi: float, lo_open=False):
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise APIError(f"'{key}' must be a number, got {value!r}", param=key)
    if value < lo or value > hi or (lo_open and value == lo):
        bound = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise APIError(f"'{key}' must be in {bound}, got {value}", param=key)
    return float(value)


def _check_int(body: dict, key: str, lo: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise APIError(f"'{key}' must be an integer, got {value!r}", param=key)
    if value < lo:
        raise APIError(f"'{key}' must be >= {lo}, got {value}", param=key)
    return value


def _check_stop(body: dict) -> list[str] | None:
    stop = body.get("stop")
    if stop is None:
        return None
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise APIError("'stop' must be a non-empty string or a list of them", param="stop")
    return stop or None


def _check_unsupported(body: dict) -> None:
    n = body.get("n", 1)
    if n != 1:
        raise APIError(f"only n=1 is supported, got n={n!r}", param="n")
    for key in ("presence_penalty", "frequency_penalty"):
        if body.get(key) not in (None, 0, 0.0):
            raise APIError(f"'{key}' is not supported by tinyqwen serve", param=key)
    if body.get("logit_bias"):
        raise APIError("'logit_bias' is not supported by tinyqwen serve", param="logit_bias")


def _message_content(content: Any, index: int) -> str | None:
    """OpenAI allows content as a string, null, or a list of parts; we take text parts only."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise APIError(
                    f"messages[{index}].content: only text parts are supported, got {kind!r}",
                    param=f"messages[{index}].content",
                )
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise APIError(
        f"messages[{index}].content must be a string, null or a list of text parts",
        param=f"messages[{index}].content",
    )


def _check_messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError("'messages' must be a non-empty list", param="messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise APIError(f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = m.get("role")
        if role not in ("system", "user", "assistant", "tool", "developer"):
            raise APIError(f"messages[{i}].role {role!r} is not supported", param=f"messages[{i}]")
        msg = {k: v for k, v in m.items() if k in ("role", "content", "tool_calls", "name")}
        if role == "developer":  # OpenAI's newer name for the system role
            msg["role"] = "system"
        if "tool_call_id" in m:
            msg["tool_call_id"] = m["tool_call_id"]
        msg["content"] = _message_content(m.get("content"), i) or ""
        out.append(msg)
    return out


def _check_tools(body: dict) -> list[dict] | None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if choice not in (None, "auto", "none"):
        raise APIError(
            "only tool_choice 'auto' or 'none' is supported (a random/small model cannot be "
            "forced to call a tool)",
            param="tool_choice",
        )
    if tools is None or choice == "none":
        return None
    if not isinstance(tools, list):
        raise APIError("'tools' must be a list", param="tools")
    for i, t in enumerate(tools):
        if not isinstance(t, dict) or t.get("type") != "function":
            raise APIError(f"tools[{i}].type must be 'function'", param=f"tools[{i}]")
        fn = t.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise APIError(f"tools[{i}].function.name must be a string", param=f"tools[{i}]")
    return tools or None


# ---------------------------------------------------------------------------------------- token helpers
class _TokenCounter:
    """Token counts for usage and context checks: exact with a local tokenizer, else count_tokens."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.tokenizer = getattr(model, "tokenizer", None)

    def text(self, text: str) -> int:
        return int(self.model.count_tokens(text))

    def prompt_ids(self, text: str) -> list[int]:
        """Ids of a raw /v1/completions prompt, encoded exactly as the model's `complete` does."""
        encode = getattr(self.model, "encode", None)  # LLM.encode: special-token strings count
        return encode(text) if encode else self.tokenizer.encode(text, allowed_special="all")

    def chat_prompt(self, messages: list[dict], tools: list[dict] | None) -> int:
        encode_chat = getattr(self.model, "encode_chat", None)
        if encode_chat is not None:  # LLM: the exact ids it will feed the model
            return len(encode_chat(messages, tools))
        from tinyqwen.chat_template import render_chat_segments

        segments = render_chat_segments(messages, tools, True)
        if self.tokenizer is None:
            return int(self.model.count_tokens("".join(t for t, _ in segments)))
        # template markup may contain special tokens; caller data is plain text (as LLM encodes it)
        return sum(
            len(self.tokenizer.encode(t, allowed_special="all" if markup else ()))
            for t, markup in segments
        )


def _echo_logprobs(model: Any, ids: list[int], top_n: int) -> dict:
    """Legacy-format logprobs for `ids` scored by a local model in one forward pass.

    Position i holds log p(ids[i] | ids[:i]); position 0 has none (null), as in OpenAI's API. Needs
    `model.model` (the nn.Module returning logits [B, T, V]) and `model.tokenizer`: this is the small
    hook the server needs beyond the ChatModel contract.
    """
    import torch

    net, tok = getattr(model, "model", None), getattr(model, "tokenizer", None)
    if net is None or tok is None or not hasattr(tok, "decode"):
        raise APIError(
            "logprobs are not supported by this backend (needs a local model with a tokenizer)",
            param="logprobs",
            code="not_supported",
        )
    device = next(net.parameters()).device
    with torch.inference_mode():
        logits = net(torch.tensor([ids], dtype=torch.long, device=device))  # [1, T, V]
        logp = torch.log_softmax(logits[0].float(), dim=-1)  # [T, V]
    # logp[t] predicts ids[t + 1]
    picked = logp[:-1].gather(1, torch.tensor(ids[1:], device=device)[:, None])[:, 0]  # [T-1]
    top_vals, top_ids = logp[:-1].topk(max(top_n, 1), dim=-1)  # [T-1, k]
    tokens = [tok.decode([i]) for i in ids]
    offsets, pos, stream = [], 0, tok.decode_stream()
    for i in ids:  # character offset of each token in the decoded text (UTF-8 never split)
        offsets.append(pos)
        pos += len(stream.step(i))
    token_logprobs: list[float | None] = [None] + picked.tolist()
    top_logprobs: list[dict | None] = [None]
    for row_ids, row_vals in zip(top_ids.tolist(), top_vals.tolist()):
        top_logprobs.append({tok.decode([j]): v for j, v in zip(row_ids[:top_n], row_vals[:top_n])})
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top_logprobs,
        "text_offset": offsets,
    }


def _slice_logprobs(lp: dict, start: int, offset_shift: int = 0) -> dict:
    return {
        "tokens": lp["tokens"][start:],
        "token_logprobs": lp["token_logprobs"][start:],
        "top_logprobs": lp["top_logprobs"][start:],
        "text_offset": [o - offset_shift for o in lp["text_offset"][start:]],
    }


# ---------------------------------------------------------------------------------------- the worker
_STREAM_END = object()


@dataclass
class _Job:
    kind: str  # "chat" | "complete" | "embed" | "stream" | "call"
    args: Any  # kind-specific payload
    sampling: dict = field(default_factory=dict)
    batch_key: tuple | None = None  # jobs with equal non-None keys may run as one batch
    future: Future = field(default_factory=Future)
    on_delta: Any = None  # stream: callable(str | _STREAM_END | BaseException)
    cancelled: threading.Event = field(default_factory=threading.Event)


class ModelWorker:
    """One thread owns the model; requests queue up and compatible ones are batched."""

    def __init__(self, model: Any, max_batch_size: int = 8) -> None:
        self.model = model
        self.max_batch_size = max_batch_size
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._held: deque[_Job] = deque()  # taken from the queue but not batchable with the last
        self.batch_sizes: list[int] = []  # for tests and the bench: how batching went
        self._thread = threading.Thread(target=self._run, name="tinyqwen-model", daemon=True)
        self._thread.start()

    def submit(self, job: _Job) -> Future:
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _next(self, block: bool) -> _Job | None:
        if self._held:
            return self._held.popleft()
        return self._queue.get() if block else self._queue.get_nowait()

    def _run(self) -> None:
        while True:
            job = self._next(block=True)
            if job is None:
                return
            batch = [job]
            if job.batch_key is not None:
                skipped: list[_Job] = []
                stop = False
                while len(batch) < self.max_batch_size:
                    try:
                        other = self._next(block=False)
                    except queue.Empty:
                        break
                    if other is None:  # shutdown requested: finish this batch first
                        stop = True
                        break
                    (batch if other.batch_key == job.batch_key else skipped).append(other)
                self._held.extendleft(reversed(skipped))  # keep arrival order for the rest
                if stop:
                    self._queue.put(None)
            self._execute(batch)

    def _execute(self, batch: list[_Job]) -> None:
        job = batch[0]
        self.batch_sizes.append(len(batch))
        try:
            if job.kind == "stream":
                self._stream(job)
                return
            if job.kind == "chat":
                if len(batch) == 1:
                    messages, tools = job.args
                    results = [self.model.chat(messages, tools, **job.sampling)]
                else:
                    results = self.model.chat_batch([j.args[0] for j in batch], **job.sampling)
            elif job.kind == "complete":
                flat = [p for j in batch for p in j.args]
                texts = self.model.complete(flat, **job.sampling)
                it = iter(texts)
                results = [[next(it) for _ in j.args] for j in batch]
            elif job.kind == "embed":
                pooling = job.sampling["pooling"]
                flat = [t for j in batch for t in j.args]
                emb = self.model.embed(flat, pooling=pooling)  # [N, H]
                bounds = list(itertools.accumulate([0] + [len(j.args) for j in batch]))
                results = [emb[a:b] for a, b in zip(bounds, bounds[1:])]
            elif job.kind == "call":
                results = [job.args()]
            else:  # pragma: no cover - programming error
                raise RuntimeError(f"unknown job kind {job.kind!r}")
        except BaseException as e:  # noqa: BLE001 - hand every failure to the waiting requests
            for j in batch:
                if not j.future.done():
                    j.future.set_exception(e)
            return
        for j, r in zip(batch, results):
            j.future.set_result(r)

    def _stream(self, job: _Job) -> None:
        messages, tools = job.args
        it: Iterator[str] = self.model.stream_chat(messages, tools, **job.sampling)
        try:
            for delta in it:
                if job.cancelled.is_set():  # client went away: stop generating
                    break
                job.on_delta(delta)
        except BaseException as e:  # noqa: BLE001
            job.on_delta(e)
            job.future.set_result(None)
            return
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        job.on_delta(_STREAM_END)
        job.future.set_result(None)


# ---------------------------------------------------------------------------------------- the app
def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def create_app(
    model: Any,
    served_model_name: str | None = None,
    *,
    max_batch_size: int = 8,
    api_key: str | None = None,
) -> Any:
    """A FastAPI app serving `model` (any ChatModel). The worker thread stops on app shutdown."""
    fastapi, _ = _import_web()
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    name = served_model_name or str(model.name)
    context_length = int(model.context_length)
    counter = _TokenCounter(model)
    worker = ModelWorker(model, max_batch_size=max_batch_size)
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app):  # noqa: ARG001
        yield
        worker.close()

    app = fastapi.FastAPI(title="tinyqwen serve", lifespan=lifespan)
    app.state.worker = worker
    app.state.model = model

    @app.exception_handler(APIError)
    async def _api_error(request, exc: APIError):  # noqa: ARG001
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):  # noqa: ARG001
        code = "not_found" if exc.status_code == 404 else None
        err = APIError(f"{exc.detail}: {request.method} {request.url.path}", exc.status_code)
        err.code = code
        return JSONResponse(err.body(), status_code=exc.status_code)

    def check_auth(request) -> None:
        if api_key is not None:
            auth = request.headers.get("authorization", "")
            if auth != f"Bearer {api_key}":
                raise APIError(
                    "invalid or missing API key (Authorization: Bearer ...)",
                    401,
                    code="invalid_api_key",
                )

    async def read_body(request) -> dict:
        check_auth(request)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise APIError(f"request body is not valid JSON: {e}", code="invalid_json") from e
        if not isinstance(body, dict):
            raise APIError("request body must be a JSON object", code="invalid_json")
        requested = body.get("model")
        if requested is not None and requested != name:
            raise APIError(
                f"The model {requested!r} does not exist; this server serves {name!r}",
                404,
                param="model",
                code="model_not_found",
            )
        return body

    def sampling_from(body: dict, prompt_tokens: int, default_max: int | None, min_max: int):
        _check_unsupported(body)
        room = context_length - prompt_tokens
        if room < max(min_max, 0) or room < 0:
            raise APIError(
                f"This model's maximum context length is {context_length} tokens, but the prompt "
                f"has {prompt_tokens} tokens, which leaves no room for a completion",
                param="messages" if "messages" in body else "prompt",
                code="context_length_exceeded",
            )
        max_tokens = _check_int(body, "max_completion_tokens", min_max)
        if max_tokens is None:
            max_tokens = _check_int(body, "max_tokens", min_max)
        if max_tokens is None:
            max_tokens = room if default_max is None else default_max
        sampling = {
            "max_new_tokens": min(max_tokens, room),  # bounded by the context
            "temperature": _check_number(body, "temperature", 1.0, 0.0, 2.0),
            "top_p": _check_number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True),
            "top_k": _check_int(body, "top_k", 0) or 0,
            "repetition_penalty": _check_number(
                body, "repetition_penalty", 1.0, 0.0, 10.0, lo_open=True
            ),
            "stop": _check_stop(body),
            "seed": _check_int(body, "seed", -(2**63)),
        }
        return sampling

    def batch_key(kind: str, sampling: dict) -> tuple | None:
        # a seeded sampled request must not share its RNG stream with others: run it alone
        if sampling["seed"] is not None and sampling["temperature"] > 0:
            return None
        return (kind, json.dumps(sampling, sort_keys=True))

    def usage(prompt_tokens: int, completion_tokens: int) -> dict:
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    async def run_job(job: _Job) -> Any:
        try:
            return await asyncio.wrap_future(worker.submit(job))
        except APIError:
            raise
        except Exception as e:  # noqa: BLE001
            raise _error_from_exception(e) from e

    @app.get("/health")
    async def health():
        sizes = worker.batch_sizes
        return {
            "status": "ok",
            "model": name,
            "model_calls": len(sizes),  # batches the worker ran (a batch of 1 counts too)
            "largest_batch": max(sizes, default=0),
        }

    @app.get("/v1/models")
    async def list_models(request: fastapi.Request):
        check_auth(request)
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "tinyqwen",
                    "max_model_len": context_length,
                }
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: fastapi.Request):
        body = await read_body(request)
        messages = _check_messages(body)
        tools = _check_tools(body)
        if body.get("logprobs"):
            raise APIError(
                "logprobs on chat completions are not supported; use /v1/completions with "
                "echo + logprobs",
                param="logprobs",
            )
        try:
            prompt_tokens = counter.chat_prompt(messages, tools)
        except (ValueError, TypeError) as e:
            raise APIError(f"cannot render messages: {e}", param="messages") from e
        sampling = sampling_from(body, prompt_tokens, None, 1)
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        now = int(time.time())

        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                stream_chat(rid, now, messages, tools, sampling, prompt_tokens, include_usage),
                media_type="text/event-stream",
            )

        key = batch_key("chat", sampling) if tools is None else None
        msg = await run_job(_Job("chat", (messages, tools), sampling, key))
        content = msg.get("content") or ""
        tool_calls = msg.get("tool_calls") or []
        out_msg: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            out_msg["tool_calls"] = tool_calls
            completion_text = content + "".join(
                json.dumps(c["function"], ensure_ascii=False) for c in tool_calls
            )
        else:
            completion_text = content
        completion_tokens = counter.text(completion_text)
        finish = "tool_calls" if tool_calls else None
        if finish is None:
            finish = "length" if completion_tokens >= sampling["max_new_tokens"] else "stop"
        return {
            "id": rid,
            "object": "chat.completion",
            "created": now,
            "model": name,
            "choices": [{"index": 0, "message": out_msg, "finish_reason": finish}],
            "usage": usage(prompt_tokens, completion_tokens),
        }

    async def stream_chat(rid, now, messages, tools, sampling, prompt_tokens, include_usage):
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue = asyncio.Queue()
        job = _Job(
            "stream",
            (messages, tools),
            sampling,
            on_delta=lambda d: loop.call_soon_threadsafe(deltas.put_nowait, d),
        )
        worker.submit(job)

        def chunk(delta: dict, finish: str | None = None) -> str:
            return _sse(
                {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": now,
                    "model": name,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )

        text, sent = "", 0  # full raw text so far; how much of it went out as content
        try:
            yield chunk({"role": "assistant", "content": ""})
            while True:
                item = await deltas.get()
                if item is _STREAM_END:
                    break
                if isinstance(item, BaseException):
                    err = _error_from_exception(item)
                    yield _sse(err.body())
                    yield "data: [DONE]\n\n"
                    return
                text += item
                # with tools, hold back everything from a (possible) "<tool_call>" on: it is
                # reported as tool_calls at the end, not as content
                safe = len(text)
                if tools is not None:
                    cut = text.find("<tool_call>")
                    if cut < 0:
                        cut = text.rfind("<")  # may be the start of "<tool_call>"
                        if cut >= 0 and not "<tool_call>".startswith(text[cut:]):
                            cut = -1
                    safe = cut if cut >= 0 else len(text)
                if safe > sent:
                    yield chunk({"content": text[sent:safe]})
                    sent = safe
            finish = None
            tool_calls: list[dict] = []
            if tools is not None:
                from tinyqwen.chat_template import parse_tool_calls

                content, tool_calls = parse_tool_calls(text)
                if tool_calls:
                    done = text[:sent]
                    rest = content[len(done) :] if content.startswith(done) else ""
                    if rest:
                        yield chunk({"content": rest})
                    calls = [{"index": k, **c} for k, c in enumerate(tool_calls)]
                    yield chunk({"tool_calls": calls})
                    finish = "tool_calls"
                elif sent < len(text):
                    yield chunk({"content": text[sent:]})
            completion_tokens = counter.text(text)
            if finish is None:
                finish = "length" if completion_tokens >= sampling["max_new_tokens"] else "stop"
            yield chunk({}, finish)
            if include_usage:
                yield _sse(
                    {
                        "id": rid,
                        "object": "chat.completion.chunk",
                        "created": now,
                        "model": name,
                        "choices": [],
                        "usage": usage(prompt_tokens, completion_tokens),
                    }
                )
            yield "data: [DONE]\n\n"
        finally:
            job.cancelled.set()  # stops generation if the client disconnected early

    def parse_prompts(body: dict) -> list[str | list[int]]:
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            return [prompt]
        if isinstance(prompt, list) and prompt:
            if all(isinstance(p, str) for p in prompt):
                return list(prompt)
            if all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
                return [list(prompt)]
            if all(isinstance(p, list) and all(isinstance(t, int) for t in p) for p in prompt):
                return [list(p) for p in prompt]
        raise APIError(
            "'prompt' must be a string, a list of strings, a list of token ids, or a list of "
            "lists of token ids",
            param="prompt",
        )

    @app.post("/v1/completions")
    async def completions(request: fastapi.Request):
        body = await read_body(request)
        prompts = parse_prompts(body)
        tok = counter.tokenizer
        if any(isinstance(p, list) for p in prompts):
            if tok is None:
                raise APIError("token-id prompts need a local tokenizer", param="prompt")
            vocab = int(tok.vocab_size)
            for p in prompts:
                bad = [t for t in p if not 0 <= t < vocab] if isinstance(p, list) else []
                if bad:
                    raise APIError(
                        f"token ids out of range [0, {vocab}): {bad[:5]}", param="prompt"
                    )
        texts = [tok.decode(p) if isinstance(p, list) else p for p in prompts]
        ids = [p if isinstance(p, list) else None for p in prompts]
        if tok is not None:
            ids = [i if i is not None else counter.prompt_ids(t) for i, t in zip(ids, texts)]
            n_prompt = [len(i) for i in ids]
        else:
            n_prompt = [counter.text(t) for t in texts]
        echo = bool(body.get("echo"))
        top_n = _check_int(body, "logprobs", 0)
        if top_n is not None and top_n > 20:
            raise APIError("'logprobs' must be <= 20", param="logprobs")
        sampling = sampling_from(body, max(n_prompt), 16, 0)
        max_new = sampling["max_new_tokens"]
        rid, now = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        if max_new > 0:
            outs = await run_job(_Job("complete", texts, sampling, batch_key("complete", sampling)))
        else:
            outs = ["" for _ in texts]
        choices = []
        total_completion = 0
        for k, (text, out) in enumerate(zip(texts, outs)):
            n_out = counter.text(out) if out else 0
            total_completion += n_out
            finish = "length" if n_out >= max_new else "stop"
            logprobs = None
            if top_n is not None:
                if ids[k] is None:
                    raise APIError("logprobs are not supported by this backend", param="logprobs")
                out_ids = counter.prompt_ids(out) if out else []
                full = ids[k] + out_ids
                lp = await run_job(_Job("call", lambda f=full: _echo_logprobs(model, f, top_n)))
                if echo:
                    logprobs = lp
                else:  # only the generated part, offsets relative to the returned text
                    logprobs = _slice_logprobs(lp, len(ids[k]), len(text))
            choices.append(
                {
                    "index": k,
                    "text": text + out if echo else out,
                    "logprobs": logprobs,
                    "finish_reason": finish,
                }
            )
        resp = {
            "id": rid,
            "object": "text_completion",
            "created": now,
            "model": name,
            "choices": choices,
            "usage": usage(sum(n_prompt), total_completion),
        }
        if body.get("stream"):  # one event with everything, then [DONE]

            async def once():
                yield _sse(resp | {"usage": None})
                yield "data: [DONE]\n\n"

            return StreamingResponse(once(), media_type="text/event-stream")
        return resp

    @app.post("/v1/embeddings")
    async def embeddings(request: fastapi.Request):
        body = await read_body(request)
        inp = body.get("input")
        if isinstance(inp, str):
            inp = [inp]
        if not isinstance(inp, list) or not inp or not all(isinstance(t, str) for t in inp):
            raise APIError("'input' must be a string or a non-empty list of strings", param="input")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise APIError("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        pooling = body.get("pooling", "last")
        if pooling not in ("last", "mean"):
            raise APIError("'pooling' must be 'last' or 'mean'", param="pooling")
        n_tokens = [counter.text(t) for t in inp]
        too_long = [i for i, n in enumerate(n_tokens) if n > context_length]
        if too_long:
            raise APIError(
                f"input[{too_long[0]}] has {n_tokens[too_long[0]]} tokens, more than the "
                f"context length {context_length}",
                param="input",
                code="context_length_exceeded",
            )
        emb = await run_job(_Job("embed", inp, {"pooling": pooling}, ("embed", pooling)))
        emb = np.asarray(emb, dtype=np.float32)  # [N, H]
        data = []
        for i, row in enumerate(emb):
            vec: Any = base64.b64encode(row.tobytes()).decode() if fmt == "base64" else row.tolist()
            data.append({"object": "embedding", "index": i, "embedding": vec})
        total = sum(n_tokens)
        return {
            "object": "list",
            "data": data,
            "model": name,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }

    return app


# ---------------------------------------------------------------------------------------- in-process
@contextmanager
def serve_in_background(
    model: Any, host: str = "127.0.0.1", port: int = 0, **app_kwargs: Any
) -> Iterator[str]:
    """Run the server in a daemon thread (tests, notebooks, benches); yields the `/v1` base URL.

    `port=0` lets the OS pick a free port (no race between "find a free port" and binding it).

        >>> with serve_in_background(tinyqwen.connect("tiny-random")) as url:  # doctest: +SKIP
        ...     OpenAIChatModel(url).chat([{"role": "user", "content": "hi"}])
    """
    _, uvicorn = _import_web()
    app = create_app(model, **app_kwargs)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tinyqwen-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# ---------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    """`tinyqwen serve --model SPEC [--host 127.0.0.1] [--port 8000]`."""
    parser = argparse.ArgumentParser(
        prog="tinyqwen serve", description="Serve a model over an OpenAI-compatible HTTP API."
    )
    parser.add_argument("--model", default="tiny-random", help="checkpoint dir | tiny-random | URL")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name", default=None, help="model id clients must send")
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    try:
        _, uvicorn = _import_web()
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import tinyqwen

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"WARNING: binding {args.host}: the server is reachable from other machines"
            + (" and has no API key (--api-key)" if args.api_key is None else "")
            + ".",
            file=sys.stderr,
        )
    model = tinyqwen.connect(args.model)
    app = create_app(
        model, args.served_model_name, max_batch_size=args.max_batch_size, api_key=args.api_key
    )
    served = args.served_model_name or model.name
    if args.model == "tiny-random":
        print("NOTE: tiny-random is a randomly initialised model: its output is gibberish.")
    print(f"serving {served!r} at http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
