"""`tinyqwen serve`: an OpenAI-compatible HTTP server in front of any `ChatModel`.

    $ tinyqwen serve --model tiny-random --port 8000          # binds 127.0.0.1 unless told otherwise
    $ curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
        -d '{"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}'

or from Python: `uvicorn.run(create_app(tinyqwen.connect("tiny-random")))`.

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (stream or not; `tools` in -> `tool_calls`
out with `finish_reason: "tool_calls"`), `POST /v1/completions` (prompt: str, list of str, token ids
or lists of token ids; `echo` + `logprobs` in the legacy format), `POST /v1/embeddings`, `GET /health`.

How requests reach the model (`server_worker.py`): the model is not thread-safe and there is one of
it, so every request becomes a job on a queue served by ONE worker thread. When the worker picks a
job it also takes every queued job with the same batch key (same endpoint, sampling parameters and
tools; not streaming; not seeded sampling) and runs them as one `chat_batch` / `complete` / `embed`
call, so 8 concurrent clients cost about one batched forward per step instead of 8 generations.
Request checking lives in `server_requests.py`, token counts and logprobs in `server_scoring.py`.

Validation (OpenAI-style 4xx body `{"error": {"message", "type", "param", "code"}}`): invalid JSON,
wrong types, unknown model (404 `model_not_found`), negative `max_tokens`, `n != 1`, a prompt that
already fills the context (400 `context_length_exceeded`). `max_tokens` is clamped to the context left
after the prompt (vLLM's default when unset); unset on /v1/completions means 16, as in OpenAI's API.

Stated limits:
- Chat and plain completions go through the `ChatModel` methods, which return text, not ids, so
  `usage.completion_tokens` there is the returned text re-tokenised (capped at `max_tokens`, which the
  true count can never exceed) and `finish_reason` is "length" when it reaches `max_tokens`. A real
  model's output is nearly always the canonical encoding of its text, so this is exact in practice;
  a random model's output (U+FFFD, odd merges) re-tokenises differently.
- `logprobs` (only on /v1/completions) need a local model (`LLM`: `.model`, `.tokenizer`). That
  path is token-exact: it generates with `tinyqwen.generation.generate`, then scores the prompt and
  generated ids in one forward pass, one prompt at a time (scoring requests are not batched).
- `stream: true` on /v1/completions sends the whole text in one event; chat streams token by token.
  With `tools`, streamed text stops at the first `<tool_call>` and the calls come in a final delta.
- No `n > 1`, `presence_penalty`, `frequency_penalty`, `logit_bias`, chat `logprobs`.
"""

# no `from __future__ import annotations`: FastAPI must evaluate `request: fastapi.Request`,
# and `fastapi` is imported lazily inside create_app (the extra is optional)
import argparse
import asyncio
import base64
import inspect
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import numpy as np

from tinyqwen.server_requests import (
    APIError,
    check_int,
    check_messages,
    check_number,
    check_stop,
    check_tools,
    check_unsupported,
    error_from_exception,
)
from tinyqwen.server_scoring import TokenCounter, generate_scored, is_local, slice_logprobs
from tinyqwen.server_worker import STREAM_END, Job, ModelWorker

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
    counter = TokenCounter(model)
    try:  # the ChatModel contract's chat_batch has no tools; LLM's takes them
        chat_batch_takes_tools = "tools" in inspect.signature(model.chat_batch).parameters
    except (TypeError, ValueError):
        chat_batch_takes_tools = False
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
        check_unsupported(body)
        room = context_length - prompt_tokens
        if room < min_max:  # chat needs room for >= 1 token; echo-only scoring needs none
            raise APIError(
                f"This model's maximum context length is {context_length} tokens, but the prompt "
                f"has {prompt_tokens} tokens, which leaves no room for a completion",
                param="messages" if "messages" in body else "prompt",
                code="context_length_exceeded",
            )
        max_tokens = check_int(body, "max_completion_tokens", min_max)
        if max_tokens is None:
            max_tokens = check_int(body, "max_tokens", min_max)
        if max_tokens is None:
            max_tokens = room if default_max is None else default_max
        sampling = {
            "max_new_tokens": min(max_tokens, room),  # bounded by the context
            "temperature": check_number(body, "temperature", 1.0, 0.0, 2.0),
            "top_p": check_number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True),
            "top_k": check_int(body, "top_k", 0) or 0,
            "repetition_penalty": check_number(
                body, "repetition_penalty", 1.0, 0.0, 10.0, lo_open=True
            ),
            "stop": check_stop(body),
            "seed": check_int(body, "seed", -(2**63)),
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

    async def run_job(job: Job) -> Any:
        try:
            return await asyncio.wrap_future(worker.submit(job))
        except APIError:
            raise
        except Exception as e:  # noqa: BLE001
            raise error_from_exception(e) from e

    @app.get("/health")
    async def health():
        return {
            "status": "ok",
            "model": name,
            "model_calls": worker.model_calls,  # batches the worker ran (a batch of 1 counts)
            "largest_batch": worker.largest_batch,
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
        messages = check_messages(body)
        tools = check_tools(body)
        if body.get("logprobs"):
            raise APIError(
                "logprobs on chat completions are not supported; use /v1/completions with "
                "echo + logprobs",
                param="logprobs",
            )
        # vLLM's extension: continue the final assistant message instead of opening a new turn
        continue_final = body.get("continue_final_message", False)
        if not isinstance(continue_final, bool):
            raise APIError(
                "'continue_final_message' must be a boolean", param="continue_final_message"
            )
        if continue_final and body.get("add_generation_prompt") is True:
            raise APIError(
                "'add_generation_prompt' and 'continue_final_message' exclude each other",
                param="continue_final_message",
            )
        try:
            prompt_tokens = counter.chat_prompt(messages, tools, continue_final)
        except (ValueError, TypeError) as e:
            raise APIError(f"cannot render messages: {e}", param="messages") from e
        sampling = sampling_from(body, prompt_tokens, None, 1)
        if continue_final:  # only then, so that models without the option never see it
            sampling["continue_final_message"] = True
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        now = int(time.time())

        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                stream_chat(rid, now, messages, tools, sampling, prompt_tokens, include_usage),
                media_type="text/event-stream",
            )

        if tools is None:
            key = batch_key("chat", sampling)
        elif chat_batch_takes_tools:
            key = batch_key("chat", sampling | {"tools": tools})
        else:
            key = None
        msg = await run_job(Job("chat", (messages, tools), sampling, key))
        content = msg.get("content") or ""
        tool_calls = msg.get("tool_calls") or []
        out_msg: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            out_msg["content"] = content or None  # as OpenAI: null content beside tool calls
            out_msg["tool_calls"] = tool_calls
            completion_text = content + "".join(
                json.dumps(c["function"], ensure_ascii=False) for c in tool_calls
            )
        else:
            completion_text = content
        # re-tokenised count; the true count can never exceed max_new_tokens (module docstring)
        completion_tokens = min(counter.text(completion_text), sampling["max_new_tokens"])
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
        job = Job(
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
                if item is STREAM_END:
                    break
                if isinstance(item, BaseException):
                    err = error_from_exception(item)
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
            completion_tokens = min(counter.text(text), sampling["max_new_tokens"])
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
        top_n = check_int(body, "logprobs", 0)
        if top_n is not None and top_n > 20:
            raise APIError("'logprobs' must be <= 20", param="logprobs")
        sampling = sampling_from(body, max(n_prompt), 16, 0)
        max_new = sampling["max_new_tokens"]
        rid, now = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        if top_n is not None:  # token-exact path, one prompt at a time (see the docstring)
            if not is_local(model):
                raise APIError(
                    "logprobs are not supported by this backend (needs a local model with a "
                    "tokenizer)",
                    param="logprobs",
                    code="not_supported",
                )
            results = []
            for prompt_ids in ids:
                job = Job("call", lambda i=prompt_ids: generate_scored(model, i, sampling, top_n))
                results.append(await run_job(job))
        else:
            if max_new > 0:
                key = batch_key("complete", sampling)
                outs = await run_job(Job("complete", texts, sampling, key))
            else:
                outs = ["" for _ in texts]
            results = []
            for out in outs:
                # re-tokenised count; the true count can never exceed max_new (docstring)
                n_out = min(counter.text(out), max_new) if out else 0
                results.append((out, n_out, "length" if n_out >= max_new else "stop", None))
        choices = []
        for k, (text, (out, _n, finish, lp)) in enumerate(zip(texts, results)):
            logprobs = None
            if lp is not None:  # echo: prompt + generated; else the generated part alone
                logprobs = lp if echo else slice_logprobs(lp, len(ids[k]), len(text))
            choices.append(
                {
                    "index": k,
                    "text": text + out if echo else out,
                    "logprobs": logprobs,
                    "finish_reason": finish,
                }
            )
        total_completion = sum(r[1] for r in results)
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
        emb = await run_job(Job("embed", inp, {"pooling": pooling}, ("embed", pooling)))
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
    parser.add_argument("--quantize", choices=["int8"], help="load a local model with int8 weights")
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
    model = tinyqwen.connect(args.model, quantize=args.quantize)
    app = create_app(
        model, args.served_model_name, max_batch_size=args.max_batch_size, api_key=args.api_key
    )
    served = args.served_model_name or model.name
    if getattr(model, "name", None) == "tiny-random":
        from tinyqwen.tiny_random import TINY_RANDOM_NOTICE

        print(TINY_RANDOM_NOTICE, file=sys.stderr)
    print(f"serving {served!r} at http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
