"""The hand-written MCP client against the official SDK's server (stdio and streamable HTTP) and
against a misbehaving fake server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyagent import Agent
from tinyagent.mcp import MCPClient, MCPError, MCPToolError
from tinyagent.scripted import ScriptedChatModel

SERVERS = Path(__file__).parent / "mcp_servers"
SDK = f"{sys.executable} {SERVERS / 'sdk_server.py'}"
BAD = f"{sys.executable} {SERVERS / 'bad_server.py'}"


def _check_sdk_tools(client: MCPClient) -> None:
    tools = {t.name: t for t in client.tools()}
    assert set(tools) == {"add", "weather", "fail"}
    assert tools["add"].parameters["required"] == ["a", "b"]
    assert tools["add"].parameters["properties"]["a"]["type"] == "integer"
    assert tools["add"].fn(a=2, b=3) == "5"
    raw = client.call_tool("weather", {"city": "杭州"})
    assert raw["structuredContent"] == {"city": "杭州", "temp_c": 21, "sky": "晴"}
    assert "杭州" in tools["weather"].fn(city="杭州")
    with pytest.raises(MCPToolError, match="fail"):
        tools["fail"].fn(message="boom")
    with pytest.raises(MCPError, match="-32601"):
        client.request("no/such/method")


def test_sdk_server_over_stdio():
    pytest.importorskip("mcp")
    with MCPClient.connect(SDK, timeout=60) as client:
        assert client.server_info["name"] == "tinyagent-test"
        _check_sdk_tools(client)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("reply", ["sse", "json"])
def test_sdk_server_over_streamable_http(reply):
    pytest.importorskip("mcp")
    port = _free_port()
    args = [sys.executable, str(SERVERS / "sdk_server.py"), "http", str(port)]
    proc = subprocess.Popen(args + (["json"] if reply == "json" else []), stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        with MCPClient.connect(f"http://127.0.0.1:{port}/mcp", timeout=60) as client:
            assert client.transport.session_id  # the server's session header is carried
            _check_sdk_tools(client)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_agent_uses_mcp_tools():
    pytest.importorskip("mcp")
    with MCPClient.connect(SDK, timeout=60) as client:
        model = ScriptedChatModel(
            [
                '<tool_call>\n{"name": "add", "arguments": {"a": "2", "b": 40}}\n</tool_call>',
                '<tool_call>\n{"name": "fail", "arguments": {"message": "x"}}\n</tool_call>',
                "42",
            ]
        )
        result = Agent(model, client.tools()).run("2+40?")
    assert result.answer == "42"
    add, fail = result.steps[0].calls[0], result.steps[1].calls[0]
    assert add.ok and add.observation == "42" and add.arguments == {"a": 2, "b": 40}  # validated
    assert not fail.ok and "MCPToolError" in fail.observation
    assert (
        model.chats[0]["tools"][0]["function"]["parameters"]["properties"]["a"]["type"] == "integer"
    )


def test_bad_json_is_a_clear_error():
    with pytest.raises(MCPError, match="invalid JSON.*this is not json"):
        MCPClient.connect(f"{BAD} badjson", timeout=10)


def test_silent_server_times_out():
    t0 = time.perf_counter()
    with pytest.raises(MCPError, match="no reply within 1 s"):
        MCPClient.connect(f"{BAD} silent", timeout=1)
    assert time.perf_counter() - t0 < 10


def test_dying_server_reports_exit_code_and_stderr():
    client = MCPClient.connect(f"{BAD} die", timeout=10)
    with pytest.raises(MCPError, match=r"exit code 3.*database gone"):
        client.list_tools()
    client.close()


def test_missing_command():
    with pytest.raises(MCPError, match="could not start"):
        MCPClient.connect("/nonexistent/mcp-server", timeout=5)


def test_notifications_pings_pagination_and_rpc_errors():
    with MCPClient.connect(f"{BAD} chatty", timeout=10) as client:
        assert [t["name"] for t in client.list_tools()] == ["t", "u"]
        with pytest.raises(MCPError, match="backend down"):
            client.call_tool("t")
        proc = client.transport.proc
    assert proc.poll() is not None  # closed: no leftover process


def test_cli_mcp_flag(capsys):
    from tinyagent.cli import main

    with pytest.raises(SystemExit) as e:
        main(["q", "--mcp", f"{BAD} badjson", "--tools", ""])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "\nerror: --mcp" in err and "invalid JSON" in err and "Traceback" not in err
    pytest.importorskip("mcp")
    rc = main(
        ["2+3?", "--mcp", SDK, "--tools", "calculator", "--max-steps", "1", "--max-new-tokens", "4"]
    )
    assert rc in (0, 1)  # tiny-random: the wiring, not an answer
