"""Request validation for `tinyqwen serve`: OpenAI request bodies in, clear 4xx errors out.

    >>> try:
    ...     check_int({"max_tokens": -1}, "max_tokens", 0)
    ... except APIError as e:
    ...     print(e.status, e.body())
    400 {'error': {'message': "'max_tokens' must be >= 0, got -1", 'type': 'invalid_request_error', 'param': 'max_tokens', 'code': None}}

Every error is an `APIError`, rendered by the server as OpenAI's body
`{"error": {"message", "type", "param", "code"}}` with `param` naming the offending field.
Only what tinyqwen serve supports passes: `n == 1`, no penalties or `logit_bias`, text-only
message content, `tool_choice` "auto" / "none".
"""

from __future__ import annotations

from typing import Any


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


def error_from_exception(e: BaseException) -> APIError:
    if isinstance(e, APIError):
        return e
    if isinstance(e, (ValueError, TypeError, KeyError)):
        # raised by the model/template for bad input (unknown role, bad tool-call arguments, ...)
        return APIError(f"{type(e).__name__}: {e}", 400)
    if isinstance(e, NotImplementedError):
        return APIError(str(e), 400, code="not_supported")
    return APIError(f"internal error: {type(e).__name__}: {e}", 500, type="server_error")


def check_number(body: dict, key: str, default: float, lo: float, hi: float, lo_open=False):
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise APIError(f"'{key}' must be a number, got {value!r}", param=key)
    if value < lo or value > hi or (lo_open and value == lo):
        bound = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise APIError(f"'{key}' must be in {bound}, got {value}", param=key)
    return float(value)


def check_int(body: dict, key: str, lo: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise APIError(f"'{key}' must be an integer, got {value!r}", param=key)
    if value < lo:
        raise APIError(f"'{key}' must be >= {lo}, got {value}", param=key)
    return value


def check_stop(body: dict) -> list[str] | None:
    stop = body.get("stop")
    if stop is None:
        return None
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise APIError("'stop' must be a non-empty string or a list of them", param="stop")
    return stop or None


def check_unsupported(body: dict) -> None:
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
            raise APIError(f"messages[{i}].role {role!r} is not supported", param=f"messages[{i}]")
        msg = {k: v for k, v in m.items() if k in ("role", "content", "tool_calls", "name")}
        if role == "developer":  # OpenAI's newer name for the system role
            msg["role"] = "system"
        if "tool_call_id" in m:
            msg["tool_call_id"] = m["tool_call_id"]
        msg["content"] = _message_content(m.get("content"), i) or ""
        out.append(msg)
    return out


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
