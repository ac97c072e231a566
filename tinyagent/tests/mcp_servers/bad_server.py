"""A misbehaving stdio MCP server: python bad_server.py MODE

badjson  -- answers initialize with a line that is not JSON
silent   -- never answers
die      -- initializes, then exits (code 3, a message on stderr) on the first tools/list
chatty   -- a notification and a ping request before tools/list, which has two pages;
            tools/call is a JSON-RPC error
"""

import json
import sys

mode = sys.argv[1]


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if "method" not in msg:  # the client's answer to our ping
        sys.stderr.write(f"client answered: {line}")
        continue
    if mode == "silent":
        continue
    if mode == "badjson":
        sys.stdout.write("this is not json\n")
        sys.stdout.flush()
        continue
    if msg["method"] == "initialize":
        result = {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bad"},
        }
        send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
    elif mode == "die":
        sys.stderr.write("fatal: database gone\n")
        sys.exit(3)
    elif msg["method"] == "tools/list":
        send(
            {
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "data": "hi"},
            }
        )
        send({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"})
        if (msg.get("params") or {}).get("cursor") == "page2":  # the second page
            tool = {"name": "u", "inputSchema": {"type": "object", "properties": {}}}
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"tools": [tool]}})
            continue
        tool = {"name": "t", "inputSchema": {"type": "object", "properties": {}}}
        page = {"tools": [tool], "nextCursor": "page2"}
        send({"jsonrpc": "2.0", "id": msg["id"], "result": page})
    else:
        send(
            {
                "jsonrpc": "2.0",
                "id": msg["id"],
                "error": {"code": -32000, "message": "backend down"},
            }
        )
