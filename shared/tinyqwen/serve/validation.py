"""Request validation for `tinyqwen serve`: OpenAI request bodies in, clear 4xx errors out.

    >>> try:
    ...     check_int({"max_tokens": -1}, "max_tokens", 0)
    ... except APIError as e:
    ...     print(e.status, e.body())
    400 {'error': {'message': "'max_tokens' must be >= 0, got -1", 'type': 'invalid_request_error', 'param': 'max_tokens', 'code': None}}
    >>> check_number({"temperature": float("nan")}, "temperature", 1.0, 0.0, 2.0)
    Traceback (most recent call last):
    ...
    tinyqwen.serve.validation.APIError: 'temperature' must be a finite number, got nan

Every error is an `APIError`, rendered by the server as OpenAI's body
`{"error": {"message", "type", "param", "code"}}` with `param` naming the offending field.
Only what tinyqwen serve supports passes: `n == 1`, no penalties or `logit_bias`, text-only
message content, `tool_choice` "auto" / "none".

Hostile input is refused here, before it reaches the model: bodies that are not JSON objects
(including 100k nested `[` that overflow the JSON parser's recursion limit), NaN / ±Infinity / huge
numbers (Python's `json` accepts `NaN` and `Infinity`), seeds outside what `torch.Generator` takes,
fields of the wrong type (`stream`, `stream_options`, `echo`, ...). Size limits (413) and the queue
limit (429) are the app's and the worker's.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tinyqwen.sampling import SEED_MAX, SEED_MIN, Sampling, SamplingError

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # a 32k-token prompt is ~130 KB of text: 4 MiB is lenient
MAX_STOP_STRINGS = 64  # each is searched for after every token: a bound keeps that cheap


class APIError(Exception):
    """A request error rendered as OpenAI's `{"error": {...}}` body (plus optional headers)."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = (
            status,
            message,
            param,
            code,
            type,
        )
        self.headers = headers

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def error_from_exception(e: BaseException) -> APIError:
    """The error a client sees for an exception raised while serving its request."""
    if isinstance(e, APIError):
        return e
    if isinstance(e, SamplingError):
        return APIError(str(e), 400, param=e.field)
    if isinstance(e, (ValueError, TypeError, KeyError)):
        # raised by the model/template for bad input (unknown role, bad tool-call arguments, ...)
        return APIError(f"{type(e).__name__}: {e}", 400)
    if isinstance(e, NotImplementedError):
        return APIError(str(e), 400, code="not_supported")
    return APIError(f"internal error: {type(e).__name__}: {e}", 500, type="server_error")


def parse_json_body(raw: bytes) -> dict:
    """The request body as a JSON object, or a 400 `invalid_json` error."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise APIError(f"request body is not valid JSON: {e}", code="invalid_json") from e
    except RecursionError as e:  # e.g. 100k nested "[": deeper than the parser's stack allows
        raise APIError("request body is nested too deeply", code="invalid_json") from e
    if not isinstance(body, dict):
        raise APIError("request body must be a JSON object", code="invalid_json")
    return body


# ---------------------------------------------------------------------------------------- scalars
def check_number(
    body: dict, key: str, default: float, lo: float, hi: float, lo_open: bool = False
) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise APIError(f"'{key}' must be a number, got {value!r}", param=key)
    if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity, 1e999
        raise APIError(f"'{key}' must be a finite number, got {value}", param=key)
    if value < lo or value > hi or (lo_open and value == lo):
        bound = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise APIError(f"'{key}' must be in {bound}, got {_short(value)}", param=key)
    return float(value)


def check_int(body: dict, key: str, lo: int, hi: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise APIError(f"'{key}' must be an integer, got {_short(value)}", param=key)
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise APIError(f"'{key}' must be {bound}, got {_short(value)}", param=key)
    return value


def check_bool(body: dict, key: str, default: bool = False) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise APIError(f"'{key}' must be a boolean, got {_short(value)}", param=key)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_stop(body: dict) -> list[str] | None:
    stop = body.get("stop")
    if stop is None:
        return None
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise APIError("'stop' must be a non-empty string or a list of them", param="stop")
    if len(stop) > MAX_STOP_STRINGS:
        raise APIError(f"'stop' has more than {MAX_STOP_STRINGS} strings", param="stop")
    return stop or None


def check_unsupported(body: dict) -> None:
    n = body.get("n", 1)
    if n != 1:
        raise APIError(f"only n=1 is supported, got n={_short(n)}", param="n")
    for key in ("presence_penalty", "frequency_penalty"):
        if body.get(key) not in (None, 0, 0.0):
            raise APIError(f"'{key}' is not supported by tinyqwen serve", param=key)
    if body.get("logit_bias"):
        raise APIError("'logit_bias' is not supported by tinyqwen serve", param="logit_bias")


def check_stream(body: dict) -> tuple[bool, bool]:
    """(stream, include_usage) from `stream` and `stream_options: {"include_usage": bool}`."""
    stream = check_bool(body, "stream")
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not isinstance(options, dict):
        raise APIError(
            f"'stream_options' must be an object, got {_short(options)}", param="stream_options"
        )
    return stream, check_bool(options, "include_usage")


def max_tokens_from(body: dict, min_new: int) -> int | None:
    """`max_completion_tokens` / `max_tokens` (at least `min_new`: 1 for chat, 0 for echo-only
    scoring), or None when unset."""
    max_tokens = check_int(body, "max_completion_tokens", min_new)
    if max_tokens is None:
        max_tokens = check_int(body, "max_tokens", min_new)
    return max_tokens


def sampling_from(body: dict) -> Sampling:
    """The request's `Sampling`, checked before any tokenising is done.

    OpenAI's ranges and defaults (`temperature` 1.0 in [0, 2]) are checked here, with `param`
    naming the field; `max_new_tokens` is set by `fit_context` once the prompt is counted."""
    check_unsupported(body)
    try:
        return Sampling(
            temperature=check_number(body, "temperature", 1.0, 0.0, 2.0),
            top_p=check_number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True),
            top_k=check_int(body, "top_k", 0) or 0,
            repetition_penalty=check_number(
                body, "repetition_penalty", 1.0, 0.0, 10.0, lo_open=True
            ),
            stop=check_stop(body) or (),
            seed=check_int(body, "seed", SEED_MIN, SEED_MAX),
        )
    except SamplingError as e:  # whatever Sampling refuses beyond the checks above
        raise APIError(str(e), param=e.field) from e


def fit_context(
    sampling: Sampling,
    max_tokens: int | None,
    context_length: int,
    prompt_tokens: int,
    min_new: int,
    param: str,
) -> Sampling:
    """`sampling` with `max_new_tokens` = `max_tokens` clamped to the room the prompt leaves (all
    of it when None: vLLM's default); 400 `context_length_exceeded` when the room is below
    `min_new`."""
    room = context_length - prompt_tokens
    if room < min_new:
        raise APIError(
            f"This model's maximum context length is {context_length} tokens, but the prompt "
            f"has {prompt_tokens} tokens, which leaves no room for a completion",
            param=param,
            code="context_length_exceeded",
        )
    return sampling.replace(max_new_tokens=room if max_tokens is None else min(max_tokens, room))


# ---------------------------------------------------------------------------------------- chat
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


def check_messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError("'messages' must be a non-empty list", param="messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise APIError(f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = m.get("role")
        if role not in ("system", "user", "assistant", "tool", "developer"):
            raise APIError(
                f"messages[{i}].role {_short(role)} is not supported", param=f"messages[{i}]"
            )
        keep = ("role", "content", "tool_calls", "name")
        msg = {k: v for k, v in m.items() if k in keep}
        reasoning = m.get("reasoning_content")
        if role == "assistant" and reasoning is not None:  # Qwen3's template keeps recent thoughts
            if not isinstance(reasoning, str):
                where = f"messages[{i}].reasoning_content"
                raise APIError(f"{where} must be a string, got {_short(reasoning)}", param=where)
            msg["reasoning_content"] = reasoning
        if role == "developer":  # OpenAI's newer name for the system role
            msg["role"] = "system"
        if "tool_call_id" in m:
            msg["tool_call_id"] = m["tool_call_id"]
        msg["content"] = _message_content(m.get("content"), i) or ""
        if msg.get("tool_calls") is not None:
            _check_tool_calls(msg["tool_calls"], i)
        out.append(msg)
    return out


def _check_tool_calls(calls: Any, index: int) -> None:
    where = f"messages[{index}].tool_calls"
    if not isinstance(calls, list):
        raise APIError(f"{where} must be a list", param=where)
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise APIError(f"{where}[{j}].function.name must be a string", param=where)
        if not isinstance(fn.get("arguments", "{}"), (str, dict)):
            raise APIError(f"{where}[{j}].function.arguments must be a string", param=where)


def check_tools(body: dict) -> list[dict] | None:
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


def check_continue_final(body: dict) -> bool:
    """vLLM's extension: continue the final assistant message instead of opening a new turn."""
    continue_final = check_bool(body, "continue_final_message")
    if continue_final and body.get("add_generation_prompt") is True:
        raise APIError(
            "'add_generation_prompt' and 'continue_final_message' exclude each other",
            param="continue_final_message",
        )
    return continue_final


def check_chat_template_kwargs(body: dict) -> dict:
    """vLLM's ``chat_template_kwargs``; the one variable our templates read is Qwen3's
    ``enable_thinking`` (a boolean). Anything else is a 400 naming it, not silently ignored."""
    kwargs = body.get("chat_template_kwargs")
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict):
        raise APIError(
            f"'chat_template_kwargs' must be an object, got {_short(kwargs)}",
            param="chat_template_kwargs",
        )
    unknown = sorted(set(kwargs) - {"enable_thinking"})
    if unknown:
        raise APIError(
            f"chat_template_kwargs {unknown} not supported (only 'enable_thinking')",
            param="chat_template_kwargs",
        )
    if "enable_thinking" in kwargs:
        check_bool(kwargs, "enable_thinking")
        return {"enable_thinking": kwargs["enable_thinking"]}
    return {}


# ---------------------------------------------------------------------------------------- others
def check_prompts(body: dict) -> list[str | list[int]]:
    """/v1/completions `prompt`: a string, list of strings, token ids, or lists of token ids."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return list(prompt)
        if all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            return [list(prompt)]
        if all(isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt):
            return [list(p) for p in prompt]
    raise APIError(
        "'prompt' must be a string, a list of strings, a list of token ids, or a list of "
        "lists of token ids",
        param="prompt",
    )


def check_embedding_input(body: dict) -> tuple[list[str], str, str]:
    """(texts, encoding_format, pooling) of a /v1/embeddings request."""
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
    return inp, fmt, pooling
