"""Qwen2's byte-level BPE tokenizer, by hand, in six files (read them in this order):

=================== ==========================================================================
file                what it holds
=================== ==========================================================================
``bytes_unicode``   GPT-2's byte <-> printable-character table (how vocab files spell bytes)
``bpe``             the pre-token regex (``QWEN2_PATTERN``) and the merge loop (``bpe_merge``)
``char_premerge``   a speed-up: multi-byte characters start pre-merged where it provably
                    changes nothing
``tokenizer_files`` readers for ``tokenizer.json``, ``vocab.json`` + ``merges.txt``, ``*.tiktoken``
``tokenizer``       ``Tokenizer``: encode (special tokens only when allowed), decode,
                    ``decode_stream`` (UTF-8-safe), save; ``python -m tinyqwen.tokenizer TEXT``
``bpe_train``       ``train_bpe``: learn merges from a corpus (how ``tiny-random``'s was made)
=================== ==========================================================================

    >>> from tinyqwen.tokenizer import Tokenizer
    >>> tok = Tokenizer.from_pretrained("tiny-random")     # or a Qwen2.5 checkpoint directory
    >>> tok.decode(tok.encode("你好，世界"))
    '你好，世界'
"""

from tinyqwen.tokenizer.tokenizer import (
    QWEN25_ADDED_TOKENS,
    TINY_RANDOM_DIR,
    AddedToken,
    Tokenizer,
    main,
)

__all__ = ["QWEN25_ADDED_TOKENS", "TINY_RANDOM_DIR", "AddedToken", "Tokenizer", "main"]
