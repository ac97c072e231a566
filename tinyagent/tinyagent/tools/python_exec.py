"""A python tool that runs model-written code in a separate, limited process.

    >>> run_python("print(sum(range(10)))").stdout
    '45\\n'
    >>> python("x = 6 * 7\\nx")      # the last expression is printed, as in a notebook
    '42'

Layers, from strongest to weakest (``sandbox_layers()`` says which are active on this machine):

1. **Separate process** with a wall-clock time limit; on timeout the whole process group is killed.
2. **rlimits** set in the child before ``exec``: address space (``RLIMIT_AS``, memory bombs fail with
   MemoryError), CPU seconds, size of any file written (``RLIMIT_FSIZE``), open files, no core dumps,
   number of processes (``RLIMIT_NPROC``; note the kernel does not apply it to root).
3. **Linux namespaces** when ``unshare`` works here (root, or unprivileged user namespaces): a new
   network namespace (no interfaces but a down loopback: nothing is reachable) and a new PID
   namespace with its own ``/proc`` (the code cannot see, signal or read the parent's
   ``/proc/<pid>/environ``; killing it kills every process it started).
4. **Privilege drop** to ``nobody`` when running as root and the interpreter is readable by others
   (then RLIMIT_NPROC applies and file permissions protect the rest of the disk).
5. **A fresh temp working directory** (deleted afterwards unless you pass ``workdir``) and a
   **scrubbed environment** (only PATH, HOME=workdir, LANG; the parent's secrets are not inherited).
6. **Audit hooks** (PEP 578) installed before the code runs: process creation (``os.fork``,
   ``os.system``, ``subprocess``, ``os.exec*``, ``posix_spawn``), sockets, ``ctypes``, raising
   rlimits, writing/renaming/removing outside the working directory, and reading other processes'
   ``/proc`` entries raise ``PermissionError``.

Honest limits: audit hooks are a speed bump, not a security boundary -- determined code running in
the same interpreter can tamper with them (they are there to turn common mistakes and naive attacks
into clear errors). Without namespaces (e.g. macOS, or containers that forbid ``unshare``) network and
``/proc`` isolation rest on the audit hook alone, and as root without a privilege drop, so does file
confinement. For untrusted code at scale use a VM or container runtime (gVisor, Firecracker,
nsjail). Linux-only (uses ``resource`` and ``preexec_fn``).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinyagent.tool import Tool

__all__ = [
    "SandboxLimits",
    "ExecResult",
    "run_python",
    "make_python_tool",
    "python",
    "sandbox_layers",
]

NOBODY = 65534


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one run."""

    time_s: float = 10.0
    memory_mb: int = 1024
    file_size_mb: int = 16
    max_processes: int = 32
    max_open_files: int = 256
    max_output_chars: int = 8000


@dataclass
class ExecResult:
    """What the code printed and how it ended."""

    stdout: str
    stderr: str
    returncode: int | None
    timed_out: bool
    note: str = ""  # why it was stopped, in words (timeout, memory, file size...)


# The child's bootstrap. It runs before the user's code: installs the audit hook, optionally drops
# privileges, then executes the code (stdin) and prints the value of a trailing expression.
_BOOTSTRAP = r"""
import os, sys
_code = sys.stdin.read()
sys.stdin.close()
_WORK = os.path.realpath(os.getcwd())
_DROP = sys.argv[1] == "1"
if _DROP:
    for _m in ("ast", "math", "json", "re", "random", "statistics", "datetime", "collections",
               "itertools", "functools", "fractions", "decimal", "string", "textwrap", "traceback"):
        __import__(_m)
    os.setgroups([]); os.setgid(%(nobody)d); os.setuid(%(nobody)d)
import ast, traceback

def _hook(event, args, _work=_WORK, _pid=str(os.getpid()), _real=os.path.realpath,
          _blocked=frozenset({"ctypes", "_ctypes", "_posixsubprocess", "cffi", "_cffi_backend"})):
    def inside(p):
        r = _real(os.fsdecode(p))
        return r == _work or r.startswith(_work + os.sep)
    if event == "open":
        path, mode, flags = args
        if not isinstance(path, (str, bytes)):
            return
        r = _real(os.fsdecode(path))
        parts = r.split(os.sep)
        if len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] != _pid:
            raise PermissionError(f"sandbox: reading another process's /proc entry is not allowed: {path}")
        writing = (mode is not None and any(c in mode for c in "wax+")) or (
            mode is None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))
        if writing and not inside(path):
            raise PermissionError(f"sandbox: writing outside the working directory is not allowed: {path}")
    elif event in ("os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                   "subprocess.Popen", "pty.spawn"):
        raise PermissionError(f"sandbox: starting processes is not allowed ({event})")
    elif event.startswith("socket.") and event not in ("socket.gethostname",):
        raise PermissionError(f"sandbox: network access is not allowed ({event})")
    elif event in ("resource.setrlimit", "resource.prlimit"):
        raise PermissionError("sandbox: changing resource limits is not allowed")
    elif event == "import" and args[0].split(".")[0] in _blocked:
        raise ImportError(f"sandbox: module {args[0]!r} is not allowed")
    elif event in ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
                   "os.chmod", "os.chown", "os.truncate", "os.utime", "shutil.rmtree",
                   "os.chflags", "os.lchflags", "os.setxattr", "os.removexattr"):
        for p in args:
            if isinstance(p, (str, bytes)) and not inside(p):
                raise PermissionError(f"sandbox: {event} outside the working directory is not allowed: {p!r}")

sys.addaudithook(_hook)
del _hook
_g = {"__name__": "__main__", "__builtins__": __builtins__}
try:
    _tree = ast.parse(_code, "<code>")
    _last = _tree.body.pop() if _tree.body and isinstance(_tree.body[-1], ast.Expr) else None
    exec(compile(_tree, "<code>", "exec"), _g)
    if _last is not None:
        _v = eval(compile(ast.Expression(_last.value), "<code>", "eval"), _g)
        if _v is not None:
            print(repr(_v))
except SystemExit as _e:
    raise
except BaseException:
    _et, _ev, _tb = sys.exc_info()
    traceback.print_exception(_et, _ev, _tb.tb_next)
    sys.exit(1)
""" % {"nobody": NOBODY}  # noqa: UP031 (the template is full of braces)


@functools.lru_cache(maxsize=1)
def _unshare_prefix() -> tuple[str, ...]:
    """The ``unshare`` command that works here (net + pid namespaces), or () when none does."""
    exe = shutil.which("unshare")
    if exe is None or not sys.platform.startswith("linux"):
        return ()
    base = ("--net", "--pid", "--fork", "--mount-proc", "--kill-child")
    options = [(exe, *base)] if os.geteuid() == 0 else []
    options.append((exe, "--map-root-user", *base))
    for prefix in options:
        try:
            r = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return prefix
    return ()


@functools.lru_cache(maxsize=1)
def _can_drop_privileges() -> bool:
    """Root, and every directory up to the interpreter and its stdlib is usable by ``nobody``."""
    if os.geteuid() != 0:
        return False
    for target in (Path(os.path.realpath(sys.executable)), Path(os.__file__).resolve()):
        for parent in [*target.parents]:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        if not os.stat(target).st_mode & stat.S_IROTH:
            return False
    return True


def sandbox_layers() -> dict[str, bool]:
    """Which isolation layers are active on this machine (for docs, the CLI and tests)."""
    return {
        "process+timeout": True,
        "rlimits": True,
        "namespaces(net,pid)": bool(_unshare_prefix()),
        "privilege_drop": _can_drop_privileges(),
        "rlimit_nproc_enforced": os.geteuid() != 0 or _can_drop_privileges(),
        "audit_hooks": True,
        "scrubbed_env": True,
    }


def _limit(limits: SandboxLimits) -> None:  # runs in the child between fork and exec
    import resource

    mb = 1024 * 1024
    cpu = int(limits.time_s) + 1
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))


def _read_capped(path: Path, cap: int) -> str:
    with path.open("rb") as f:
        data = f.read(cap * 4 + 4)  # UTF-8 is at most 4 bytes a character
        rest = os.fstat(f.fileno()).st_size - len(data)
    text = data.decode("utf-8", errors="replace")
    if len(text) > cap or rest > 0:
        text = text[:cap] + f"\n[... output truncated at {cap} characters]"
    return text


def run_python(
    code: str, limits: SandboxLimits | None = None, workdir: str | Path | None = None
) -> ExecResult:
    """Run ``code`` in the sandbox; ``workdir`` persists files between runs (default: a fresh temp dir)."""
    limits = limits or SandboxLimits()
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="tinyagent-py-")) if own_dir else Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    drop = _can_drop_privileges()
    if drop:
        os.chown(work, NOBODY, NOBODY)
    io_dir = Path(tempfile.mkdtemp(prefix="tinyagent-io-"))  # outside the sandbox's reach
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
    env["PYTHONIOENCODING"] = "utf-8"
    cmd = [*_unshare_prefix(), sys.executable, "-I", "-B", "-c", _BOOTSTRAP, "1" if drop else "0"]
    try:
        with (io_dir / "out").open("wb") as out, (io_dir / "err").open("wb") as err:
            proc = subprocess.Popen(
                cmd,
                cwd=work,
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                preexec_fn=functools.partial(_limit, limits),
                start_new_session=True,  # its own process group, so a timeout kills everything
            )
            timed_out = False
            try:
                proc.stdin.write(code.encode("utf-8"))
                proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                rc = proc.wait(timeout=limits.time_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                rc = None
            _kill_group(proc)
        stdout = _read_capped(io_dir / "out", limits.max_output_chars)
        stderr = _read_capped(io_dir / "err", limits.max_output_chars)
    finally:
        shutil.rmtree(io_dir, ignore_errors=True)
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
    note = ""
    if timed_out:
        note = f"time limit exceeded ({limits.time_s:g} s): the process was killed"
    elif rc == -signal.SIGXCPU or rc == -signal.SIGKILL:
        note = "CPU time limit exceeded: the process was killed"
    elif rc == -signal.SIGXFSZ:
        note = f"file size limit exceeded ({limits.file_size_mb} MiB): the process was killed"
    elif "MemoryError" in stderr:
        note = f"memory limit exceeded ({limits.memory_mb} MiB)"
    return ExecResult(stdout, stderr, rc, timed_out, note)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def format_result(r: ExecResult) -> str:
    """The observation text: output, then errors, then why it was stopped."""
    parts = []
    if r.stdout:
        parts.append(r.stdout.rstrip("\n"))
    if r.stderr:
        parts.append(("Error:\n" if r.returncode else "stderr:\n") + r.stderr.rstrip("\n"))
    if r.note:
        parts.append(f"Error: {r.note}")
    elif r.returncode not in (0, None) and not r.stderr:
        parts.append(f"Error: the process exited with status {r.returncode}")
    return "\n".join(parts) if parts else "(no output; print() what you want to see)"


def make_python_tool(
    limits: SandboxLimits | None = None, workdir: str | Path | None = None
) -> Tool:
    """The ``python`` tool with the given limits (``workdir`` keeps files between calls)."""
    limits = limits or SandboxLimits()

    def python(code: str) -> str:
        return format_result(run_python(code, limits, workdir))

    python.__doc__ = f"""Run Python code in a sandbox and return what it prints.

    No network, no subprocesses, {limits.time_s:g} s and {limits.memory_mb} MiB limits; files can only
    be written in the current directory. The value of a final expression is printed.

    Args:
        code: the Python source to run, e.g. "import math\\nprint(math.factorial(20))".
    """
    return Tool.from_function(python)


python = make_python_tool()
