"""Security of the python tool: each attack is contained and the agent carries on with an error."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import pytest

from tinyagent import Agent
from tinyagent.scripted import ScriptedChatModel
from tinyagent.tools.python_exec import SandboxLimits, make_python_tool, run_python, sandbox_layers

# generous time limit: the machine running the tests may be busy; the loop test uses its own 2 s
LIMITS = SandboxLimits(time_s=20.0, memory_mb=512, max_output_chars=2000)
PY = make_python_tool(LIMITS)
PY_2S = make_python_tool(SandboxLimits(time_s=2.0, memory_mb=512))


def run_attack(code: str, tool=PY) -> tuple[str, float]:
    """Agent step 1 runs ``code``; step 2 answers. Returns (observation, seconds)."""
    call = {
        "tool_calls": [{"function": {"name": "python", "arguments": json.dumps({"code": code})}}]
    }
    model = ScriptedChatModel([call, "continued"])
    t0 = time.perf_counter()
    result = Agent(model, [tool], "qwen").run("attack")
    seconds = time.perf_counter() - t0
    assert result.answer == "continued" and result.stop_reason == "final_answer"
    obs = result.steps[0].calls[0].observation
    # the model saw the error as the tool message of the next turn
    assert model.chats[1]["messages"][-1] == {
        "role": "tool",
        "name": "python",
        "tool_call_id": "call_0",
        "content": obs,
    }
    return obs, seconds


def test_normal_code_and_last_expression():
    obs, _ = run_attack("import math\nprint(math.factorial(10))\nx = [1, 2]\nx + [3]")
    assert obs == "3628800\n[1, 2, 3]"


def test_infinite_loop_is_killed():
    obs, seconds = run_attack("while True:\n    pass", PY_2S)
    assert "Error: time limit exceeded (2 s): the process was killed" in obs
    assert seconds < 8


def test_memory_bomb():
    obs, seconds = run_attack("blob = bytearray(4 * 1024 ** 3)\nprint('allocated')")
    assert "MemoryError" in obs and "memory limit exceeded (512 MiB)" in obs
    assert "allocated" not in obs
    obs, _ = run_attack("x = []\nwhile True:\n    x.append(' ' * 10_000_000)")
    assert "MemoryError" in obs


def test_fork_bomb():
    obs, seconds = run_attack("import os\nwhile True:\n    os.fork()")
    assert "PermissionError: sandbox: starting processes is not allowed (os.fork)" in obs
    obs, _ = run_attack("import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])")
    assert "ImportError: sandbox: module '_posixsubprocess' is not allowed" in obs
    obs, _ = run_attack("import os\nos.system('echo pwned')")
    assert "pwned" not in obs and "starting processes is not allowed (os.system)" in obs
    obs, _ = run_attack("import ctypes\nctypes.CDLL(None).fork()")
    assert "module 'ctypes' is not allowed" in obs
    assert seconds < 15


def test_network_connect_is_blocked():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        code = f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\ns.sendall(b'leak')"
        obs, _ = run_attack(code)
        assert "network access is not allowed" in obs
        obs, _ = run_attack(
            f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/')"
        )
        assert "network access is not allowed" in obs
        with pytest.raises(TimeoutError):
            server.accept()  # nothing ever connected
    finally:
        server.close()


@pytest.mark.skipif(
    not sandbox_layers()["namespaces(net,pid)"], reason="unshare is not usable here"
)
def test_namespace_layer_has_no_network_and_own_pids():
    # socket.if_nameindex raises no audit event, so this shows the kernel layer, not the hook
    r = run_python(
        "import socket, os\nprint(socket.if_nameindex())\nprint(os.getpid(), os.getppid())", LIMITS
    )
    assert r.stdout == "[(1, 'lo')]\n1 0\n", r.stderr


def test_write_outside_the_working_dir(tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("intact")
    target = tmp_path / f"evil-{uuid.uuid4().hex}.txt"
    attacks = [
        f"open({str(target)!r}, 'w').write('x')",
        f"import os\nfd = os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
        f"open({str(canary)!r}, 'a').write('tampered')",
        f"import os\nos.remove({str(canary)!r})",
        f"import os\nos.rename({str(canary)!r}, 'stolen.txt')",
        "open('../escape.txt', 'w').write('x')",
        "import pathlib\npathlib.Path('/tmp/tinyagent-escape').mkdir()",
    ]
    for code in attacks:
        obs, _ = run_attack(code)
        assert "PermissionError: sandbox:" in obs and "outside the working directory" in obs, obs
    assert canary.read_text() == "intact" and not target.exists()
    assert not os.path.exists("/tmp/tinyagent-escape")
    obs, _ = run_attack("open('notes.txt', 'w').write('ok')\nprint(open('notes.txt').read())")
    assert obs == "ok"  # writing inside its own directory works


def test_parent_environment_secrets_are_not_visible(monkeypatch):
    secret = "hunter2-" + uuid.uuid4().hex
    monkeypatch.setenv("TINYAGENT_TEST_SECRET", secret)
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "print(open('/proc/self/environ').read())\n"
        "for pid in [os.getppid(), 1] + [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try:\n"
        "        print(open(f'/proc/{pid}/environ').read())\n"
        "    except Exception as e:\n"
        "        print('blocked', type(e).__name__)\n"
    )
    obs, _ = run_attack(code)
    assert secret not in obs
    assert "TINYAGENT_TEST_SECRET" not in obs
    assert "'HOME': '" in obs and "tinyagent-py-" in obs  # the scrubbed environment is what it sees


def test_output_is_capped():
    obs, _ = run_attack("print('a' * 100_000)")
    assert obs.endswith("[... output truncated at 2000 characters]")
    assert len(obs) < 2100


def test_fresh_directory_each_run():
    run_python("open('state.txt', 'w').write('1')", LIMITS)
    r = run_python("import os\nprint(os.listdir('.'))", LIMITS)
    assert r.stdout == "[]\n"


@pytest.mark.skipif(
    os.geteuid() != 0, reason="the privilege drop only happens when running as root"
)
def test_privilege_drop_path(monkeypatch):
    # forced on: here the interpreter may live under /root (not readable by nobody), so the code
    # only uses modules the bootstrap imports before dropping
    import tinyagent.tools.python_exec as pe

    monkeypatch.setattr(pe, "_can_drop_privileges", lambda: True)
    r = run_python(
        "import os, json\nopen('a.txt', 'w').write('ok')\nprint(os.getuid(), os.getgid(), os.getgroups())",
        LIMITS,
    )
    assert r.stdout == "65534 65534 []\n", r.stderr
