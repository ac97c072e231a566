"""The python tool: model-written code runs in a bubblewrap sandbox, or not at all.

    >>> run_python("print(sum(range(10)))").stdout
    '45\\n'
    >>> python.fn(code="x = 6 * 7\\nx")                   # the last expression is printed
    '42'
    >>> run_python("open('/etc/passwd')").stderr.splitlines()[-1]
    "FileNotFoundError: [Errno 2] No such file or directory: '/etc/passwd'"

The boundary is the Linux kernel, not Python: each call starts a fresh interpreter inside new
user/pid/net/ipc/uts/cgroup/mount namespaces made by ``bwrap`` (see ``tools/sandbox.py`` for exactly
what it can see), as uid 65534 with no capabilities, no network, a read-only runtime (interpreter,
stdlib, the allowed ``packages`` -- numpy by default) and one writable folder, ``/work`` (a fresh
size-limited tmpfs, or your ``workdir``). On top of that, per process:

- **rlimits**: address space (a memory bomb gets ``MemoryError``), CPU seconds, the size of any one
  file (``RLIMIT_FSIZE``), open files, no core dumps, and processes+threads (``RLIMIT_NPROC``, set
  inside the sandbox; the kernel ignores it for root, so as root ``bwrap`` itself runs as nobody);
- a **wall-clock limit**: ``bwrap`` is killed, and with it (``--die-with-parent``, then the pid
  namespace's init) every process the code started, ``setsid()`` daemons included;
- **output caps**: at most ``max_output_chars`` of stdout and of stderr are read; past that the pipe is
  closed (the code gets ``BrokenPipeError``).

Fail closed: with no working sandbox (no ``bwrap``, user namespaces disabled, not Linux) a call raises
``SandboxUnavailableError`` saying why and how to enable it. ``allow_unsafe=True`` (CLI
``--unsafe-python``) runs the code in a plain subprocess instead -- rlimits, a temp dir and a scrubbed
environment only, NO isolation -- and prints a warning on every call.

Limits: memory is per process (up to ``max_processes x memory_mb`` in all), not a cgroup; the
seccomp filter is a deny-list, not an allow-list; a persistent ``workdir`` keeps whatever the code
left there (symlinks included: do not follow them from the host; as root it is chowned to nobody).
"""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tinyagent.tool import Tool
from tinyagent.tools.sandbox import (
    SANDBOX_UID,
    SITE,
    SandboxUnavailableError,
    bwrap_argv,
    filter_fd,
    plan_launch,
    probe,
    python_runtime,
    require_sandbox,
    sandbox_layers,
)

__all__ = [
    "SandboxLimits",
    "ExecResult",
    "SandboxUnavailableError",
    "run_python",
    "make_python_tool",
    "python",
    "sandbox_layers",
    "DEFAULT_PACKAGES",
]

DEFAULT_PACKAGES = ("numpy",)
UNSAFE_WARNING = (
    "WARNING: tinyagent's python tool is running model-written code WITHOUT isolation "
    "(allow_unsafe / --unsafe-python): it can read, change and delete anything you can."
)


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one run."""

    time_s: float = 10.0  # wall clock, for everything the code starts
    memory_mb: int = 1024  # address space of each process
    file_size_mb: int = 16  # largest file it may write
    disk_mb: int = 64  # size of the fresh /work, of /tmp and of /dev/shm (tmpfs each)
    max_processes: int = 32  # processes + threads
    max_open_files: int = 256
    max_output_chars: int = 8000  # of stdout, and of stderr


@dataclass
class ExecResult:
    """What the code printed and how it ended."""

    stdout: str
    stderr: str
    returncode: int | None
    timed_out: bool
    note: str = ""  # why it was stopped, in words (timeout, memory, file size...)


# Runs in the sandboxed interpreter before the user's code: the process limit (counted inside the
# sandbox's user namespace), the allowed packages' folder, then the code from stdin; the value of
# a trailing expression is printed, as in a notebook.
_BOOTSTRAP = r"""# tinyagent-sandbox
import sys
if sys.argv[1] != "0":
    import resource
    resource.setrlimit(resource.RLIMIT_NPROC, (int(sys.argv[1]), int(sys.argv[1])))
if sys.argv[2]:
    sys.path.insert(0, sys.argv[2])
_code = sys.stdin.read()
sys.stdin.close()
import ast, traceback
_g = {"__name__": "__main__", "__builtins__": __builtins__}
try:
    _tree = ast.parse(_code, "<code>")
    _last = _tree.body.pop() if _tree.body and isinstance(_tree.body[-1], ast.Expr) else None
    exec(compile(_tree, "<code>", "exec"), _g)
    if _last is not None:
        _v = eval(compile(ast.Expression(_last.value), "<code>", "eval"), _g)
        if _v is not None:
            print(repr(_v))
except SystemExit:
    raise
except BaseException:
    _et, _ev, _tb = sys.exc_info()
    traceback.print_exception(_et, _ev, _tb.tb_next)
    sys.exit(1)
"""


def _limit(limits: SandboxLimits, nproc: bool, setup) -> None:  # in the child, before exec
    import resource

    mb = 1024 * 1024
    cpu = int(limits.time_s) + 1
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc:  # unsafe mode only: counted over ALL your processes, and never enforced for root
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
    if setup is not None:
        setup()  # as root: private mount namespace, then become nobody (sandbox.Launch)


def _communicate(
    proc: subprocess.Popen, data: bytes, limits: SandboxLimits
) -> tuple[bytes, bytes, bool, bool]:
    """Feed stdin, read capped stdout/stderr, enforce the wall clock: (out, err, timed_out, capped)."""
    deadline = time.monotonic() + limits.time_s
    cap = limits.max_output_chars * 4 + 4  # UTF-8 is at most 4 bytes a character
    bufs = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    capped = timed_out = False
    sel = selectors.DefaultSelector()
    os.set_blocking(proc.stdin.fileno(), False)
    sel.register(proc.stdin, selectors.EVENT_WRITE)
    for f in bufs:
        sel.register(f, selectors.EVENT_READ)
    view = memoryview(data)
    while sel.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in sel.select(remaining):
            f = key.fileobj
            if f is proc.stdin:
                try:
                    view = view[os.write(f.fileno(), view[:65536]) :]
                except BrokenPipeError:
                    view = view[:0]
                if not view:
                    sel.unregister(f)
                    f.close()
                continue
            chunk = os.read(f.fileno(), 65536)
            bufs[f] += chunk
            if not chunk or len(bufs[f]) > cap:
                capped = capped or len(bufs[f]) > cap
                sel.unregister(f)
                f.close()  # past the cap the writer gets EPIPE
    sel.close()
    if not timed_out:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    _kill_group(proc)
    return bytes(bufs[proc.stdout]), bytes(bufs[proc.stderr]), timed_out, capped


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL bwrap's process group; the sandbox's pid namespace dies with it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f and not f.closed:
            f.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _decode(data: bytes, cap: int) -> str:
    text = data.decode("utf-8", errors="replace")
    if len(text) > cap or len(data) > cap * 4:
        text = text[:cap] + f"\n[... output truncated at {cap} characters]"
    return text


def _note(rc: int | None, stderr: str, timed_out: bool, capped: bool, limits: SandboxLimits) -> str:
    """Why the run was stopped, in words, for the model (every limit that was hit)."""
    notes = []
    if timed_out:
        notes.append(
            f"time limit exceeded ({limits.time_s:g} s): the process and all it started were killed"
        )
    sig = -rc if rc is not None and rc < 0 else rc - 128 if rc is not None and rc > 128 else None
    if sig in (signal.SIGXCPU, signal.SIGKILL):
        notes.append("CPU time limit exceeded: the process was killed")
    if sig == signal.SIGXFSZ or "File too large" in stderr:
        notes.append(f"file size limit exceeded ({limits.file_size_mb} MiB)")
    if "MemoryError" in stderr:
        notes.append(f"memory limit exceeded ({limits.memory_mb} MiB)")
    if "No space left on device" in stderr:
        notes.append(f"disk space limit exceeded ({limits.disk_mb} MiB in /work, /tmp)")
    if "Resource temporarily unavailable" in stderr or "can't start new thread" in stderr:
        notes.append(f"process limit reached ({limits.max_processes} processes and threads)")
    if capped:
        notes.append(
            f"output limit exceeded ({limits.max_output_chars} characters): the rest was cut off"
        )
    return "; ".join(notes)


def run_python(
    code: str,
    limits: SandboxLimits | None = None,
    workdir: str | Path | None = None,
    *,
    packages: tuple[str, ...] = DEFAULT_PACKAGES,
    allow_unsafe: bool = False,
) -> ExecResult:
    """Run ``code`` in the sandbox. ``workdir`` (bound on /work) keeps files between runs; default:
    a fresh tmpfs. Raises ``SandboxUnavailableError`` when no sandbox works and not ``allow_unsafe``."""
    limits = limits or SandboxLimits()
    if allow_unsafe and not probe().ok:
        return _run_unsafe(code, limits, workdir)
    status = require_sandbox()
    runtime = python_runtime(tuple(packages))
    launch = plan_launch(status.bwrap, runtime, status.drop_to_nobody)
    if workdir is not None:
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        if launch.drop_to_nobody:  # the sandbox is uid 65534 on the host too
            os.chown(workdir, SANDBOX_UID, SANDBOX_UID)
        launch, workdir = launch.with_workdir(workdir)
    py_args = ["-I", "-S", "-B", "-X", "utf8", "-c", _BOOTSTRAP, str(limits.max_processes), SITE]
    with filter_fd() as fd:
        argv = bwrap_argv(
            launch, runtime, py_args, workdir=workdir, tmp_mb=limits.disk_mb, seccomp_fd=fd
        )
        fds = () if fd is None else (fd,)
        return _run(argv, code, limits, cwd=None, env={}, setup=launch.preexec, pass_fds=fds)


def _run_unsafe(code: str, limits: SandboxLimits, workdir: str | Path | None) -> ExecResult:
    """No isolation at all: a plain subprocess with rlimits, a temp dir and a scrubbed environment."""
    print(UNSAFE_WARNING, file=sys.stderr, flush=True)
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="tinyagent-py-")) if own else Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
    try:
        argv = [sys.executable, "-I", "-B", "-X", "utf8", "-c", _BOOTSTRAP, "0", ""]
        return _run(argv, code, limits, cwd=work, env=env, nproc=True)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _run(
    argv, code: str, limits: SandboxLimits, cwd, env, nproc=False, setup=None, pass_fds=()
) -> ExecResult:
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=functools.partial(_limit, limits, nproc, setup),
        start_new_session=True,  # its own process group: a timeout kills all of it
        pass_fds=pass_fds,
    )
    out, err, timed_out, capped = _communicate(proc, code.encode("utf-8"), limits)
    stdout = _decode(out, limits.max_output_chars)
    stderr = _decode(err, limits.max_output_chars)
    rc = None if timed_out else proc.returncode
    return ExecResult(stdout, stderr, rc, timed_out, _note(rc, stderr, timed_out, capped, limits))


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
    limits: SandboxLimits | None = None,
    workdir: str | Path | None = None,
    *,
    packages: tuple[str, ...] = DEFAULT_PACKAGES,
    allow_unsafe: bool = False,
) -> Tool:
    """The ``python`` tool (``workdir`` keeps files between calls; see ``run_python``)."""
    limits = limits or SandboxLimits()

    def python(code: str) -> str:
        r = run_python(code, limits, workdir, packages=packages, allow_unsafe=allow_unsafe)
        return format_result(r)

    extra = f" Packages: {', '.join(packages)}." if packages else ""
    python.__doc__ = f"""Run Python code in a sandbox and return what it prints.

    No network, no subprocess tools, {limits.time_s:g} s and {limits.memory_mb} MiB limits; files
    can only be written in the current directory.{extra} The value of a final expression is printed.

    Args:
        code: the Python source to run, e.g. "import math\\nprint(math.factorial(20))".
    """
    return Tool.from_function(python)


python = make_python_tool()
