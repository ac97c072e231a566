"""The HTTP app of `tinyqwen serve`: OpenAI-compatible endpoints in front of any `ChatModel`.

    >>> app = create_app(tinyqwen.connect("tiny-random"), max_queue=64)   # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                      # doctest: +SKIP

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (stream or not; `tools` in -> `tool_calls`
out with `finish_reason: "tool_calls"`), `POST /v1/completions` (prompt: str, list of str, token ids
or lists of token ids; `echo` + `logprobs` in the legacy format), `POST /v1/embeddings`, `GET /health`.

Read top to bottom: `ServerState` (everything the endpoints share), reading a request (auth, the
body-size limit, JSON), then one section per endpoint, then the error handlers and `create_app`,
which only wires these module-level functions into a FastAPI app. Every POST endpoint has the same
three steps:

1. `admit` -> `read_json`: auth; 429 when `max_queue` requests are already being read or
   tokenised; then the body, refused with 413 once it passes `max_body_bytes` (by its
   `Content-Length` before a byte is read, or while counting a chunked body), then JSON parsing;
2. `prepare_*`: validation and tokenisation, run in a thread (`run_in_threadpool`) so that a
   multi-megabyte prompt being tokenised never stalls the event loop (`/health` keeps answering);
3. a `Job` for the model worker (`worker.py`: one thread owns the model and batches compatible
   queued requests; beyond `max_queue` waiting jobs, 429 with `Retry-After`), then the response.

Errors (`validation.py`): every error body is OpenAI's `{"error": {"message", "type", "param",
"code"}}` JSON, 4xx for a bad request, 500 `server_error` for a bug; never a plain-text page.
`max_tokens` is clamped to the context left after the prompt (vLLM's default when unset); unset on
/v1/completions means 16, as in OpenAI's API.

Stated limits:
- A local model (the "tokenizer" capability: `LLM`) generates from the prompt ids counted while
  validating (`generate_ids`), so `usage` and `finish_reason` are exact and token-id prompts are
  used as given. Any other ChatModel goes through `chat` / `chat_batch` / `complete`, which return
  text, not ids: `usage.completion_tokens` is then the returned text re-tokenised (capped at
  `max_tokens`, which the true count can never exceed) and `finish_reason` is "length" when it
  reaches `max_tokens`. Streaming goes through `stream_chat` / `stream_complete` for every model,
  and is counted the second way.
- `logprobs` (only on /v1/completions) need a local model; that path is token-exact
  (`tokens.scored_completion`), one prompt at a time (scoring requests are not batched).
- `stream: true` streams token by token (chat, and /v1/completions with one prompt and no
  `logprobs`); /v1/completions with several prompts or `logprobs` sends everything in one event.
  With `tools`, streamed text stops at the first `<tool_call>` and the calls come in a final delta.
- No `n > 1`, `presence_penalty`, `frequency_penalty`, `logit_bias`, chat `logprobs`.
- Malformed HTTP (not a JSON matter) is answered by uvicorn itself, before the app sees it.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from tinyqwen.serve import MISSING_SERVE_DEPS

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"{MISSING_SERVE_DEPS} ({e})") from e

from tinyqwen.chat_model import EMBED, STREAM, TOKENIZER
from tinyqwen.chat_template_qwen3 import ReasoningStream
from tinyqwen.sampling import Sampling
from tinyqwen.serve.tokens import TokenCounter, scored_completion, slice_logprobs
from tinyqwen.serve.validation import (
    DEFAULT_MAX_BODY_BYTES,
    APIError,
    check_bool,
    check_chat_template_kwargs,
    check_continue_final,
    check_embedding_input,
    check_int,
    check_messages,
    check_prompts,
    check_stream,
    check_tools,
    error_from_exception,
    fit_context,
    max_tokens_from,
    parse_json_body,
    sampling_from,
)
from tinyqwen.serve.worker import DEFAULT_MAX_QUEUE, STREAM_END, Job, ModelWorker, QueueFull

RETRY_AFTER_SECONDS = 1
T = TypeVar("T")


@dataclass
class ServerState:
    """What the endpoints share: the model, its worker thread, and the server's limits."""

    model: Any  # a ChatModel
    name: str  # the model id clients must send (or omit)
    worker: ModelWorker
    counter: TokenCounter
    api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    created: int = field(default_factory=lambda: int(time.time()))
    preparing: int = 0  # requests being read, validated or tokenised (only the event loop counts)

    @property
    def context_length(self) -> int:
        return int(self.model.context_length)

    def require(self, capability: str, param: str | None, what: str) -> None:
        """400 `not_supported` unless the model declares `capability` (chat_model.py)."""
        if capability not in self.model.capabilities:
            raise APIError(
                f"{what} is not supported by this backend ({self.name!r} does not declare "
                f"the {capability!r} capability)",
                param=param,
                code="not_supported",
            )


def _state(request: Request) -> ServerState:
    return request.app.state.serve


# ---------------------------------------------------------------------------------------- reading
def check_auth(request: Request, state: ServerState) -> None:
    if state.api_key is None:
        return
    sent = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(sent, f"Bearer {state.api_key}".encode()):  # constant time
        raise APIError(
            "invalid or missing API key (Authorization: Bearer ...)", 401, code="invalid_api_key"
        )


def _too_large(limit: int) -> APIError:
    return APIError(
        f"request body is larger than the server's limit of {limit} bytes (--max-body-bytes)",
        413,
        code="request_too_large",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or 413 as soon as it is known to pass `limit` bytes: from `Content-Length`
    before reading anything, else while counting the chunks as they arrive."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, state: ServerState) -> dict:
    """The body as a JSON object naming this server's model (or none)."""
    raw = await read_body(request, state.max_body_bytes)
    body = await run_in_threadpool(parse_json_body, raw)  # ~4 MB of JSON is ~50 ms of CPU
    requested = body.get("model")
    if requested is not None and requested != state.name:
        raise APIError(
            f"The model {str(requested)[:100]!r} does not exist; this server serves {state.name!r}",
            404,
            param="model",
            code="model_not_found",
        )
    return body


def _busy(state: ServerState, why: str) -> APIError:
    return APIError(
        f"the server is busy: {why} (--max-queue {state.worker.max_queue}); retry later",
        429,
        type="rate_limit_error",
        code="queue_full",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def admit(
    request: Request, prepare: Callable[[ServerState, dict], T]
) -> tuple[ServerState, T]:
    """Steps 1 and 2 of every POST endpoint: auth, read the body, then `prepare(state, body)`
    (validation and tokenising) in a thread.

    Requests in these steps are counted too: beyond `max_queue` of them, 429 before the body is
    read, so a flood of large bodies holds at most `max_queue` of them in memory."""
    state = _state(request)
    check_auth(request, state)
    if state.preparing >= state.worker.max_queue:
        raise _busy(state, f"{state.preparing} requests are being read and tokenised")
    state.preparing += 1
    try:
        body = await read_json(request, state)
        return state, await run_in_threadpool(prepare, state, body)
    finally:
        state.preparing -= 1


def submit(state: ServerState, job: Job) -> Future:
    """Queue `job` on the model worker; 429 + `Retry-After` when the queue is full."""
    try:
        return state.worker.submit(job)
    except QueueFull as e:
        raise _busy(state, str(e)) from e


async def run_job(state: ServerState, job: Job) -> Any:
    future = submit(state, job)
    try:
        return await asyncio.wrap_future(future)
    except APIError:
        raise
    except Exception as e:  # noqa: BLE001 - the model's error, shown to this request's client
        raise error_from_exception(e) from e


@dataclass
class Stream:
    """A streaming job on the model worker and the queue its text deltas arrive on."""

    job: Job
    queue: asyncio.Queue

    async def deltas(self) -> AsyncIterator[str]:
        """The model's text deltas as they come; the model's exception, if any, is raised here."""
        while (item := await self.queue.get()) is not STREAM_END:
            if isinstance(item, BaseException):
                raise item
            yield item


def start_stream(state: ServerState, make_deltas: Callable[[], Iterator[str]]) -> Stream:
    """Queue a streaming job (`make_deltas` runs on the model thread). Called before the response
    starts, so that a full queue is a real 429 and not an error event."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    job = Job(
        "stream", make_deltas, on_delta=lambda d: loop.call_soon_threadsafe(queue.put_nowait, d)
    )
    submit(state, job)
    return Stream(job, queue)


SSE = {"media_type": "text/event-stream"}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _batch_key(kind: str, sampling: Sampling, *extra: Any) -> tuple | None:
    """Jobs with equal keys may run as one model call; None: this one runs alone."""
    if sampling.seed is not None and not sampling.greedy:
        return None  # a seeded sampled request must not share its RNG stream with others
    return (kind, sampling, json.dumps(extra, sort_keys=True))


# ---------------------------------------------------------------------------------------- GET
async def health(request: Request) -> dict:
    state = _state(request)
    return {
        "status": "ok",
        "model": state.name,
        "model_calls": state.worker.model_calls,  # batches the worker ran (a batch of 1 counts)
        "largest_batch": state.worker.largest_batch,
        "waiting": state.worker.waiting,  # queued for the model, at most --max-queue
        "preparing": state.preparing,  # being read / tokenised, at most --max-queue
    }


async def list_models(request: Request) -> dict:
    state = _state(request)
    check_auth(request, state)
    return {
        "object": "list",
        "data": [
            {
                "id": state.name,
                "object": "model",
                "created": state.created,
                "owned_by": "tinyqwen",
                "max_model_len": state.context_length,
            }
        ],
    }


# ---------------------------------------------------------------------------------------- chat
@dataclass
class ChatRequest:
    messages: list[dict]
    tools: list[dict] | None
    continue_final: bool  # vLLM's continue_final_message
    enable_thinking: bool | None  # chat_template_kwargs.enable_thinking (Qwen3 templates), if given
    sampling: Sampling
    prompt_ids: list[int] | None  # with a local tokenizer: the exact ids the model is fed
    prompt_tokens: int
    stream: bool
    include_usage: bool


def prepare_chat(state: ServerState, body: dict) -> ChatRequest:
    """Validate a chat request and count its prompt tokens (runs in a thread: may take seconds)."""
    messages = check_messages(body)
    tools = check_tools(body)
    if body.get("logprobs"):
        raise APIError(
            "logprobs on chat completions are not supported; use /v1/completions with "
            "echo + logprobs",
            param="logprobs",
        )
    continue_final = check_continue_final(body)
    thinking = check_chat_template_kwargs(body).get("enable_thinking")
    stream, include_usage = check_stream(body)
    if stream:
        state.require(STREAM, "stream", "streaming")
    max_tokens = max_tokens_from(body, 1)
    sampling = sampling_from(body)
    try:
        prompt_ids, prompt_tokens = state.counter.chat_prompt(
            messages, tools, continue_final, thinking
        )
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise APIError(f"cannot render messages: {e}", param="messages") from e
    sampling = fit_context(sampling, max_tokens, state.context_length, prompt_tokens, 1, "messages")
    return ChatRequest(
        messages,
        tools,
        continue_final,
        thinking,
        sampling,
        prompt_ids,
        prompt_tokens,
        stream,
        include_usage,
    )


def _finish_reason(state: ServerState, text: str, max_new: int) -> tuple[int, str]:
    """(completion tokens, "length" | "stop"): the text re-tokenised (module docstring)."""
    n = min(state.counter.text(text), max_new) if text else 0
    return n, "length" if n >= max_new else "stop"


def _thinking(state: ServerState, req: ChatRequest) -> bool | None:
    """How to split a reply: None (no thinking template), else whether thinking was on (Qwen3)."""
    if getattr(state.model, "chat_format", None) != "qwen3":
        return None
    return req.enable_thinking is not False


def chat_response(
    state: ServerState,
    req: ChatRequest,
    msg: dict,
    rid: str,
    now: int,
    exact: tuple[int, str] | None = None,
) -> dict:
    """The chat.completion body; `exact`: (completion tokens, finish_reason) when known."""
    content = msg.get("content") or ""
    tool_calls = msg.get("tool_calls") or []
    out_msg: dict[str, Any] = {"role": "assistant", "content": content}
    completion_text = content
    if msg.get("reasoning_content"):  # Qwen3 thinking, separated as vLLM and DeepSeek's API do
        out_msg["reasoning_content"] = msg["reasoning_content"]
        completion_text = msg["reasoning_content"] + completion_text
    if tool_calls:
        out_msg["content"] = content or None  # as OpenAI: null content beside tool calls
        out_msg["tool_calls"] = tool_calls
        completion_text += "".join(
            json.dumps(c["function"], ensure_ascii=False) for c in tool_calls
        )
    n_out, finish = exact or _finish_reason(state, completion_text, req.sampling.max_new_tokens)
    return {
        "id": rid,
        "object": "chat.completion",
        "created": now,
        "model": state.name,
        "choices": [
            {
                "index": 0,
                "message": out_msg,
                "finish_reason": "tool_calls" if tool_calls else finish,
            }
        ],
        "usage": _usage(req.prompt_tokens, n_out),
    }


async def chat_completions(request: Request) -> Any:
    state, req = await admit(request, prepare_chat)
    rid, now = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if req.stream:
        stream = start_stream(
            state,
            lambda: state.model.stream_chat(
                req.messages,
                tools=req.tools,
                sampling=req.sampling,
                continue_final_message=req.continue_final,
                **({} if req.enable_thinking is None else {"enable_thinking": req.enable_thinking}),
            ),
        )
        return StreamingResponse(chat_events(state, req, stream, rid, now), **SSE)

    if req.prompt_ids is not None:  # a local model: generate from the ids counted above
        from tinyqwen.llm import assistant_message  # (torch is loaded already, as the model is)

        key = _batch_key("generate", req.sampling)
        (completion,) = await run_job(state, Job("generate", [req.prompt_ids], req.sampling, key))
        msg = assistant_message(completion.text, _thinking(state, req))  # as LLM.chat returns it
        exact = (len(completion.token_ids), completion.finish_reason)
        return await run_in_threadpool(chat_response, state, req, msg, rid, now, exact)
    args = (req.messages, req.tools, req.continue_final, req.enable_thinking)
    key = _batch_key("chat", req.sampling, req.tools, req.continue_final, req.enable_thinking)
    job = Job("chat", args, req.sampling, key)
    msg = await run_job(state, job)
    return await run_in_threadpool(chat_response, state, req, msg, rid, now)


def _shown_upto(text: str, tools: list[dict] | None) -> int:
    """How much of the streamed `text` may go out as content: with tools, everything before a
    (possible start of a) `<tool_call>`, which is reported as tool_calls at the end instead."""
    if tools is None:
        return len(text)
    cut = text.find("<tool_call>")
    if cut < 0:
        cut = text.rfind("<")  # may be the start of "<tool_call>"
        if cut >= 0 and not "<tool_call>".startswith(text[cut:]):
            cut = -1
    return cut if cut >= 0 else len(text)


async def _with_end(deltas: AsyncIterator[str]) -> AsyncIterator[str | None]:
    """The deltas, then one ``None`` marking the end (so a splitter can flush what it holds)."""
    async for delta in deltas:
        yield delta
    yield None


async def chat_events(
    state: ServerState, req: ChatRequest, stream: Stream, rid: str, now: int
) -> AsyncIterator[str]:
    """The SSE events of a streamed chat completion, fed by the worker through `stream`."""

    def chunk(delta: dict, finish: str | None = None, **more: Any) -> str:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}]
        return _sse(
            {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": now,
                "model": state.name,
                "choices": choices if "usage" not in more else [],
                **more,
            }
        )

    text, sent = "", 0  # the content text so far; how much of it went out as content
    raw = ""  # everything the model wrote (reasoning included), for the token count
    # Qwen3 templates: the <think> part goes out as delta.reasoning_content (as vLLM streams it)
    thinking = getattr(state.model, "chat_format", None) == "qwen3"
    splitter = ReasoningStream(req.enable_thinking is not False) if thinking else None

    def split(delta: str | None) -> list[tuple[str, str]]:  # None: the end of the stream
        if splitter is None:
            return [] if delta is None else [("content", delta)]
        return splitter.finish() if delta is None else splitter.push(delta)

    try:
        yield chunk({"role": "assistant", "content": ""})
        async for item in _with_end(stream.deltas()):
            raw += item or ""
            for kind, piece in split(item):
                if kind == "reasoning":
                    yield chunk({"reasoning_content": piece})
                else:
                    text += piece
            safe = _shown_upto(text, req.tools)
            if safe > sent:
                yield chunk({"content": text[sent:safe]})
                sent = safe
        finish = None
        if req.tools is not None:
            from tinyqwen.chat_template import parse_tool_calls

            content, tool_calls = parse_tool_calls(text)
            if tool_calls:
                done = text[:sent]
                rest = content[len(done) :] if content.startswith(done) else ""
                if rest:
                    yield chunk({"content": rest})
                yield chunk({"tool_calls": [{"index": k, **c} for k, c in enumerate(tool_calls)]})
                finish = "tool_calls"
            elif sent < len(text):
                yield chunk({"content": text[sent:]})
        max_new = req.sampling.max_new_tokens
        n_out, length_or_stop = await run_in_threadpool(_finish_reason, state, raw, max_new)
        yield chunk({}, finish or length_or_stop)
        if req.include_usage:
            yield chunk({}, usage=_usage(req.prompt_tokens, n_out))
        yield "data: [DONE]\n\n"
    except Exception as e:  # noqa: BLE001 - the model failed mid-stream: an error event ends it
        yield _sse(error_from_exception(e).body())
        yield "data: [DONE]\n\n"
    finally:
        stream.job.cancelled.set()  # stops generation if the client disconnected early


# ---------------------------------------------------------------------------------------- completions
@dataclass
class CompletionRequest:
    texts: list[str]  # the prompts as text (token-id prompts decoded)
    ids: list[list[int] | None]  # the prompts as ids (None without a local tokenizer)
    prompt_tokens: list[int]
    echo: bool
    top_logprobs: int | None  # `logprobs`: how many alternatives per token; None = no logprobs
    sampling: Sampling
    stream: bool
    include_usage: bool


def _prompt_ids(state: ServerState, prompts: list[str | list[int]]) -> list[list[int] | None]:
    tok = state.counter.tokenizer
    if tok is None:
        if any(isinstance(p, list) for p in prompts):
            raise APIError("token-id prompts need a local tokenizer", param="prompt")
        return [None] * len(prompts)
    vocab = int(tok.vocab_size)
    ids = []
    for p in prompts:
        if isinstance(p, list):
            bad = [t for t in p if not 0 <= t < vocab]
            if bad:
                raise APIError(f"token ids out of range [0, {vocab}): {bad[:5]}", param="prompt")
            ids.append(p)
        else:
            ids.append(state.counter.prompt_ids(p))
    return ids


def prepare_completions(state: ServerState, body: dict) -> CompletionRequest:
    """Validate a completions request and tokenise its prompts (runs in a thread)."""
    prompts = check_prompts(body)
    echo = check_bool(body, "echo")
    top_n = check_int(body, "logprobs", 0, 20)
    if top_n is not None:  # token-exact logprobs need the model's own tokenizer
        state.require(TOKENIZER, "logprobs", "logprobs")
    stream, include_usage = check_stream(body)
    max_tokens = max_tokens_from(body, 0)
    sampling = sampling_from(body)
    ids = _prompt_ids(state, prompts)
    tok = state.counter.tokenizer
    texts = [tok.decode(p) if isinstance(p, list) else p for p in prompts]
    n_prompt = [len(i) if i is not None else state.counter.text(t) for i, t in zip(ids, texts)]
    max_tokens = 16 if max_tokens is None else max_tokens  # OpenAI's default here
    sampling = fit_context(sampling, max_tokens, state.context_length, max(n_prompt), 0, "prompt")
    return CompletionRequest(texts, ids, n_prompt, echo, top_n, sampling, stream, include_usage)


async def _run_completions(state: ServerState, req: CompletionRequest) -> list[tuple]:
    """(text, completion tokens, finish_reason, logprobs | None) per prompt."""
    if req.top_logprobs is not None:  # token-exact path, one prompt at a time
        results = []
        for prompt_ids in req.ids:
            job = Job(
                "call",
                lambda i=prompt_ids: scored_completion(
                    state.model, i, req.sampling, req.top_logprobs
                ),
            )
            results.append(await run_job(state, job))
        return results
    max_new = req.sampling.max_new_tokens
    if max_new == 0:
        return [("", 0, "length", None) for _ in req.texts]
    if state.counter.exact:  # the prompts' ids (token-id prompts as given): exact counts
        key = _batch_key("generate", req.sampling)
        outs = await run_job(state, Job("generate", req.ids, req.sampling, key))
        return [(c.text, len(c.token_ids), c.finish_reason, None) for c in outs]
    job = Job("complete", req.texts, req.sampling, _batch_key("complete", req.sampling))
    outs = await run_job(state, job)
    return [(out, *_finish_reason(state, out, max_new), None) for out in outs]


def completion_response(
    state: ServerState, req: CompletionRequest, results: list[tuple], rid: str, now: int
) -> dict:
    choices = []
    for k, (text, (out, _n, finish, lp)) in enumerate(zip(req.texts, results)):
        if lp is not None and not req.echo:  # echo: prompt + generated; else the generated part
            lp = slice_logprobs(lp, len(req.ids[k]), len(text))
        choices.append(
            {
                "index": k,
                "text": text + out if req.echo else out,
                "logprobs": lp,
                "finish_reason": finish,
            }
        )
    return {
        "id": rid,
        "object": "text_completion",
        "created": now,
        "model": state.name,
        "choices": choices,
        "usage": _usage(sum(req.prompt_tokens), sum(r[1] for r in results)),
    }


async def completion_events(
    state: ServerState, req: CompletionRequest, stream: Stream, rid: str, now: int
) -> AsyncIterator[str]:
    """The SSE events of one streamed prompt: its text deltas as the model produces them."""

    def chunk(text: str, finish: str | None = None, **more: Any) -> str:
        choices = [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]
        return _sse(
            {
                "id": rid,
                "object": "text_completion",
                "created": now,
                "model": state.name,
                "choices": choices if "usage" not in more else [],
                **more,
            }
        )

    text = ""
    try:
        if req.echo:
            yield chunk(req.texts[0])
        async for item in stream.deltas():
            text += item
            yield chunk(item)
        max_new = req.sampling.max_new_tokens
        n_out, finish = await run_in_threadpool(_finish_reason, state, text, max_new)
        yield chunk("", finish)
        if req.include_usage:
            yield chunk("", usage=_usage(req.prompt_tokens[0], n_out))
        yield "data: [DONE]\n\n"
    except Exception as e:  # noqa: BLE001 - the model failed mid-stream: an error event ends it
        yield _sse(error_from_exception(e).body())
        yield "data: [DONE]\n\n"
    finally:
        stream.job.cancelled.set()  # stops generation if the client disconnected early


async def completions(request: Request) -> Any:
    state, req = await admit(request, prepare_completions)
    rid, now = f"cmpl-{uuid.uuid4().hex}", int(time.time())
    streamable = (
        len(req.texts) == 1 and req.top_logprobs is None and req.sampling.max_new_tokens > 0
    )
    if req.stream and streamable and STREAM in state.model.capabilities:
        stream = start_stream(
            state, lambda: state.model.stream_complete(req.texts[0], sampling=req.sampling)
        )
        return StreamingResponse(completion_events(state, req, stream, rid, now), **SSE)
    results = await _run_completions(state, req)
    resp = await run_in_threadpool(completion_response, state, req, results, rid, now)
    if not req.stream:
        return resp

    async def once() -> AsyncIterator[str]:  # several prompts / logprobs: one event, then [DONE]
        yield _sse(resp | {"usage": None})
        yield "data: [DONE]\n\n"

    return StreamingResponse(once(), **SSE)


# ---------------------------------------------------------------------------------------- embeddings
def prepare_embeddings(
    state: ServerState, body: dict
) -> tuple[list[str], str, str, list[int], int | None]:
    """(texts, encoding_format, pooling, token counts, dimensions); runs in a thread."""
    state.require(EMBED, None, "embeddings")
    texts, fmt, pooling = check_embedding_input(body)
    dimensions = check_int(body, "dimensions", 1)  # OpenAI's field: Matryoshka truncation
    n_tokens = [state.counter.text(t) for t in texts]
    too_long = [i for i, n in enumerate(n_tokens) if n > state.context_length]
    if too_long:
        raise APIError(
            f"input[{too_long[0]}] has {n_tokens[too_long[0]]} tokens, more than the "
            f"context length {state.context_length}",
            param="input",
            code="context_length_exceeded",
        )
    return texts, fmt, pooling, n_tokens, dimensions


def embedding_response(state: ServerState, emb: Any, fmt: str, n_tokens: list[int]) -> dict:
    data = []
    for i, row in enumerate(np.asarray(emb, dtype=np.float32)):  # [N, H]
        vec: Any = base64.b64encode(row.tobytes()).decode() if fmt == "base64" else row.tolist()
        data.append({"object": "embedding", "index": i, "embedding": vec})
    total = sum(n_tokens)
    return {
        "object": "list",
        "data": data,
        "model": state.name,
        "usage": {"prompt_tokens": total, "total_tokens": total},
    }


async def embeddings(request: Request) -> dict:
    state, (texts, fmt, pooling, n_tokens, dims) = await admit(request, prepare_embeddings)
    emb = await run_job(state, Job("embed", (texts, pooling), batch_key=("embed", pooling)))
    if dims is not None:
        from tinyqwen.retrieval import truncate_embeddings

        try:
            emb = truncate_embeddings(np.asarray(emb, dtype=np.float32), dims)
        except ValueError as e:
            raise APIError(str(e), param="dimensions") from e
    return await run_in_threadpool(embedding_response, state, emb, fmt, n_tokens)


# ---------------------------------------------------------------------------------------- errors
def _error_response(err: APIError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


async def on_api_error(request: Request, exc: APIError) -> JSONResponse:  # noqa: ARG001
    return _error_response(exc)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """404 / 405 and other HTTP errors raised by the router."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    err = APIError(f"{exc.detail}: {request.method} {request.url.path}", exc.status_code, code=code)
    err.headers = dict(exc.headers) if exc.headers else None
    return _error_response(err)


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:  # noqa: ARG001
    first = (exc.errors() or [{}])[0]
    param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
    return _error_response(APIError(f"invalid request: {first.get('msg', exc)}", param=param))


async def on_internal_error(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    """A bug: still OpenAI-shaped JSON (uvicorn logs the traceback)."""
    return _error_response(error_from_exception(exc))


# ---------------------------------------------------------------------------------------- the app
@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Move everything alive now (the model, the libraries) out of the cyclic GC's sight: a full
    # collection stops every thread, the event loop too, and tokenising a few MB of text
    # triggers several; with the model's objects frozen each takes milliseconds, not 100s of ms.
    gc.collect()
    gc.freeze()
    yield
    app.state.serve.worker.close()


def create_app(
    model: Any,
    served_model_name: str | None = None,
    *,
    max_batch_size: int = 8,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    api_key: str | None = None,
) -> FastAPI:
    """A FastAPI app serving `model` (any ChatModel). The worker thread stops on app shutdown."""
    if max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
    state = ServerState(
        model=model,
        name=served_model_name or str(model.name),
        worker=ModelWorker(model, max_batch_size=max_batch_size, max_queue=max_queue),
        counter=TokenCounter(model),
        api_key=api_key,
        max_body_bytes=max_body_bytes,
    )
    app = FastAPI(title="tinyqwen serve", lifespan=_lifespan)
    app.state.serve = state
    app.add_exception_handler(APIError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_internal_error)
    app.add_api_route("/health", health, methods=["GET"], response_model=None)
    app.add_api_route("/v1/models", list_models, methods=["GET"], response_model=None)
    app.add_api_route(
        "/v1/chat/completions", chat_completions, methods=["POST"], response_model=None
    )
    app.add_api_route("/v1/completions", completions, methods=["POST"], response_model=None)
    app.add_api_route("/v1/embeddings", embeddings, methods=["POST"], response_model=None)
    return app
