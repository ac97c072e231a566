"""Parsing that survives small models: lenient JSON extraction and stop-word clean-up.

Small instruction models rarely emit clean JSON. ``loads_lenient`` accepts, in this order:

1. plain JSON;
2. JSON inside a Markdown code fence (```json ... ```);
3. the first balanced ``{...}`` / ``[...]`` span in text that has prose around it;
4. each of those after a repair pass: single-quoted strings -> double-quoted, trailing commas
   removed, Python ``True/False/None`` -> ``true/false/null``.

    >>> loads_lenient("Sure! ```json\\n{'city': 'Paris', 'days': 3,}\\n``` hope this helps")
    {'city': 'Paris', 'days': 3}

``strip_partial_stop`` removes a stop word the backend only half produced before it hit its token
limit (``"...Action Input: {}\\nObserv"`` -> ``"...Action Input: {}"``), and ``cut_at_stop`` cuts a
continuation the backend did not stop (a model that invents its own ``Observation:``).

Limits: the repair is textual, not a full JSON5 parser: comments, unquoted keys and NaN are not
accepted; when several JSON values are in the text only the first parsable one is returned.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JSONParseError", "loads_lenient", "strip_code_fences", "repair_json"]
__all__ += ["strip_partial_stop", "cut_at_stop"]

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|python|py)?[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)


class JSONParseError(ValueError):
    """No JSON value could be recovered; the message says what was tried."""


def strip_code_fences(text: str) -> str:
    """The content of the first Markdown code fence, or ``text`` unchanged when there is none."""
    m = _FENCE.search(text)
    return m.group(1).strip() if m else text


def repair_json(text: str) -> str:
    """Single quotes -> double quotes, drop trailing commas, Python literals -> JSON literals.

    A small scanner, so quotes and commas inside strings are left alone.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":  # copy a string literal, re-quoted with double quotes
            quote, j, buf = c, i + 1, []
            while j < n and text[j] != quote:
                if text[j] == "\\" and j + 1 < n:
                    # \' is only needed inside '...'; JSON has no such escape
                    buf.append("'" if text[j + 1] == "'" else text[j : j + 2])
                    j += 2
                    continue
                buf.append('\\"' if text[j] == '"' else text[j])
                j += 1
            out.append('"' + "".join(buf) + '"')
            i = j + 1
        elif c == ",":
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            if j < n and text[j] in "}]":
                i += 1  # trailing comma
            else:
                out.append(c)
                i += 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            out.append({"True": "true", "False": "false", "None": "null"}.get(word, word))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _balanced_spans(text: str, limit: int = 32):
    """Yield up to ``limit`` substrings that start at ``{``/``[`` and end at the matching bracket."""
    found = 0
    for start, c in enumerate(text):
        if c not in "{[":
            continue
        depth, quote, i = 0, None, start
        while i < len(text):
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = None
            elif ch in "\"'":
                quote = ch
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    yield text[start : i + 1]
                    found += 1
                    break
            i += 1
        if found >= limit:
            return


def loads_lenient(text: str) -> Any:
    """Parse the first JSON value in ``text``, repairing small-model mistakes; raise JSONParseError."""
    if not isinstance(text, str):
        raise JSONParseError(f"expected text, got {type(text).__name__}")
    stripped = text.strip()
    try:  # the common case first: clean JSON costs one json.loads
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    candidates = [stripped]
    fenced = strip_code_fences(stripped)
    if fenced != stripped:
        candidates.append(fenced)
    for cand in candidates:
        for attempt in (cand, repair_json(cand)):
            try:
                return json.loads(attempt)
            except json.JSONDecodeError:
                pass
    for cand in candidates:
        for span in _balanced_spans(cand):
            for attempt in (span, repair_json(span)):
                try:
                    return json.loads(attempt)
                except json.JSONDecodeError:
                    pass
    snippet = stripped if len(stripped) <= 80 else stripped[:77] + "..."
    raise JSONParseError(
        f"could not find valid JSON in {snippet!r} (tried plain JSON, code fences, the first "
        "balanced {...}/[...] span, and repairing quotes/trailing commas)"
    )


def strip_partial_stop(text: str, stop_words: list[str]) -> str:
    """Remove a trailing prefix of any stop word (a stop word the model only half generated).

    Only prefixes of at least 3 characters count (after stripping leading newlines from the stop
    word), so ordinary words that end in "Ob" are not cut.
    """
    best = len(text)
    for stop in stop_words:
        core = stop.strip("\n")
        for k in range(len(core), 2, -1):
            if text.endswith(core[:k]):
                best = min(best, len(text) - k)
                break
    return text[:best].rstrip()


def cut_at_stop(text: str, stop_words: list[str]) -> str:
    """Cut ``text`` at the first full occurrence of any stop word."""
    cut = len(text)
    for stop in stop_words:
        pos = text.find(stop)
        if pos != -1:
            cut = min(cut, pos)
    return text[:cut]
