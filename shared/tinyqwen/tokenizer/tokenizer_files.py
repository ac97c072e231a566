"""Reading and writing tokenizer files: HF tokenizer.json / tokenizer_config.json / vocab.json +
merges.txt, as Qwen2.5 checkpoints ship them. No encoding logic here (see tokenizer.py).

    >>> hf_tokenizer_json({"Ġ": 220}, [], [], r"\\s+", nfc=True, ignore_merges=False)["normalizer"]
    {'type': 'NFC'}

Errors name the file and the field. Writes go through :mod:`tinyqwen.atomic`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import regex

from tinyqwen.tokenizer.bpe import GPT2_PATTERN
from tinyqwen.tokenizer.bytes_unicode import token_str_to_bytes


@dataclass(frozen=True)
class AddedToken:
    """A token matched as a whole string, outside BPE (``<|im_end|>``, ``<tool_call>``, ...)."""

    content: str
    id: int
    special: bool = True


def hf_tokenizer_json(
    vocab: dict[str, int],
    merges: list[str],
    added: list[AddedToken],
    pattern: str,
    nfc: bool,
    ignore_merges: bool,
) -> dict:
    """tokenizer.json for a Qwen2-style byte-level BPE (the layout of Qwen2.5's own file)."""
    byte_level = {
        "type": "ByteLevel",
        "add_prefix_space": False,
        "trim_offsets": False,
        "use_regex": False,
    }
    tokenizer_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": t.id,
                "content": t.content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": t.special,
            }
            for t in added
        ],
        "normalizer": {"type": "NFC"} if nfc else None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": pattern},
                    "behavior": "Isolated",
                    "invert": False,
                },
                byte_level,
            ],
        },
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            # tiktoken takes a pre-token that is a whole token as is; HF's ignore_merges does.
            "ignore_merges": ignore_merges,
            "vocab": vocab,
            "merges": merges,
        },
    }
    return tokenizer_json


def hf_tokenizer_config(
    added: list[AddedToken], eos_token: str | None, pad_token: str | None
) -> dict:
    """tokenizer_config.json with Qwen2.5-Instruct's fields (added_tokens_decoder, eos, pad)."""
    config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(t.id): {
                "content": t.content,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": t.special,
            }
            for t in added
        },
        "additional_special_tokens": [
            # as Qwen2.5's config: every special token except the pad (<|endoftext|>)
            t.content
            for t in added
            if t.special and t.content != pad_token
        ],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": eos_token,
        "errors": "replace",
        "model_max_length": 32768,
        "pad_token": pad_token,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    return config


def by_id(item: tuple[bytes, int]) -> int:
    return item[1]


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def vocab_from_strings(path: Path, vocab: dict[str, int], skip_ids: set[int]) -> dict[bytes, int]:
    out: dict[bytes, int] = {}
    for token, i in vocab.items():
        if i in skip_ids:
            continue  # an added token also listed in the vocab (GPT-2's <|endoftext|>)
        try:
            out[token_str_to_bytes(token)] = i
        except ValueError as e:
            raise ValueError(f"{path}: vocab entry {token!r} (id {i}): {e}") from None
    return out


def parse_merge(path: Path, where: int, merge: str | list[str]) -> tuple[bytes, bytes]:
    parts = merge.split(" ") if isinstance(merge, str) else merge
    if len(parts) != 2:
        raise ValueError(f"{path}: merge #{where} {merge!r} is not two tokens")
    try:
        return token_str_to_bytes(parts[0]), token_str_to_bytes(parts[1])
    except ValueError as e:
        raise ValueError(f"{path}: merge #{where}: {e}") from None


def added_from_hf(path: Path, field: str, entry: dict) -> AddedToken:
    for flag in ("lstrip", "rstrip", "single_word"):
        if entry.get(flag):
            raise NotImplementedError(
                f"{path}: {field} {entry.get('content')!r} has {flag}=true (not supported)"
            )
    try:
        return AddedToken(entry["content"], int(entry["id"]), bool(entry.get("special", True)))
    except KeyError as e:
        raise ValueError(f"{path}: an entry of {field} lacks {e.args[0]!r}") from None


def read_config(path: Path, added: list[AddedToken]) -> dict:
    """Merge tokenizer_config.json's added_tokens_decoder into ``added``; read eos/pad names."""
    by_id = {t.id: t for t in added}
    eos = pad = None
    if path.is_file():
        config = read_json(path)
        for key, entry in (config.get("added_tokens_decoder") or {}).items():
            by_id.setdefault(
                int(key), added_from_hf(path, "added_tokens_decoder", entry | {"id": key})
            )
        names = {t.content for t in by_id.values()}

        def name(field: str) -> str | None:
            value = config.get(field)
            value = value.get("content") if isinstance(value, dict) else value
            return value if value in names else None  # eos/pad outside added tokens: ignore

        eos, pad = name("eos_token"), name("pad_token")
    return {"added": sorted(by_id.values(), key=lambda t: t.id), "eos": eos, "pad": pad}


def pattern_from_pre_tokenizer(path: Path, pre: dict | None) -> str:
    def unsupported(what: str) -> NotImplementedError:
        return NotImplementedError(f"{path}: pre_tokenizer {what} is not supported")

    if pre is None:
        raise unsupported("null (not a byte-level BPE)")
    steps = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
    if not steps or steps[-1].get("type") != "ByteLevel" or steps[-1].get("add_prefix_space"):
        raise unsupported("without a final ByteLevel(add_prefix_space=false)")
    if len(steps) == 1:
        if steps[0].get("use_regex", True):
            return GPT2_PATTERN
        raise unsupported("ByteLevel(use_regex=false) without a Split")
    split = steps[0]
    if len(steps) != 2 or split.get("type") != "Split" or steps[1].get("use_regex", True):
        raise unsupported(f"sequence {[s.get('type') for s in steps]}")
    if split.get("behavior") != "Isolated" or split.get("invert"):
        raise unsupported(f"Split(behavior={split.get('behavior')}, invert={split.get('invert')})")
    pattern = split["pattern"]
    return pattern["Regex"] if "Regex" in pattern else regex.escape(pattern["String"])


def pretty(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"
