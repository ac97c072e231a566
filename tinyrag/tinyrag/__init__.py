"""tinyrag -- retrieval-augmented generation written by hand, offline and Chinese-aware.

Loaders (txt/md/pdf/html/json) -> token chunking with exact offsets -> BM25 (numpy postings) and
dense vectors (any tinyqwen model) -> RRF/weighted hybrid -> answers with ``[n]`` citations (or an
extractive answer without a model) -> built-in retrieval evaluation.

    >>> from tinyrag import Index, answer_question
    >>> index, report = Index.build("docs/", "my.index")          # doctest: +SKIP
    >>> answer_question(index, "Qwen2 用了什么位置编码？").text     # doctest: +SKIP

See README.md (Chinese first, then English) and ``python -m tinyrag --help``.
"""

from tinyrag.analyzers import Analyzer
from tinyrag.answer import Answer, answer_question
from tinyrag.bm25 import BM25
from tinyrag.chunking import Chunk, Chunker, chunk_text
from tinyrag.embedder import Embedder
from tinyrag.fusion import rrf, weighted_fusion
from tinyrag.index import Index
from tinyrag.loaders import Document, load_directory, load_file
from tinyrag.retriever import Hit, retrieve
from tinyrag.vector_store import VectorStore

__version__ = "0.1.0"
__all__ = [
    "BM25", "Analyzer", "Answer", "Chunk", "Chunker", "Document", "Embedder", "Hit", "Index",
    "VectorStore", "answer_question", "chunk_text", "load_directory", "load_file", "retrieve",
    "rrf", "weighted_fusion",
]  # fmt: skip
