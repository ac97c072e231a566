"""Atomic file writes: a temporary file in the same folder, fsync, then ``os.replace``.

A reader (or a run killed half-way) sees either the old file or the complete new one, never a
half-written file. Every writer in the project goes through these three functions:

- :func:`atomic_write_text` / :func:`atomic_write_bytes` for content already in memory;
- :func:`atomic_path`, a context manager yielding a temporary path, for writers that want a
  filename (safetensors ``save_file``, matplotlib ``savefig``, ``csv`` through ``open``).

Example::

    >>> from pathlib import Path
    >>> from tinyqwen.atomic import atomic_path, atomic_write_text
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> atomic_write_text(d / "config.json", "{}\\n")
    >>> with atomic_path(d / "weights.bin") as tmp:
    ...     _ = tmp.write_bytes(b"\\x00" * 4)
    >>> sorted(p.name for p in d.iterdir())
    ['config.json', 'weights.bin']

Semantics: the parent folder is created if missing; the temporary file is named
``.<name>.<random><suffix>.tmp``-style (hidden, in the target's folder, so the final rename never
crosses file systems); its data is fsync'ed before the rename and the folder is fsync'ed after it
(best effort); the result has mode ``0o644`` (``mkstemp`` alone would leave ``0o600``); on any
exception the temporary file is removed and the previous file, if any, is left untouched. Text is
written without newline translation.

Limits: one file at a time (no multi-file transactions: for a folder of files, write a temporary
folder and rename it). ``os.replace`` is atomic on POSIX and on Windows within one volume, but on
network file systems durability depends on the server. The mode is fixed at ``0o644`` and the
umask is not consulted; an existing file's owner, mode and extended attributes are not carried
over. Concurrent writers do not corrupt each other, but the last ``os.replace`` wins.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FILE_MODE", "atomic_path", "atomic_write_bytes", "atomic_write_text"]

FILE_MODE = 0o644  # ordinary, shareable files (mkstemp's default is 0o600)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], suffix: str = "", *, fsync: bool = True
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path`` atomically.

    The temporary file already exists (empty) when yielded; the caller's writer overwrites it.
    ``suffix`` is appended to the temporary name (e.g. ``".png"`` for writers that pick a format
    from the extension). If the ``with`` body raises, the temporary file is deleted and ``path``
    is left as it was. With ``fsync=False`` the data is not forced to disk before the rename
    (faster, but a power loss may then leave an empty or partial file under the final name).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f"{suffix}.tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, encoding: str = "utf-8", *, fsync: bool = True
) -> None:
    """Write ``text`` to ``path`` atomically, encoded with ``encoding`` and no newline translation."""
    atomic_write_bytes(path, text.encode(encoding), fsync=fsync)
