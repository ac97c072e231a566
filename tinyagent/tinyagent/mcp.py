"""A Model Context Protocol client written by hand: JSON-RPC 2.0 over stdio or streamable HTTP.

    $ python -m tinyagent "2+3 用 add 工具算" --model SPEC --mcp "python my_server.py" --tools ""

    >>> client = MCPClient.connect("python my_server.py")       # doctest: +SKIP
    >>> [t.name for t in client.tools()]                        # doctest: +SKIP
    ['add']
    >>> client.tools()[0].fn(a=2, b=3)                           # doctest: +SKIP
    '5'

What is implemented of the MCP specification (2025-06-18 revision):

- **transports**: *stdio* -- the server is a subprocess, messages are single-line JSON on its
  stdin/stdout, its stderr is kept (last lines) for error messages; *streamable HTTP* -- every
  message is a POST to one endpoint with ``Accept: application/json, text/event-stream``; the reply
  is a JSON body or an SSE stream whose ``data:`` events carry the messages; the server's
  ``Mcp-Session-Id`` is sent back on later requests, with ``MCP-Protocol-Version``; the session is
  ended with ``DELETE`` on close.
- **lifecycle**: ``initialize`` (our protocol version, client info) -> the server's version must be
  one we know -> ``notifications/initialized``.
- **tools**: ``tools/list`` (following ``nextCursor``) and ``tools/call``. A result's ``content``
  items become text (``text`` as is, images/audio/resources as a short placeholder); with no text,
  ``structuredContent`` is shown as JSON; ``isError: true`` raises ``MCPToolError`` so the agent
  shows the model an error observation. A JSON-RPC ``error`` raises ``MCPError``.
- server -> client messages while waiting: notifications are ignored, a ``ping`` request is
  answered, any other request gets JSON-RPC error -32601.

Every failure is an ``MCPError`` naming the server and what happened: a line that is not JSON, no
reply within ``timeout`` seconds, the process exiting (with its exit code and stderr tail), an HTTP
error status. Server tools become :class:`tinyagent.tool.Tool` objects with the server's JSON
schema, so the agent validates arguments before they are sent.

Limits: no resources, prompts, sampling, roots or elicitation; no SSE resumption (``Last-Event-ID``)
nor the standalone GET stream; one request at a time per client.
"""

from __future__ import annotations

import collections
import json
import queue
import shlex
import subprocess
import threading
from typing import Any

import requests

from tinyagent.tool import Tool

__all__ = ["MCPClient", "MCPError", "MCPToolError", "StdioTransport", "HTTPTransport"]

PROTOCOL_VERSION = "2025-06-18"
KNOWN_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")


class MCPError(RuntimeError):
    """The server or the transport failed (bad JSON, timeout, exit, HTTP status, JSON-RPC error)."""


class MCPToolError(RuntimeError):
    """A tool ran and reported an error (``isError: true``); its text is the message."""


class StdioTransport:
    """A server subprocess speaking newline-delimited JSON-RPC on stdin/stdout."""

    def __init__(self, command: str | list[str], cwd: str | None = None) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        self.label = " ".join(self.argv)
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        except OSError as e:
            raise MCPError(f"MCP server {self.label!r} could not start: {e}") from None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True).start()

    def _pump(self, stream, is_stdout: bool) -> None:
        for line in stream:
            if is_stdout:
                self.lines.put(line)
            else:
                self.stderr_tail.append(line.rstrip())
        if is_stdout:
            self.lines.put(None)  # EOF

    def _died(self) -> MCPError:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        tail = " | ".join(list(self.stderr_tail)[-5:])
        return MCPError(
            f"MCP server {self.label!r} closed its output (exit code {code})"
            + (f"; stderr: {tail}" if tail else "")
        )

    def send(self, message: dict) -> list[dict]:
        try:
            self.proc.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._died() from None
        return []  # replies arrive through receive()

    def receive(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise MCPError(f"MCP server {self.label!r}: no reply within {timeout:g} s") from None
        if line is None:
            raise self._died()
        try:
            return json.loads(line)
        except json.JSONDecodeError as e:
            raise MCPError(
                f"MCP server {self.label!r} sent invalid JSON ({e}): {line[:200]!r}"
            ) from None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


class HTTPTransport:
    """Streamable HTTP: each message is a POST; replies come as JSON or as an SSE stream."""

    def __init__(self, url: str, headers: dict | None = None) -> None:
        self.url, self.label = url, url
        self.session = requests.Session()
        self.headers = {"Accept": "application/json, text/event-stream", **(headers or {})}
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.timeout = 30.0
        self.pending: collections.deque[dict] = collections.deque()

    def _headers(self) -> dict:
        h = dict(self.headers)
        if self.session_id:
            h["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            h["MCP-Protocol-Version"] = self.protocol_version
        return h

    def send(self, message: dict) -> list[dict]:
        try:
            r = self.session.post(
                self.url, json=message, headers=self._headers(), timeout=self.timeout, stream=True
            )
        except requests.Timeout:
            raise MCPError(f"MCP server {self.label}: no reply within {self.timeout:g} s") from None
        except requests.RequestException as e:
            raise MCPError(f"MCP server {self.label} unreachable: {e}") from None
        if r.headers.get("Mcp-Session-Id"):
            self.session_id = r.headers["Mcp-Session-Id"]
        if r.status_code >= 400:
            raise MCPError(f"MCP server {self.label}: HTTP {r.status_code}: {r.text[:200]}")
        if "id" not in message or "method" not in message:  # a notification or our response
            r.close()
            return []
        kind = r.headers.get("Content-Type", "")
        r.encoding = "utf-8"  # SSE and JSON are UTF-8 (requests would guess Latin-1 for SSE)
        try:
            if kind.startswith("text/event-stream"):
                self.pending.extend(_sse_messages(r.iter_lines(decode_unicode=True)))
            elif kind.startswith("application/json"):
                body = r.json()
                self.pending.extend(body if isinstance(body, list) else [body])
            elif "id" in message:
                raise MCPError(f"MCP server {self.label}: unexpected Content-Type {kind!r}")
        except (ValueError, json.JSONDecodeError) as e:
            raise MCPError(f"MCP server {self.label} sent invalid JSON: {e}") from None
        except requests.RequestException as e:
            raise MCPError(f"MCP server {self.label}: stream broke: {e}") from None
        return []

    def receive(self, timeout: float) -> dict:
        if not self.pending:
            raise MCPError(f"MCP server {self.label}: the reply did not contain the response")
        return self.pending.popleft()

    def close(self) -> None:
        if self.session_id:
            try:
                self.session.delete(self.url, headers=self._headers(), timeout=5)
            except requests.RequestException:
                pass
        self.session.close()


def _sse_messages(lines) -> list[dict]:
    """JSON messages of an SSE stream (``data:`` lines joined per event, blank line ends one)."""
    out, data = [], []
    for line in lines:
        if line is None:
            continue
        if line == "":
            if data:
                out.append(json.loads("\n".join(data)))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        out.append(json.loads("\n".join(data)))
    return out


class MCPClient:
    """One connection to one MCP server: ``initialize`` on creation, ``close`` when done."""

    def __init__(self, transport: StdioTransport | HTTPTransport, timeout: float = 30.0) -> None:
        self.transport, self.timeout = transport, timeout
        if isinstance(transport, HTTPTransport):
            transport.timeout = timeout
        self.next_id = 0
        self.server_info: dict = {}
        try:
            self._initialize()
        except BaseException:
            transport.close()
            raise

    @classmethod
    def connect(cls, spec: str, timeout: float = 30.0) -> MCPClient:
        """``http(s)://...`` -> streamable HTTP; anything else is a command line run over stdio."""
        if spec.startswith(("http://", "https://")):
            return cls(HTTPTransport(spec), timeout)
        return cls(StdioTransport(spec), timeout)

    def __enter__(self) -> MCPClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ JSON-RPC

    def request(self, method: str, params: dict | None = None) -> Any:
        self.next_id += 1
        rid = self.next_id
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.transport.send(msg)
        label = self.transport.label
        while True:
            reply = self.transport.receive(self.timeout)
            if not isinstance(reply, dict):
                raise MCPError(
                    f"MCP server {label}: a message that is not a JSON object: {reply!r}"[:300]
                )
            if "method" in reply:  # a server notification or request while we wait
                if "id" in reply:
                    answer: dict = {"jsonrpc": "2.0", "id": reply["id"]}
                    if reply["method"] == "ping":
                        answer["result"] = {}
                    else:
                        answer["error"] = {
                            "code": -32601,
                            "message": "method not supported by client",
                        }
                    self.transport.send(answer)
                continue
            if reply.get("id") != rid:
                continue  # a stale reply (e.g. to a request that timed out)
            if "error" in reply:
                err = reply["error"] or {}
                raise MCPError(
                    f"MCP server {label}: {method} failed: {err.get('code')} {err.get('message')}"
                )
            if "result" not in reply:
                raise MCPError(
                    f"MCP server {label}: reply to {method} has neither result nor error"
                )
            return reply["result"]

    def notify(self, method: str, params: dict | None = None) -> None:
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.transport.send(msg)

    def _initialize(self) -> None:
        result = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "tinyagent", "version": "0.1.0"},
            },
        )
        version = result.get("protocolVersion") if isinstance(result, dict) else None
        if version not in KNOWN_VERSIONS:
            raise MCPError(
                f"MCP server {self.transport.label}: unsupported protocol version {version!r}"
            )
        if isinstance(self.transport, HTTPTransport):
            self.transport.protocol_version = version
        self.server_info = result.get("serverInfo") or {}
        self.notify("notifications/initialized")

    # ------------------------------------------------------------------ tools

    def list_tools(self) -> list[dict]:
        tools, cursor = [], None
        while True:
            result = self.request("tools/list", {"cursor": cursor} if cursor else None)
            tools += result.get("tools") or []
            cursor = result.get("nextCursor")
            if not cursor:
                return tools

    def call_tool(self, name: str, arguments: dict | None = None) -> dict:
        return self.request("tools/call", {"name": name, "arguments": arguments or {}})

    def call_text(self, name: str, arguments: dict | None = None) -> str:
        """``tools/call`` as the agent sees it: text, or ``MCPToolError`` when ``isError``."""
        result = self.call_tool(name, arguments)
        text = result_text(result)
        if result.get("isError"):
            raise MCPToolError(text or "the tool reported an error")
        return text

    def tools(self) -> list[Tool]:
        """The server's tools as agent tools (name, description, input JSON schema)."""
        out = []
        for spec in self.list_tools():
            name = spec["name"]
            schema = spec.get("inputSchema") or {"type": "object", "properties": {}}

            def fn(_name: str = name, **kwargs: Any) -> str:
                return self.call_text(_name, kwargs)

            out.append(Tool(name, spec.get("description") or name, schema, fn))
        return out


def result_text(result: dict) -> str:
    """A ``tools/call`` result as text: text items joined; else ``structuredContent`` as JSON."""
    parts = []
    for item in result.get("content") or []:
        kind = item.get("type")
        if kind == "text":
            parts.append(item.get("text", ""))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {item.get('mimeType', '')}]")
        elif kind in ("resource", "resource_link"):
            res = item.get("resource") or item
            parts.append(res.get("text") or f"[resource {res.get('uri', '')}]")
    if not parts and result.get("structuredContent") is not None:
        return json.dumps(result["structuredContent"], ensure_ascii=False)
    return "\n".join(parts)
