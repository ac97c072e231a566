"""User errors: one ``error: ...`` line and exit code 2 in every CLI of the project, no traceback.

    >>> from tinyqwen.errors import UserError, run_cli
    >>> def main(argv):
    ...     raise UserError("runs/x/config.json: missing field 'dim'", hint="re-run pretrain")
    >>> run_cli(main, [])  # prints "error: runs/x/config.json: missing field 'dim' (hint: ...)"
    2

A *user error* is something the person at the keyboard can fix: a missing file, a bad flag value, a
config field of the wrong type, an endpoint that does not answer. Code raises :class:`UserError`
(or one of the exceptions :func:`user_errors` lists: ``FileNotFoundError``,
``ValueError``, ``DownloadError``, ``OpenAIAPIError``, ...) with a message that names the file / URL /
field; each CLI's ``main`` runs under :func:`run_cli`, which prints the message and returns 2.
Anything else is a bug and keeps its traceback. ``KeyboardInterrupt`` exits 130 with one line,
and a closed stdout (``| head``) exits quietly.

Limits: the catch is by type, so a ``ValueError`` from a bug deep inside a library also prints as
one line (run with ``TINYU_TRACEBACK=1`` to see the traceback).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence


class UserError(Exception):
    """A mistake the user can fix; ``hint`` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message if not hint else f"{message} (hint: {hint})")


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types a CLI reports as one line. ``DownloadError`` and ``OpenAIAPIError`` are
    ``UserError`` subclasses, so this module imports nothing of tinyqwen (no import circle)."""
    return (
        UserError,
        FileNotFoundError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
        FileExistsError,
        ValueError,
    )


def run_cli(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; a user error becomes ``error: <message>`` on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head -1`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except user_errors() as e:
        if os.environ.get("TINYU_TRACEBACK"):
            raise
        message = str(e) or type(e).__name__
        if message.startswith("error: "):
            message = message[len("error: ") :]
        print(f"error: {message}", file=sys.stderr)
        return 2
