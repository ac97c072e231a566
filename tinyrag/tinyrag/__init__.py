"""tinyrag -- retrieval-augmented generation written by hand, offline and Chinese-aware.

Loaders (txt/md/pdf/docx/html/json) -> token chunking with exact offsets -> BM25 (numpy postings)
and dense vectors (any tinyqwen model) -> RRF/weighted hybrid, optional rerank -> a calibrated
refusal gate -> answers with ``[n]`` citations (or an extractive answer without a model; chat
follow-ups rewritten into standalone queries) -> built-in retrieval and answer evaluation.

    >>> from tinyrag import Index, answer_question
    >>> index, report = Index.build("docs/", "my.index")          # doctest: +SKIP
    >>> answer_question(index, "Qwen2 用了什么位置编码？").text     # doctest: +SKIP

See README.md (Chinese first, then English) and ``python -m tinyrag --help``.
"""

from tinyrag.analyzers import Analyzer
from tinyrag.answer import Answer, answer_question
from tinyrag.answer_eval import evaluate_answers
from tinyrag.bm25 import BM25
from tinyrag.chunking import Chunk, Chunker, chunk_text
from tinyrag.conversation import rewrite_query
from tinyrag.embedder import Embedder
from tinyrag.fusion import rrf, weighted_fusion
from tinyrag.index import Index
from tinyrag.loaders import Document, load_directory, load_file
from tinyrag.retriever import Hit, retrieve
from tinyrag.support import MIN_SUPPORT, support_score
from tinyrag.vector_store import VectorStore

__version__ = "0.1.0"
__all__ = [
    "BM25", "MIN_SUPPORT", "Analyzer", "Answer", "Chunk", "Chunker", "Document", "Embedder", "Hit",
    "Index", "VectorStore", "answer_question", "chunk_text", "evaluate_answers", "load_directory",
    "load_file", "retrieve", "rewrite_query", "rrf", "support_score", "weighted_fusion",
]  # fmt: skip
