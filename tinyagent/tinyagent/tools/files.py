"""Local file search and reading, confined to one folder.

    >>> search_tool, read_tool = make_file_tools("docs/")          # doctest: +SKIP
    >>> search_tool.fn(query="rope_theta")                          # doctest: +SKIP
    'config.md:12: rope_theta is the base of the rotary ...'

``search_files`` matches the query (case-insensitive substring; several words must all appear in the
line) against file names and lines of text files under the root; ``read_file`` returns numbered
lines of one file. Paths are resolved and must stay inside the root (``..`` and symlinks that leave
it are refused by both tools: ``search_files`` skips them).

Limits: plain substring search, not ranking (see ``tinyrag`` for BM25/embeddings); files over
``MAX_FILE_BYTES`` and binary files (a NUL byte in the first 4 KiB) are skipped; hidden directories
(``.git``, ``.venv``...) are not searched.
"""

from __future__ import annotations

from pathlib import Path

from tinyagent.tool import Tool

__all__ = ["make_file_tools", "search_files", "read_file"]

MAX_FILE_BYTES = 2_000_000


def _inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise PermissionError(f"{rel!r} is outside the searchable folder {str(root)!r}")
    return path


def _text_files(root: Path, pattern: str):
    for path in sorted(root.glob(pattern)):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        real = path.resolve()
        if real != root and root not in real.parents:
            continue  # a symlink (to a file or via a folder) leading outside the root: refused
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            with path.open("rb") as f:
                if b"\0" in f.read(4096):
                    continue
        except OSError:
            continue
        yield path, rel


def search_files(root: str | Path, query: str, pattern: str = "**/*", max_results: int = 20) -> str:
    """``path:line: text`` for lines (and file names) containing every word of ``query``."""
    root = Path(root).resolve()
    words = query.lower().split()
    if not words:
        raise ValueError("query is empty")
    hits: list[str] = []
    for path, rel in _text_files(root, pattern):
        if all(w in str(rel).lower() for w in words):
            hits.append(f"{rel}: (file name matches)")
        for n, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            low = line.lower()
            if all(w in low for w in words):
                text = line.strip()
                hits.append(f"{rel}:{n}: {text[:200]}{'...' if len(text) > 200 else ''}")
                if len(hits) >= max_results:
                    return "\n".join(hits) + f"\n[stopped at {max_results} matches]"
    return "\n".join(hits) if hits else f"No matches for {query!r} under {root}."


def read_file(root: str | Path, path: str, start_line: int = 1, max_lines: int = 200) -> str:
    """Numbered lines ``start_line .. start_line + max_lines - 1`` of ``path`` (relative to root)."""
    full = _inside(Path(root).resolve(), path)
    if not full.is_file():
        raise FileNotFoundError(f"no such file under the folder: {path!r}")
    lines = full.read_text("utf-8", errors="replace").splitlines()
    start = max(start_line, 1)
    chunk = lines[start - 1 : start - 1 + max_lines]
    out = [f"{i}: {line}" for i, line in enumerate(chunk, start)]
    if start - 1 + max_lines < len(lines):
        out.append(f"[... {len(lines) - (start - 1 + max_lines)} more lines]")
    return "\n".join(out) if out else f"(file has {len(lines)} lines)"


def make_file_tools(root: str | Path) -> list[Tool]:
    """``search_files`` and ``read_file`` tools bound to the folder ``root``."""
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        raise NotADirectoryError(f"file tools need a folder, got {str(root)!r}")

    def search_files_tool(query: str, pattern: str = "**/*") -> str:
        """Search the local files for lines containing all words of the query.

        Args:
            query: words to look for (case-insensitive).
            pattern: a glob limiting which files are searched, e.g. "**/*.md".
        """
        return search_files(base, query, pattern)

    def read_file_tool(path: str, start_line: int = 1, max_lines: int = 200) -> str:
        """Read a local file (numbered lines).

        Args:
            path: the file path relative to the folder, as shown by search_files.
            start_line: the first line to show (1-based).
            max_lines: how many lines to show.
        """
        return read_file(base, path, start_line, max_lines)

    return [
        Tool.from_function(search_files_tool, name="search_files"),
        Tool.from_function(read_file_tool, name="read_file"),
    ]
