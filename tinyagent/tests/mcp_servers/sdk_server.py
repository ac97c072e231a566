"""An MCP server written with the official `mcp` Python SDK (the client's reference peer).

python sdk_server.py                 # stdio
python sdk_server.py http 8765       # streamable HTTP at http://127.0.0.1:8765/mcp (SSE replies)
python sdk_server.py http 8765 json  # ... with plain JSON replies
"""

import sys
from typing import TypedDict

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server

app = Server("tinyagent-test")


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Weather(TypedDict):
    city: str
    temp_c: int
    sky: str


@app.tool()
def weather(city: str) -> Weather:
    """Weather of a city (structured result)."""
    return {"city": city, "temp_c": 21, "sky": "晴"}


@app.tool()
def fail(message: str) -> str:
    """Always raises."""
    raise ValueError(message)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        port = int(sys.argv[2])
        json_response = len(sys.argv) > 3 and sys.argv[3] == "json"
        try:
            app.run("streamable-http", port=port, json_response=json_response)
        except TypeError:  # mcp 1.x takes these as settings
            app.settings.port, app.settings.json_response = port, json_response
            app.run("streamable-http")
    else:
        app.run("stdio")
