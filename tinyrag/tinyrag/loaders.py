"""Document loaders: txt, md, pdf (pypdf), docx (python-docx), html, json/jsonl -> ``Document``s.

Every ``Document`` carries the exact text that chunk offsets refer to, its source path, and the
page number for PDFs (one ``Document`` per page, 1-based). For ``.txt``/``.md`` the text is the file
decoded as it is (``newline=""``: ``\\r\\n`` kept), so ``open(path, newline="").read()[start:end]``
is the chunk text. UTF-8 (with or without BOM) is tried first, then GB18030 for older Chinese files.

``load_directory`` walks a folder, loads every supported file, and reports the files that fail to
parse instead of stopping:

    >>> docs, errors = load_directory("notes/")          # doctest: +SKIP
    >>> errors                                            # doctest: +SKIP
    [('notes/broken.pdf', 'PdfReadError: EOF marker not found')]

JSON: a list of records, a ``{"data": [...]}`` wrapper, or one record; JSONL: one record per line.
A record's text is its first present field among ``text, content, context, body, passage`` (a plain
string record is its own text); ``id`` and ``title`` are kept as metadata.

DOCX: paragraphs in document order, one per line pair (``\n\n``); a paragraph styled "Heading N"
becomes a markdown heading (``## text``) so chunks carry heading paths; tables follow the body as
one line per row, cells joined by `` | ``. The core property ``title`` is kept as metadata.

``scan`` splits a folder into supported files and the others, so an index build can say which files
it skipped and why (``.doc``, images, ...).

Limits: HTML goes through ``html.parser`` (no CSS layout; script/style dropped, block tags become
line breaks). PDF text is whatever pypdf extracts (no OCR for scanned pages).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

SUPPORTED = {".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", ".json", ".jsonl"}
TEXT_FIELDS = ("text", "content", "context", "body", "passage")


@dataclass
class Document:
    text: str
    source: str  # path as given (relative to the indexed folder in an index)
    page: int | None = None  # 1-based page for PDFs
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_markdown(self) -> bool:
        return self.source.lower().endswith((".md", ".markdown", ".docx"))


class LoadError(ValueError):
    """A file that could not be parsed; the message names the file (and line/field)."""


def read_text(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise LoadError(f"{path}: not UTF-8 or GB18030 text")


def load_file(path: str | Path, source: str | None = None) -> list[Document]:
    """Load one file; raises ``LoadError`` naming the file when it cannot be parsed."""
    path = Path(path)
    source = source or str(path)
    ext = path.suffix.lower()
    try:
        if ext in (".txt", ".md", ".markdown"):
            return [Document(read_text(path), source)]
        if ext == ".pdf":
            return _load_pdf(path, source)
        if ext == ".docx":
            return _load_docx(path, source)
        if ext in (".html", ".htm"):
            text, title = html_to_text(read_text(path))
            return [Document(text, source, meta={"title": title} if title else {})]
        if ext == ".jsonl":
            docs = []
            for i, line in enumerate(read_text(path).splitlines(), 1):
                if line.strip():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise LoadError(f"{path}:{i}: invalid JSON ({e.msg})") from None
                    docs.append(_record(rec, source, f"{path}:{i}"))
            return docs
        if ext == ".json":
            try:
                data = json.loads(read_text(path))
            except json.JSONDecodeError as e:
                raise LoadError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            records = data if isinstance(data, list) else [data]
            return [_record(r, source, f"{path}[{i}]") for i, r in enumerate(records)]
    except LoadError:
        raise
    except Exception as e:  # pypdf and friends raise many types; report, don't crash the build
        raise LoadError(f"{path}: {type(e).__name__}: {e}") from e
    raise LoadError(f"{path}: unsupported file type {ext!r} (supported: {sorted(SUPPORTED)})")


def _record(rec: Any, source: str, where: str) -> Document:
    if isinstance(rec, str):
        return Document(rec, source)
    if not isinstance(rec, dict):
        raise LoadError(f"{where}: expected an object or string, got {type(rec).__name__}")
    for f in TEXT_FIELDS:
        if isinstance(rec.get(f), str):
            meta = {k: rec[k] for k in ("id", "title") if isinstance(rec.get(k), (str, int))}
            return Document(rec[f], source, meta=meta)
    raise LoadError(f"{where}: no text field (looked for {', '.join(TEXT_FIELDS)})")


def _load_pdf(path: Path, source: str) -> list[Document]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return [
        Document(page.extract_text() or "", source, page=i)
        for i, page in enumerate(reader.pages, 1)
    ]


def _load_docx(path: Path, source: str) -> list[Document]:
    import docx  # python-docx

    d = docx.Document(str(path))
    parts = []
    for p in d.paragraphs:
        text = p.text.strip()
        if not text:
            continue
        style = (p.style.name if p.style is not None else "") or ""
        level = style[len("Heading ") :] if style.startswith("Heading ") else ""
        parts.append(f"{'#' * min(int(level), 6)} {text}" if level.isdigit() else text)
    for table in d.tables:
        rows = [" | ".join(c.text.strip() for c in row.cells) for row in table.rows]
        parts.append("\n".join(rows))
    title = d.core_properties.title
    return [Document("\n\n".join(parts), source, meta={"title": title} if title else {})]


_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "hr", "dt", "dd", "title",
}  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "noscript"):
            self.skip += 1
        if tag == "title":
            self.in_title = True
        if tag in _BLOCK:
            self.parts.append("\n\n" if tag.startswith("h") or tag == "p" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript"):
            self.skip = max(0, self.skip - 1)
        if tag == "title":
            self.in_title = False
        if tag in _BLOCK:
            self.parts.append("\n\n" if tag.startswith("h") or tag == "p" else "\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(visible text with block breaks, <title>) of an HTML page."""
    p = _TextExtractor()
    p.feed(html)
    p.close()
    lines = [" ".join(line.split()) for line in "".join(p.parts).split("\n")]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip(), " ".join("".join(p.title).split())


def scan(root: str | Path) -> tuple[list[Path], list[Path]]:
    """(supported files, other files) under ``root``, sorted; hidden files and folders skipped."""
    root = Path(root)
    if root.is_file():
        return ([root], []) if root.suffix.lower() in SUPPORTED else ([], [root])
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such file or folder")
    supported, other = [], []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts):
            (supported if p.suffix.lower() in SUPPORTED else other).append(p)
    return supported, other


def unsupported_reason(path: Path) -> str:
    """Why a file is not indexed (one line, for the build report)."""
    ext = path.suffix.lower() or "(no extension)"
    hint = " -- save it as .docx" if ext == ".doc" else ""
    return f"unsupported file type {ext}{hint} (supported: {' '.join(sorted(SUPPORTED))})"


def iter_files(root: str | Path) -> list[Path]:
    """Supported files under ``root`` (sorted; hidden files and folders skipped). A single file
    is returned as given, whatever its type (loading it then names the problem)."""
    root = Path(root)
    if root.is_file():
        return [root]
    return scan(root)[0]


def load_directory(root: str | Path) -> tuple[list[Document], list[tuple[str, str]]]:
    """All documents under ``root`` plus ``(path, reason)`` for each file that failed to parse."""
    docs: list[Document] = []
    errors: list[tuple[str, str]] = []
    for p in iter_files(root):
        try:
            docs.extend(load_file(p))
        except LoadError as e:
            errors.append((str(p), str(e)))
    return docs, errors
