"""Qwen2's byte-level BPE tokenizer, by hand: load, encode, decode, stream-decode, save.

It gives exactly the ids of Qwen's own tokenizer (tests compare with tiktoken and HF ``tokenizers``
on the real Qwen vocabulary) and reads every format a Qwen checkpoint ships:

- ``tokenizer.json`` (HF ``tokenizers``), plus ``tokenizer_config.json`` when present;
- ``vocab.json`` + ``merges.txt`` (+ ``tokenizer_config.json`` for added tokens, eos, pad);
- a tiktoken rank file ``*.tiktoken`` (one ``base64(token_bytes) rank`` per line), see
  :meth:`Tokenizer.from_tiktoken` for where its special tokens come from.

Encoding ``text``: (1) split out added tokens the caller allowed; (2) NFC-normalise each plain
segment, as Qwen2's tokenizer.json (normalizer NFC) and Qwen2Tokenizer do; (3) cut it into
pre-tokens with :data:`~tinyqwen.tokenizer.bpe.QWEN2_PATTERN`; (4) BPE-merge each pre-token's UTF-8 bytes
(:mod:`tinyqwen.tokenizer.bpe`; multi-byte characters start pre-merged where that provably changes nothing,
:mod:`tinyqwen.tokenizer.char_premerge`), memoised per pre-token string. No BOS/EOS is ever added.

    >>> tok = Tokenizer.from_pretrained("tiny-random")          # or a Qwen2.5 checkpoint dir
    >>> ids = tok.encode("<|im_start|>user\\n你好<|im_end|>", allowed_special="all")
    >>> tok.decode(ids)
    '<|im_start|>user\\n你好<|im_end|>'
    >>> tok.encode("<|im_start|>") == [tok.special_tokens["<|im_start|>"]]   # plain text by default
    False

See a text split into pre-tokens, tokens and ids (any tokenizer path works)::

    python -m tinyqwen.tokenizer "你好，Qwen2.5！Hello world 🙂"

Special/added tokens are plain text unless listed in ``allowed_special``, so a user message or a
retrieved document can never inject a chat turn; only templates pass ``allowed_special``.
Limits: byte-level BPE only (GPT-2 / Qwen2 / Llama-3 style); added tokens are matched as exact
strings (no lstrip/rstrip/single_word); pure Python + ``regex``: about 0.3x tiktoken's speed on
a cold cache, 0.4-0.5x warm (bench/bench_tokenizer.py).
"""

from __future__ import annotations

import base64
import codecs
import json
import unicodedata
from collections.abc import Collection, Sequence
from pathlib import Path

import regex

from tinyqwen.atomic import atomic_write_text
from tinyqwen.tokenizer.bpe import QWEN2_PATTERN, MergeTable, bpe_merge, recover_merges
from tinyqwen.tokenizer.bytes_unicode import token_bytes_to_str, token_str_to_bytes
from tinyqwen.tokenizer.char_premerge import CharPremerge
from tinyqwen.tokenizer.tokenizer_files import (
    AddedToken,
    added_from_hf,
    by_id,
    hf_tokenizer_config,
    hf_tokenizer_json,
    parse_merge,
    pattern_from_pre_tokenizer,
    pretty,
    read_config,
    read_json,
    vocab_from_strings,
)

TINY_RANDOM_DIR = Path(__file__).resolve().parents[1] / "assets" / "tiny-random"

# Qwen2.5's added tokens, in id order from 151643 (Qwen2.5-*-Instruct tokenizer_config.json,
# added_tokens_decoder). The flag is HF's "special": skip_special_tokens drops only those.
QWEN25_ADDED_TOKENS: list[tuple[str, bool]] = [
    ("<|endoftext|>", True),  # 151643, pad; eos of base models
    ("<|im_start|>", True),  # 151644
    ("<|im_end|>", True),  # 151645, eos of -Instruct models
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),  # 151656
    ("<tool_call>", False),  # 151657
    ("</tool_call>", False),  # 151658
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),  # 151664
]
QWEN_NUM_RANKS = 151643  # regular tokens in Qwen (1, 1.5, 2, 2.5) vocabularies: ids 0..151642

_CACHE_MAX = 1 << 17  # memoised pre-tokens; the cache is simply cleared when full


class Tokenizer:
    """Byte-level BPE tokenizer (see the module docstring). Build it with a ``from_*`` method.

    Args:
        vocab: regular tokens, raw bytes -> id (all 256 single bytes must be present).
        merges: HF merges in rank order; ``None`` means tiktoken semantics (any split of a token
            into two tokens merges, ranked by the token's id; a pre-token that is itself a token
            is taken whole), as for ``*.tiktoken`` files.
        added_tokens: tokens matched as whole strings when allowed.
        pattern: pre-tokenization regex (``regex`` module syntax).
        nfc: NFC-normalise text before splitting (Qwen2 does).
        ignore_merges: HF ``ignore_merges``: a pre-token that is in the vocab is taken whole.
        eos_token, pad_token: names of added tokens (or ``None``).
        premerge: start multi-byte characters premerged when provably equivalent
            (:mod:`tinyqwen.tokenizer.char_premerge`); ``False`` runs plain byte-level BPE. Same ids.
    """

    def __init__(
        self,
        vocab: dict[bytes, int],
        merges: list[tuple[bytes, bytes]] | None,
        added_tokens: Sequence[AddedToken] = (),
        *,
        pattern: str = QWEN2_PATTERN,
        nfc: bool = True,
        ignore_merges: bool = False,
        eos_token: str | None = None,
        pad_token: str | None = None,
        premerge: bool = True,
    ) -> None:
        missing = [b for b in range(256) if bytes([b]) not in vocab]
        if missing:
            raise ValueError(
                f"byte-level BPE vocabulary lacks {len(missing)} single-byte tokens "
                f"(e.g. {bytes(missing[:5])!r}); every byte must be encodable"
            )
        self._vocab = vocab
        self._merges = merges
        self._table = (
            MergeTable.from_ranks(vocab)
            if merges is None
            else MergeTable.from_merges(vocab, merges)
        )
        self._ignore_merges = ignore_merges or merges is None
        self._byte_ids = [vocab[bytes([b])] for b in range(256)]
        self._premerge = CharPremerge(self._table, vocab, self._byte_ids) if premerge else None
        self.pattern = pattern
        self._regex = regex.compile(pattern)
        self.nfc = nfc

        self._added = {t.content: t for t in added_tokens}
        self._added_ids = frozenset(t.id for t in added_tokens)
        size = max([*vocab.values(), *(t.id for t in added_tokens)]) + 1
        self._id_bytes: list[bytes | None] = [None] * size
        for token, i in vocab.items():
            self._id_bytes[i] = token
        for t in added_tokens:
            if self._id_bytes[t.id] is not None and self._id_bytes[t.id] != t.content.encode():
                raise ValueError(
                    f"added token {t.content!r} has id {t.id}, already used by regular token "
                    f"{self._id_bytes[t.id]!r}"
                )
            self._id_bytes[t.id] = t.content.encode("utf-8")
        self.special_tokens: dict[str, int] = {t.content: t.id for t in added_tokens}
        self._skip_ids = frozenset(t.id for t in added_tokens if t.special)
        for name in (eos_token, pad_token):
            if name is not None and name not in self._added:
                raise ValueError(f"eos/pad token {name!r} is not an added token of this tokenizer")
        self.eos_token = eos_token
        self.pad_token = pad_token
        # tuples, not lists: the cyclic GC stops tracking tuples of ints, so a full cache does
        # not lengthen every collection (which pauses all threads, a server's event loop too)
        self._cache: dict[str, tuple[int, ...]] = {}
        self._special_regex: dict[frozenset[str], regex.Pattern] = {}

    # ------------------------------------------------------------------ properties
    @property
    def vocab_size(self) -> int:
        """Number of ids incl. added tokens (max id + 1; 151665 for Qwen2.5)."""
        return len(self._id_bytes)

    @property
    def eos_token_id(self) -> int | None:
        return None if self.eos_token is None else self.special_tokens[self.eos_token]

    @property
    def pad_token_id(self) -> int | None:
        return None if self.pad_token is None else self.special_tokens[self.pad_token]

    @property
    def merges(self) -> list[tuple[bytes, bytes]]:
        """Merges in rank order (recovered from the ranks for a tiktoken vocabulary)."""
        if self._merges is None:
            self._merges = recover_merges(self._vocab, self._table)
        return self._merges

    def token_to_id(self, token: str) -> int | None:
        """Id of an added token, or of a regular token in vocab.json spelling (``"Ġworld"``)."""
        if token in self._added:
            return self._added[token].id
        try:
            return self._vocab.get(token_str_to_bytes(token))
        except ValueError:
            return None

    def id_to_token(self, i: int) -> str | None:
        """Inverse of :meth:`token_to_id`; ``None`` for an id outside the vocabulary."""
        if not 0 <= i < len(self._id_bytes) or self._id_bytes[i] is None:
            return None
        if i in self._added_ids:
            return self._id_bytes[i].decode("utf-8")
        return token_bytes_to_str(self._id_bytes[i])

    def token_bytes(self, i: int) -> bytes:
        """Raw bytes of token ``i`` (an added token gives its UTF-8 text)."""
        b = self._id_bytes[i] if 0 <= i < len(self._id_bytes) else None
        if b is None:
            raise ValueError(
                f"token id {i} is not in the vocabulary (vocab_size={self.vocab_size})"
            )
        return b

    # ------------------------------------------------------------------ encode
    def encode(self, text: str, allowed_special: str | Collection[str] = ()) -> list[int]:
        """Token ids of ``text``.

        ``allowed_special``: added tokens to recognise as single ids ("all" = every added token;
        a single other string = that one token). Everything else, including ``<|im_start|>``
        written in user text, is encoded as ordinary text.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode() expects str, got {type(text).__name__}")
        allowed = self._allowed(allowed_special)
        if not allowed:
            return self._encode_ordinary(text)
        pattern = self._special_regex.get(allowed)
        if pattern is None:
            # Longest first, so that a token that is a prefix of another never wins.
            alternatives = sorted(allowed, key=len, reverse=True)
            pattern = regex.compile("|".join(regex.escape(s) for s in alternatives))
            self._special_regex[allowed] = pattern
        out: list[int] = []
        start = 0
        for m in pattern.finditer(text):
            out += self._encode_ordinary(text[start : m.start()])
            out.append(self._added[m.group()].id)
            start = m.end()
        out += self._encode_ordinary(text[start:])
        return out

    def encode_batch(
        self, texts: list[str], allowed_special: str | Collection[str] = ()
    ) -> list[list[int]]:
        """:meth:`encode` for many texts; they share the pre-token cache (pure Python, one thread)."""
        return [self.encode(t, allowed_special) for t in texts]

    def clear_cache(self) -> None:
        """Forget memoised pre-tokens and characters (memory, or cold-start benchmarks)."""
        self._cache.clear()
        if self._premerge is not None:
            self._premerge.clear()

    def _allowed(self, allowed_special: str | Collection[str]) -> frozenset[str]:
        if allowed_special == "all":
            return frozenset(self._added)
        names = {allowed_special} if isinstance(allowed_special, str) else set(allowed_special)
        unknown = names - self._added.keys()
        if unknown:
            raise ValueError(
                f"allowed_special names unknown added tokens {sorted(unknown)}; "
                f"known: {sorted(self._added)}"
            )
        return frozenset(names)

    def _encode_ordinary(self, text: str) -> list[int]:
        if self.nfc and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        pieces = self._regex.findall(text)
        if sum(map(len, pieces)) != len(text):
            pieces = self._split_keep_gaps(text)
        cache = self._cache
        out: list[int] = []
        for piece in pieces:
            ids = cache.get(piece)
            if ids is None:
                ids = self._encode_piece(piece)
            out += ids
        return out

    def _split_keep_gaps(self, text: str) -> list[str]:
        # HF's Split(behavior=Isolated) keeps the text between matches as pieces too; the Qwen2
        # pattern matches every character, so this slower path only runs for other patterns.
        pieces, start = [], 0
        for m in self._regex.finditer(text):
            if m.start() > start:
                pieces.append(text[start : m.start()])
            pieces.append(m.group())
            start = m.end()
        if start < len(text):
            pieces.append(text[start:])
        return pieces

    def _encode_piece(self, piece: str) -> tuple[int, ...]:
        data = piece.encode("utf-8")
        whole = self._vocab.get(data) if self._ignore_merges else None
        if whole is not None:
            ids = [whole]
        elif self._premerge is None or len(data) == len(piece):  # ASCII: bytes are characters
            ids = bpe_merge([self._byte_ids[b] for b in data], self._table)
        else:  # same result, fewer merges: see char_premerge.py
            ids = bpe_merge(self._premerge.initial_ids(piece), self._table)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[piece] = ids = tuple(ids)
        return ids

    # ------------------------------------------------------------------ decode
    def decode(
        self, ids: Sequence[int], errors: str = "replace", skip_special_tokens: bool = False
    ) -> str:
        """Text of ``ids``. Invalid UTF-8 byte runs become U+FFFD (``errors="replace"``) or raise
        ``UnicodeDecodeError`` (``errors="strict"``); any ``bytes.decode`` handler works.
        ``skip_special_tokens`` drops added tokens flagged special (not ``<tool_call>``)."""
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._skip_ids]
        id_bytes = self._id_bytes
        try:
            data = b"".join([id_bytes[i] for i in ids])
            ok = min(ids, default=0) >= 0
        except (IndexError, TypeError):
            ok = False
        if not ok:
            bad = next(i for i in ids if not (0 <= i < len(id_bytes)) or id_bytes[i] is None)
            raise ValueError(
                f"token id {bad} is not in the vocabulary (vocab_size={self.vocab_size})"
            )
        return data.decode("utf-8", errors=errors)

    def decode_stream(self, errors: str = "replace") -> StreamDecoder:
        """An incremental decoder for streaming generation (see :class:`StreamDecoder`)."""
        return StreamDecoder(self, errors)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, path: str | Path) -> Tokenizer:
        """Load from a directory (tokenizer.json, else vocab.json + merges.txt, else one
        ``*.tiktoken``), from one of those files, or from the name ``"tiny-random"``."""
        p = Path(path)
        if not p.exists() and str(path) == "tiny-random":
            p = TINY_RANDOM_DIR
        if p.is_file():
            if p.suffix == ".tiktoken":
                return cls.from_tiktoken(p)
            if p.name.endswith(".json") and p.name != "vocab.json":
                return cls.from_tokenizer_json(p)
            p = p.parent
        if not p.is_dir():
            raise FileNotFoundError(f"tokenizer path {str(path)!r} does not exist")
        if (p / "tokenizer.json").is_file():
            return cls.from_tokenizer_json(p / "tokenizer.json")
        if (p / "vocab.json").is_file() and (p / "merges.txt").is_file():
            return cls.from_vocab_merges(p / "vocab.json", p / "merges.txt")
        tiktoken_files = sorted(p.glob("*.tiktoken"))
        if len(tiktoken_files) == 1:
            return cls.from_tiktoken(tiktoken_files[0])
        raise FileNotFoundError(
            f"no tokenizer in {p}: expected tokenizer.json, vocab.json + merges.txt, or exactly "
            f"one *.tiktoken file (found {[f.name for f in tiktoken_files]})"
        )

    @classmethod
    def from_tokenizer_json(cls, path: str | Path) -> Tokenizer:
        """Load an HF ``tokenizer.json`` (BPE model, byte-level pre-tokenizer, NFC or no
        normalizer), plus eos/pad and extra added tokens from a sibling tokenizer_config.json."""
        path = Path(path)
        data = read_json(path)
        model = data.get("model") or {}
        if model.get("type") != "BPE":
            raise NotImplementedError(f"{path}: model.type is {model.get('type')!r}, not 'BPE'")
        for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
            if model.get(key):
                raise NotImplementedError(f"{path}: model.{key}={model[key]!r} is not supported")
        if model.get("byte_fallback"):
            raise NotImplementedError(f"{path}: model.byte_fallback (sentencepiece-style) BPE")
        added = [added_from_hf(path, "added_tokens", t) for t in data.get("added_tokens", [])]
        added_ids = {t.id for t in added}
        vocab = vocab_from_strings(path, model.get("vocab") or {}, skip_ids=added_ids)
        merges = [parse_merge(path, i, m) for i, m in enumerate(model.get("merges") or [])]
        normalizer = data.get("normalizer")
        if normalizer is not None and normalizer.get("type") != "NFC":
            raise NotImplementedError(
                f"{path}: normalizer {normalizer.get('type')!r}; only NFC or null is supported"
            )
        config = read_config(path.parent / "tokenizer_config.json", added)
        return cls(
            vocab,
            merges,
            config["added"],
            pattern=pattern_from_pre_tokenizer(path, data.get("pre_tokenizer")),
            nfc=normalizer is not None,
            ignore_merges=bool(model.get("ignore_merges", False)),
            eos_token=config["eos"],
            pad_token=config["pad"],
        )

    @classmethod
    def from_vocab_merges(
        cls, vocab_path: str | Path, merges_path: str | Path, config_path: str | Path | None = None
    ) -> Tokenizer:
        """Load ``vocab.json`` + ``merges.txt`` the way transformers' Qwen2Tokenizer does (Qwen2
        pattern, NFC); added tokens, eos and pad come from ``tokenizer_config.json``
        (``added_tokens_decoder``), by default the one next to vocab.json."""
        vocab_path, merges_path = Path(vocab_path), Path(merges_path)
        if config_path is None:
            config_path = vocab_path.parent / "tokenizer_config.json"
        config = read_config(Path(config_path), [])
        added_ids = {t.id for t in config["added"]}
        vocab = vocab_from_strings(vocab_path, read_json(vocab_path), skip_ids=added_ids)
        merges = []
        with open(merges_path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                if not line or (lineno == 1 and line.startswith("#version")):
                    continue
                merges.append(parse_merge(merges_path, lineno, line))
        return cls(vocab, merges, config["added"], eos_token=config["eos"], pad_token=config["pad"])

    @classmethod
    def from_tiktoken(
        cls,
        path: str | Path,
        special_tokens: dict[str, int] | None = None,
        pattern: str = QWEN2_PATTERN,
    ) -> Tokenizer:
        """Load a tiktoken rank file: one ``base64(token bytes) rank`` per line; rank = id.

        A rank file carries no special tokens. They come from, in this order: ``special_tokens``
        if given; else ``tokenizer_config.json`` next to the file (added_tokens_decoder, eos,
        pad); else, for Qwen's vocabulary (exactly 151643 ranks, as in ``qwen.tiktoken``), the 22
        Qwen2.5 added tokens appended with Qwen's ids (``<|endoftext|>`` 151643 ...
        ``<|file_sep|>`` 151664, see :data:`QWEN25_ADDED_TOKENS`), eos ``<|im_end|>`` and pad
        ``<|endoftext|>`` as in Qwen2.5-Instruct; else none. Merges follow tiktoken's rule.
        """
        path = Path(path)
        ranks: dict[bytes, int] = {}
        with open(path, encoding="ascii") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    token_b64, rank = line.split()
                    token = base64.b64decode(token_b64, validate=True)
                    ranks[token] = int(rank)
                except ValueError as e:
                    raise ValueError(
                        f"{path}:{lineno}: expected 'base64 rank', got {line.strip()[:60]!r} ({e})"
                    ) from None
        if len(set(ranks.values())) != len(ranks):
            raise ValueError(f"{path}: duplicated ranks")
        eos = pad = None
        config_path = path.parent / "tokenizer_config.json"
        if special_tokens is not None:
            added = [AddedToken(s, i) for s, i in special_tokens.items()]
        elif config_path.is_file():
            config = read_config(config_path, [])
            added, eos, pad = config["added"], config["eos"], config["pad"]
        elif len(ranks) == QWEN_NUM_RANKS:
            added = [
                AddedToken(s, QWEN_NUM_RANKS + k, special)
                for k, (s, special) in enumerate(QWEN25_ADDED_TOKENS)
            ]
            eos, pad = "<|im_end|>", "<|endoftext|>"
        else:
            added = []
        return cls(ranks, None, added, pattern=pattern, eos_token=eos, pad_token=pad)

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, directory: str | Path) -> None:
        """Write tokenizer.json + tokenizer_config.json (what HF ``tokenizers`` and transformers
        load) and vocab.json + merges.txt (readable, one merge per line), each atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        added = sorted(self._added.values(), key=lambda t: t.id)
        vocab = {token_bytes_to_str(b): i for b, i in sorted(self._vocab.items(), key=by_id)}
        merges = [f"{token_bytes_to_str(a)} {token_bytes_to_str(b)}" for a, b in self.merges]
        tokenizer_json = hf_tokenizer_json(
            vocab, merges, added, self.pattern, self.nfc, self._ignore_merges
        )
        config = hf_tokenizer_config(added, self.eos_token, self.pad_token)
        if self.pattern != QWEN2_PATTERN:
            # transformers' Qwen2Tokenizer rebuilds Qwen2's own pre-tokenizer regex and would split
            # differently; the generic class reads the one in tokenizer.json as is
            config["tokenizer_class"] = "PreTrainedTokenizerFast"
        atomic_write_text(
            directory / "tokenizer.json", json.dumps(tokenizer_json, ensure_ascii=False)
        )
        atomic_write_text(directory / "tokenizer_config.json", pretty(config))
        atomic_write_text(directory / "vocab.json", json.dumps(vocab, ensure_ascii=False))
        atomic_write_text(directory / "merges.txt", "#version: 0.2\n" + "\n".join(merges) + "\n")

    def __repr__(self) -> str:
        kind = "tiktoken ranks" if self._merges is None else f"{len(self._merges)} merges"
        return (
            f"Tokenizer(vocab_size={self.vocab_size}, {kind}, "
            f"{len(self._added)} added tokens, eos={self.eos_token!r})"
        )


class StreamDecoder:
    """Turns token ids into text one id at a time, never emitting half a UTF-8 character.

    A Chinese character is often split over two byte-level tokens; ``step`` holds the incomplete
    bytes back until the character is complete. ``"".join(steps) + flush()`` equals
    ``tokenizer.decode(ids)`` (same replacement rules).

        >>> tok = Tokenizer.from_pretrained("tiny-random")
        >>> ids = tok.encode("模型🙂")                   # 🙂 is split over two tokens
        >>> [tok.id_to_token(i) for i in ids]
        ['æ¨¡åŀĭ', 'ðŁ', 'ĻĤ']
        >>> dec = tok.decode_stream()
        >>> [dec.step(i) for i in ids] + [dec.flush()]
        ['模型', '', '🙂', '']
    """

    def __init__(self, tokenizer: Tokenizer, errors: str = "replace") -> None:
        self._tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)

    def step(self, token_id: int) -> str:
        """Feed one id; return the newly completed text (possibly "")."""
        return self._decoder.decode(self._tokenizer.token_bytes(token_id))

    def flush(self) -> str:
        """End of stream: return what is left (an incomplete tail becomes U+FFFD / raises)."""
        return self._decoder.decode(b"", final=True)


def main(argv: list[str] | None = None) -> None:
    """Show how a text is split: ``python -m tinyqwen.tokenizer "你好 Hello world 2024"``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tinyqwen.tokenizer",
        description="Print the pre-tokens, tokens and ids of a text.",
    )
    parser.add_argument("text")
    parser.add_argument(
        "--tokenizer",
        default="tiny-random",
        help="'tiny-random', a checkpoint dir, a tokenizer.json or a *.tiktoken file",
    )
    parser.add_argument("--allow-special", action="store_true", help="allowed_special='all'")
    args = parser.parse_args(argv)
    tok = Tokenizer.from_pretrained(args.tokenizer)
    ids = tok.encode(args.text, allowed_special="all" if args.allow_special else ())
    print(f"{tok!r}\n{len(args.text)} characters -> {len(ids)} tokens\n")
    print(f"{'id':>7}  {'token (vocab.json spelling)':<30} text")
    for i in ids:
        print(f"{i:>7}  {tok.id_to_token(i):<30} {tok.decode([i])!r}")
    segments = [args.text]
    if args.allow_special and tok.special_tokens:
        names = sorted(tok.special_tokens, key=len, reverse=True)
        segments = regex.split("|".join(regex.escape(s) for s in names), args.text)
    nfc = [unicodedata.normalize("NFC", s) for s in segments]
    print(f"\npre-tokens (BPE never merges across them): {sum(map(tok._regex.findall, nfc), [])}")


if __name__ == "__main__":
    main()
