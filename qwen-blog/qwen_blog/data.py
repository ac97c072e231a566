"""Pretraining data: tokenize a corpus, pack it into a memory-mapped token file, serve fixed-size blocks.

Packing concatenates every document (each followed by ``<|endoftext|>``) into one long stream of token
ids and cuts it into blocks of ``seq_len + 1`` tokens; a block gives inputs ``block[:-1]`` and targets
``block[1:]``, so every position in every batch is a real training target (no padding). The stream lives
on disk as raw ``uint16`` (or ``uint32`` for vocabularies over 65536) and is opened with ``np.memmap``,
so a corpus larger than RAM costs nothing to open.

    >>> meta = pack_corpus(tokenizer, ["doc one", "doc two"], "data/", val_fraction=0.1)
    >>> train = PackedTokens("data/", "train")      # len(train) tokens, train.num_blocks(128) blocks
    >>> sampler = BlockSampler(train.num_blocks(128), global_batch=16, seed=0)
    >>> sampler.indices(step=7)                     # the 16 block ids of optimizer step 7, any world size

Data order is a pure function of (seed, step): epoch ``e`` visits the blocks in ``randperm(seed + e)``
order. Resuming at step ``s`` therefore needs no saved iterator state, and N ranks split each step's
global batch DistributedSampler-style (rank ``r`` takes ``indices[r::N]``), so one process with batch 8
and two with batch 4 see exactly the same 8 blocks per step.

Limits: the split is by token position after a seeded document shuffle (the last ``val_fraction`` of the
stream is validation), documents straddle block boundaries (standard for pretraining), and the whole
token list is held in memory while packing (fine up to a few hundred million tokens).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from tinyqwen.atomic import atomic_write_bytes, atomic_write_text

META = "meta.json"


def iter_jsonl(path: Path) -> Iterator[tuple[int, object]]:
    """``(line_number, parsed_object)`` for each non-blank line; bad JSON names the file and line."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e})") from None


def read_documents(path: str | Path) -> list[str]:
    """Documents from a ``.jsonl`` file (a ``"text"`` field per line), a text file (documents separated
    by blank lines), or a directory of such files (sorted, recursive)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(
            f for f in p.rglob("*") if f.suffix in (".txt", ".md", ".jsonl") and f.is_file()
        )
        if not files:
            raise FileNotFoundError(f"{p}: no .txt, .md or .jsonl files inside")
        return [d for f in files for d in read_documents(f)]
    if not p.is_file():
        raise FileNotFoundError(f"corpus {p} does not exist")
    docs: list[str] = []
    if p.suffix == ".jsonl":
        for lineno, obj in iter_jsonl(p):
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError(f'{p}:{lineno}: expected an object with a string field "text"')
            docs.append(obj["text"])
    else:
        text = p.read_text(encoding="utf-8")
        docs = [d.strip() for d in text.split("\n\n") if d.strip()]
    if not docs:
        raise ValueError(f"{p}: no documents found")
    return docs


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.uint32)


def _write_array(path: Path, arr: np.ndarray) -> None:
    atomic_write_bytes(path, arr.tobytes())


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _batched(xs: list, n: int) -> Iterator[list]:
    for i in range(0, len(xs), n):
        yield xs[i : i + n]


def pack_corpus(
    tokenizer,
    documents: Iterable[str | list[int]],
    out_dir: str | Path,
    *,
    val_fraction: float = 0.05,
    seed: int = 0,
    source: str = "<documents>",
    show_progress: bool = True,
) -> dict:
    """Tokenize, shuffle documents (seeded), append EOS to each, split, write ``train.bin``/``val.bin``.

    A document is text (encoded here, special-token text staying plain text) or a list of token ids
    already encoded by the caller (a chat conversation whose template markup holds special tokens).

    Writes ``meta.json`` last, so a directory with a ``meta.json`` is always complete. Returns the meta.
    """
    from tqdm import tqdm

    if not 0.0 < val_fraction < 0.5:
        raise ValueError(f"val_fraction must be in (0, 0.5), got {val_fraction}")
    docs = [d for d in documents if d]
    if not docs:
        raise ValueError(f"{source}: no non-empty documents to pack")
    eos = tokenizer.special_tokens.get("<|endoftext|>", tokenizer.eos_token_id)
    if eos is None:
        raise ValueError(
            "tokenizer has neither <|endoftext|> nor an eos_token_id to separate documents"
        )
    random.Random(seed).shuffle(docs)
    ids: list[int] = []
    for chunk in tqdm(list(_batched(docs, 256)), desc="tokenize", disable=not show_progress):
        texts = [d for d in chunk if isinstance(d, str)]
        encoded = iter(tokenizer.encode_batch(texts))  # special-token text stays plain text
        for d in chunk:
            ids.extend(next(encoded) if isinstance(d, str) else d)
            ids.append(eos)
    dtype = token_dtype(tokenizer.vocab_size)
    arr = np.asarray(ids, dtype=np.int64)
    if arr.max() >= tokenizer.vocab_size:
        raise ValueError(f"token id {arr.max()} >= tokenizer.vocab_size {tokenizer.vocab_size}")
    n_val = max(1, int(round(len(arr) * val_fraction)))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / META).unlink(missing_ok=True)  # mark incomplete while rewriting
    _write_array(out / "train.bin", arr[:-n_val].astype(dtype))
    _write_array(out / "val.bin", arr[-n_val:].astype(dtype))
    meta = {
        "dtype": dtype.name,
        "vocab_size": tokenizer.vocab_size,
        "eos_token_id": int(eos),
        "num_documents": len(docs),
        "train_tokens": int(len(arr) - n_val),
        "val_tokens": int(n_val),
        "source": source,
        "seed": seed,
        "val_fraction": val_fraction,
    }
    _write_json(out / META, meta)
    return meta


def tokenizer_fingerprint(tokenizer) -> str:
    """A short hash identifying a tokenizer's vocabulary (to invalidate cached packed data)."""
    h = hashlib.sha256()
    for i in range(min(tokenizer.vocab_size, 4096)):
        h.update((tokenizer.id_to_token(i) or "").encode("utf-8", "surrogatepass") + b"\0")
    h.update(str(tokenizer.vocab_size).encode())
    return h.hexdigest()[:16]


class PackedTokens:
    """One split (``train`` or ``val``) of a packed directory, memory-mapped read-only."""

    def __init__(self, directory: str | Path, split: str) -> None:
        d = Path(directory)
        meta_path = d / META
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path} missing: {d} is not a packed data directory")
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        path = d / f"{split}.bin"
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing (split {split!r})")
        self.tokens = np.memmap(path, dtype=np.dtype(self.meta["dtype"]), mode="r")  # [N]
        expected = self.meta[f"{split}_tokens"]
        if len(self.tokens) != expected:
            raise ValueError(f"{path}: {len(self.tokens)} tokens, but {meta_path} says {expected}")
        self.path = path

    def __len__(self) -> int:
        return len(self.tokens)

    def num_blocks(self, seq_len: int) -> int:
        """Blocks of ``seq_len + 1`` tokens; consecutive blocks share one token (target -> next input)."""
        return (len(self.tokens) - 1) // seq_len

    def block(self, i: int, seq_len: int) -> np.ndarray:
        return np.asarray(self.tokens[i * seq_len : i * seq_len + seq_len + 1], dtype=np.int64)

    def batch(self, block_ids: list[int], seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets, each ``[B, seq_len]`` int64."""
        n = self.num_blocks(seq_len)
        for i in block_ids:
            if not 0 <= i < n:
                raise IndexError(
                    f"block {i} out of range for {self.path} ({n} blocks of {seq_len})"
                )
        blocks = torch.from_numpy(np.stack([self.block(i, seq_len) for i in block_ids]))  # [B, T+1]
        return blocks[:, :-1].contiguous(), blocks[:, 1:].contiguous()


class BlockSampler:
    """Global batch for each optimizer step, as a pure function of (seed, step).

    The stream of block ids is the concatenation of ``randperm(num_blocks, seed + epoch)`` for
    epoch = 0, 1, ...; step ``s`` takes positions ``[s * G, (s + 1) * G)``.
    """

    def __init__(self, num_blocks: int, global_batch: int, seed: int = 0) -> None:
        if num_blocks <= 0:
            raise ValueError("no training blocks: the corpus is shorter than one sequence")
        self.num_blocks, self.global_batch, self.seed = num_blocks, global_batch, seed
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            g = torch.Generator().manual_seed(self.seed + epoch)
            perm = torch.randperm(self.num_blocks, generator=g).numpy()
            # keep this epoch and the previous one (a step can straddle an epoch boundary)
            self._perms = {e: p for e, p in self._perms.items() if e == epoch - 1}
            self._perms[epoch] = perm
        return self._perms[epoch]

    def indices(self, step: int) -> list[int]:
        out = []
        for pos in range(step * self.global_batch, (step + 1) * self.global_batch):
            epoch, i = divmod(pos, self.num_blocks)
            out.append(int(self._perm(epoch)[i]))
        return out

    def epoch_of(self, step: int) -> float:
        return step * self.global_batch / self.num_blocks


def shard(indices: list, rank: int, world_size: int) -> list:
    """Rank ``rank``'s share of a global batch (strided, like ``torch.utils.data.DistributedSampler``)."""
    if len(indices) % world_size:
        raise ValueError(f"global batch {len(indices)} is not divisible by world size {world_size}")
    return indices[rank::world_size]
