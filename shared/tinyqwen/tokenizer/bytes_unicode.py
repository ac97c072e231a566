"""GPT-2's reversible byte <-> unicode map, used by byte-level BPE vocabularies (GPT-2, Qwen2, Llama 3).

Byte-level BPE works on raw UTF-8 bytes, but vocab.json / tokenizer.json / merges.txt are text files,
and a merges.txt line ``a b`` must not contain a space or control character inside ``a``. GPT-2
therefore maps every byte 0..255 to one printable unicode character: the 188 bytes that are
already printable (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) map to themselves, the other 68
(space, control bytes, ...) map to U+0100, U+0101, ... in byte order. So the space byte 0x20 is
``Ġ`` (U+0120), newline 0x0A is ``Ċ`` (U+010A), and the token ``b" world"`` is spelled ``Ġworld``.

    >>> token_bytes_to_str(b" world")
    'Ġworld'
    >>> token_str_to_bytes("ä½łå¥½").decode("utf-8")       # how "你好" looks inside vocab.json
    '你好'

The byte order of ``BYTE_ORDER`` (printable bytes first) is also the order in which Qwen's
qwen.tiktoken, and our trainer, number the 256 single-byte tokens: ``!`` is id 0.
Limits: this is only the spelling of bytes in files; it says nothing about merges.
"""

from __future__ import annotations


def _bytes_to_unicode() -> dict[int, str]:
    # Printable latin-1 bytes keep their own code point; the rest are shifted past 255, in order.
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return table


BYTE_TO_CHAR: dict[int, str] = _bytes_to_unicode()
CHAR_TO_BYTE: dict[str, int] = {c: b for b, c in BYTE_TO_CHAR.items()}
# Printable bytes first, then the shifted ones: the id order of the 256 base tokens in Qwen's vocab.
BYTE_ORDER: list[int] = sorted(BYTE_TO_CHAR, key=lambda b: ord(BYTE_TO_CHAR[b]))

# Indexable by byte value: a list lookup is faster than a dict lookup in the hot join below.
_ENCODE_TABLE = [BYTE_TO_CHAR[b] for b in range(256)]


def token_bytes_to_str(token: bytes) -> str:
    """Spell raw token bytes the way vocab.json / tokenizer.json do (``b" a"`` -> ``"Ġa"``)."""
    return "".join([_ENCODE_TABLE[b] for b in token])


def token_str_to_bytes(token: str) -> bytes:
    """Inverse of :func:`token_bytes_to_str`; raises ValueError on a character outside the map."""
    try:
        return bytes([CHAR_TO_BYTE[c] for c in token])
    except KeyError as e:
        raise ValueError(
            f"token {token!r} contains {e.args[0]!r}, which is not a GPT-2 byte-level character; "
            "is this really a byte-level BPE vocabulary?"
        ) from None
