"""BPE trainer: same merges as a naive recount-everything reference, round trip through HF
``tokenizers`` with identical ids, and the shipped tiny-random asset regenerates byte for byte."""

from __future__ import annotations

from collections import Counter

import pytest
from tokenizer_corpus import generated_text

from tinyqwen.tokenizer import TINY_RANDOM_DIR
from tinyqwen.tokenizer.bpe_train import QWEN25_SPECIALS, count_pretokens, main, train_bpe
from tinyqwen.tokenizer.bytes_unicode import BYTE_ORDER

tokenizers = pytest.importorskip("tokenizers")
CORPUS = (TINY_RANDOM_DIR / "corpus.txt").read_text(encoding="utf-8")


def naive_merges(
    texts: list[str], specials: list[str], num_merges: int
) -> list[tuple[bytes, bytes]]:
    """minbpe-style reference: recount every pair from scratch before each merge."""
    byte_id = {b: i for i, b in enumerate(BYTE_ORDER)}
    counts = count_pretokens(texts, specials)
    words = {piece: [byte_id[b] for b in piece.encode()] for piece in counts}
    id_bytes = [bytes([b]) for b in BYTE_ORDER]
    merges = []
    for _ in range(num_merges):
        pairs: Counter[tuple[int, int]] = Counter()
        for piece, ids in words.items():
            for pair in zip(ids, ids[1:]):
                pairs[pair] += counts[piece]
        if not pairs:
            break
        # most frequent; ties -> smallest pair of ids (the trainer's documented rule)
        pair = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[pair] < 2:
            break
        new_id = len(id_bytes)
        id_bytes.append(id_bytes[pair[0]] + id_bytes[pair[1]])
        merges.append((id_bytes[pair[0]], id_bytes[pair[1]]))
        for piece, ids in words.items():
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            words[piece] = out
    return merges


def test_incremental_trainer_equals_naive_reference():
    texts = [CORPUS[:6000], "aaaa aaaa aaa 1111 你好你好你好 🙂🙂🙂🙂"]
    want = naive_merges(texts, ["<|endoftext|>"], 300)  # CORPUS mentions <|endoftext|>
    tok = train_bpe(texts, vocab_size=256 + 300 + 1, special_tokens=["<|endoftext|>"])
    assert tok.merges == want


def test_trained_tokenizer_round_trips_through_hf(tmp_path):
    tok = train_bpe(
        [CORPUS], vocab_size=1000, special_tokens=QWEN25_SPECIALS, eos_token="<|im_end|>"
    )
    assert tok.vocab_size == 1000 and tok.special_tokens["<|endoftext|>"] == 1000 - 22
    tok.save_pretrained(tmp_path)
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    held_out = generated_text(100_000, seed=7) + "<|im_start|>user\n测试<|im_end|>"
    for text in (CORPUS, held_out):
        assert tok.encode(text, allowed_special="all") == hf.encode(text).ids


def test_special_tokens_are_not_learned():
    text = "<|im_start|>user\nhi<|im_end|>\n" * 200
    tok = train_bpe([text], vocab_size=300, special_tokens=["<|im_start|>", "<|im_end|>"])
    assert not any(b"|" in a + b for a, b in tok.merges)
    assert tok.encode(text, allowed_special="all")[:1] == [tok.special_tokens["<|im_start|>"]]


def test_vocab_size_and_input_errors():
    with pytest.raises(ValueError, match="smaller than 256 bytes"):
        train_bpe(["abc"], vocab_size=200, special_tokens=[])
    with pytest.raises(ValueError, match="duplicates"):
        train_bpe(["abc"], vocab_size=300, special_tokens=["<a>", "<a>"])
    # Runs out of pairs seen twice: fewer merges, ids stay contiguous, specials come last.
    tok = train_bpe(["abab"], vocab_size=5000, special_tokens=["<|endoftext|>"])
    assert len(tok.merges) == 1 and tok.vocab_size == 258
    assert tok.special_tokens == {"<|endoftext|>": 257}


def test_cli_regenerates_the_shipped_asset(tmp_path, capsys):
    main(
        [
            "--corpus",
            str(TINY_RANDOM_DIR / "corpus.txt"),
            "--vocab-size",
            "2048",
            "--out",
            str(tmp_path),
        ]
    )
    assert "vocab_size=2048" in capsys.readouterr().out
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        assert (tmp_path / name).read_bytes() == (TINY_RANDOM_DIR / name).read_bytes(), name
