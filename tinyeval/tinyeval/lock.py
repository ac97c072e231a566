"""One run per output folder: an exclusive ``flock`` on ``OUT/.tinyeval.lock``.

Two ``tinyeval run`` on the same ``--out`` would append the same examples twice. The first run
takes the lock; a second one fails at once with a one-line error naming the folder and the pid
that holds it. The kernel drops the lock when its process dies (even ``kill -9``), so there is no
stale lock to clean up; the file itself stays (it only records the last holder's pid).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with run_lock(d):
    ...     with run_lock(d):  # the same process may re-enter (cmd_run, then run_task)
    ...         pass

Limits: POSIX ``fcntl.flock``; on a network filesystem without flock support the lock is
advisory at best. Windows has no ``fcntl``: there the lock is skipped with no protection.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tinyqwen.errors import UserError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".tinyeval.lock"
_held: set[str] = set()  # lock files this process holds


class RunLockedError(UserError):
    """Another process is running on the same output folder."""


@contextlib.contextmanager
def run_lock(out_dir: str | Path) -> Iterator[None]:
    """Hold the folder's lock for the block; ``RunLockedError`` if another process has it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    key = str(path.resolve())
    if key in _held:  # re-entered by this process: the outer block owns the lock
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                raise RunLockedError(
                    f"{out_dir} is in use by another tinyeval run (pid {holder}); wait for it "
                    "to finish or pass another --out"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
    finally:
        os.close(fd)  # closing the descriptor releases the flock
