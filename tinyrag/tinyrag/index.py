"""The on-disk index: versioned manifest + BM25 postings + optional vectors + chunk jsonl.

Layout of an index folder::

    manifest.json        {"format": "tinyrag-index", "version": 1, "generation": 7,
                          "data": "gen-000007", "analyzer": {...}, "chunker": {...}, "bm25": {...},
                          "embedder": null | {"model", "instruction", "pooling", "dim",
                                              "query_format"?},
                          "files": {"docs/a.md": {"sha256", "size", "n_chunks"}, ...}}
    gen-000007/chunks.jsonl   one chunk per line: source, page, start, end, heading_path, text
    gen-000007/bm25.npz       postings (term -> doc, tf) + doc lengths;  vocab.json: terms
    gen-000007/vectors.npy    [N, D] float32, L2-normalised (only when built with an embedder)

Atomic builds: a build writes a complete new ``gen-*`` folder under a temporary name, fsyncs it,
renames it, and only then replaces ``manifest.json`` (write tmp + ``os.replace``). A build killed at
any point leaves the old manifest pointing at the old, complete generation; leftovers are removed by
the next build.

Incremental builds: files are compared by SHA-256 of their bytes. Unchanged files keep their chunks,
postings and vectors (nothing is re-read, re-analysed or re-embedded); changed and new files are
loaded and chunked; deleted files are dropped. A changed analyzer, chunker or embedder forces a full
rebuild (the old postings/vectors would not match); BM25 ``k1``/``b``/``idf`` may change freely.

    >>> idx, report = Index.build("docs/", "my.index")     # doctest: +SKIP
    >>> report.summary()                                    # doctest: +SKIP
    '12 files: 12 new, 0 changed, 0 unchanged, 0 removed, 0 failed; 85 chunks'
    >>> Index.load("my.index").search("旋转位置编码", k=3)   # doctest: +SKIP

Limits: one writer at a time (no lock file); everything is loaded into memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyqwen.atomic import atomic_path, atomic_write_text
from tinyrag import loaders
from tinyrag.analyzers import Analyzer
from tinyrag.bm25 import BM25
from tinyrag.chunking import Chunker
from tinyrag.vector_store import VectorStore

FORMAT = "tinyrag-index"
VERSION = 1


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def index_text(chunk: dict[str, Any]) -> str:
    """What BM25 sees for a chunk: title and heading path (context) + the chunk text."""
    head = " ".join([chunk.get("title") or "", *chunk.get("heading_path", [])]).strip()
    return f"{head}\n{chunk['text']}" if head else chunk["text"]


@dataclass
class BuildReport:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # unsupported types, with why
    full_rebuild_reason: str | None = None
    n_chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        n = len(self.new) + len(self.changed) + len(self.unchanged) + len(self.failed)
        s = (
            f"{n} files: {len(self.new)} new, {len(self.changed)} changed, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.failed)} failed; {self.n_chunks} chunks"
        )
        if self.skipped:
            s += f"; {len(self.skipped)} unsupported files skipped"
        return s + (
            f" (full rebuild: {self.full_rebuild_reason})" if self.full_rebuild_reason else ""
        )


class Index:
    """A loaded index. ``Index.load(path)`` / ``Index.build(root, path)``; query with ``search``."""

    def __init__(
        self,
        path: Path | None,
        manifest: dict[str, Any],
        chunks: list[dict[str, Any]],
        bm25: BM25,
        vectors: VectorStore | None,
        embedder: Any = None,
    ) -> None:
        self.path, self.manifest, self.chunks = path, manifest, chunks
        self.bm25, self.vectors, self.embedder = bm25, vectors, embedder
        self.analyzer = Analyzer.from_dict(manifest["analyzer"])
        self._metadata: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def metadata(self) -> list[dict[str, Any]]:
        """Per-chunk filter metadata, computed once (chunks never change after load/build)."""
        if self._metadata is None or len(self._metadata) != len(self.chunks):
            self._metadata = [chunk_metadata(c) for c in self.chunks]
        return self._metadata

    # ----- loading ------------------------------------------------------------------------------
    @staticmethod
    def read_manifest(path: str | Path) -> dict[str, Any]:
        mpath = Path(path) / "manifest.json"
        if not mpath.is_file():
            raise FileNotFoundError(
                f"{mpath}: no index here (build one with: tinyrag index DIR --index {path})"
            )
        try:
            m = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{mpath}: corrupt manifest ({e.msg})") from None
        if m.get("format") != FORMAT:
            raise ValueError(f"{mpath}: field 'format' is {m.get('format')!r}, expected {FORMAT!r}")
        if m.get("version") != VERSION:
            raise ValueError(
                f"{mpath}: field 'version' is {m.get('version')!r}; this tinyrag reads version "
                f"{VERSION} -- rebuild the index"
            )
        return m

    @classmethod
    def load(
        cls,
        path: str | Path,
        embedder: Any = None,
        vector_backend: str = "numpy",
        **bm25_params: Any,
    ) -> Index:
        """Load the current generation. ``bm25_params`` override the stored k1/b/idf/k3.

        ``vector_backend="faiss"`` serves dense search from ``faiss.IndexFlatIP`` (same top-k).
        """
        if vector_backend not in ("numpy", "faiss"):
            raise ValueError(f"vector_backend must be 'numpy' or 'faiss', got {vector_backend!r}")
        path = Path(path)
        m = cls.read_manifest(path)
        data = path / m["data"]
        # one line at a time (never the whole file as one string); only "\n" ends a line:
        # str.splitlines would also split at U+2028, which json.dumps leaves raw in a chunk's text
        with open(data / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [json.loads(line) for line in f if line.strip()]
        bm25 = BM25.load(data, **{**m["bm25"], **bm25_params})
        if bm25.n_docs != len(chunks):
            raise ValueError(f"{data}: bm25.npz has {bm25.n_docs} docs, chunks.jsonl {len(chunks)}")
        vectors = None
        if m.get("embedder"):
            vectors = VectorStore.load(data, [chunk_metadata(c) for c in chunks])
            if vector_backend == "faiss":
                from tinyrag.faiss_store import FaissStore

                vectors = FaissStore.from_store(vectors)
        return cls(path, m, chunks, bm25, vectors, embedder)

    # ----- building -----------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        root: str | Path,
        path: str | Path | None,
        *,
        analyzer: Analyzer | None = None,
        chunker: Chunker | None = None,
        bm25_params: dict[str, Any] | None = None,
        embedder: Any = None,
        embedder_spec: str | None = None,
        tokenizer: Any = None,
        full: bool = False,
        files: list[Path] | None = None,
    ) -> tuple[Index, BuildReport]:
        """Build or update the index at ``path`` from the files under ``root``.

        ``path=None`` builds in memory only. ``embedder`` (a ``tinyrag.Embedder``) adds dense vectors;
        ``embedder_spec`` is the model spec recorded in the manifest so ``load`` can reconnect.
        ``files`` restricts the build to those files (paths under ``root``).

        Three steps: ``_diff`` (which files are new, changed, unchanged, removed), ``_rows`` (load
        and chunk the files that need it; their rows are then analysed into BM25 and embedded) and
        ``_write`` (a new generation folder, then the manifest).
        """
        t0 = time.perf_counter()
        root = Path(root)
        if path is not None and Path(path).exists() and not Path(path).is_dir():
            raise ValueError(f"{path}: exists and is not a folder (an index is a folder of files)")
        analyzer = analyzer or Analyzer()
        chunker = chunker or Chunker()
        emb_cfg = None
        if embedder is not None:
            emb_cfg = {
                "model": embedder_spec or embedder.name,
                "instruction": embedder.instruction,
                "pooling": embedder.pooling,
            }
            if embedder.query_format != "gte-qwen2":  # absent = the original format (old indexes)
                emb_cfg["query_format"] = embedder.query_format
        settings = {
            "analyzer": analyzer.to_dict(),
            "chunker": chunker.to_dict(),
            "tokenizer": _tokenizer_id(tokenizer),
        }
        report = BuildReport()
        old = cls._reusable(path, settings, emb_cfg, full, report)
        if files is None:
            files, others = loaders.scan(root)
            report.skipped = [
                (
                    p.relative_to(root).as_posix() if root.is_dir() else p.name,
                    loaders.unsupported_reason(p),
                )
                for p in others
            ]
        files = sorted(Path(f) for f in files)
        diff = _diff(root, files, old, report)

        # the old index minus the rows of changed/removed files, plus the new rows
        if old is not None:
            keep = np.array([c["source"] in diff.keep for c in old.chunks], dtype=bool)
            chunks = [c for c, k in zip(old.chunks, keep) if k]
            bm25, vectors = old.bm25, old.vectors
            bm25.remove_docs(~keep)
            if vectors is not None:
                vectors.keep(keep)
        else:
            chunks, bm25, vectors = [], BM25(**(bm25_params or {})), None
        new_chunks = _rows(diff, chunker, tokenizer, report)
        bm25.add_docs(analyzer(index_text(c)) for c in new_chunks)  # streamed: no token lists kept
        if bm25_params:
            bm25 = _reparam(bm25, bm25_params)
        if embedder is not None:
            vectors = _embed(embedder, new_chunks, vectors)
            emb_cfg["dim"] = vectors.dim  # type: ignore[index]
        chunks += new_chunks

        gen = (old.manifest["generation"] + 1) if old else _next_generation(path)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "generation": gen,
            "data": f"gen-{gen:06d}",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "root": str(root.resolve()),
            **settings,
            "bm25": bm25.params(),
            "embedder": emb_cfg,
            "n_chunks": len(chunks),
            "files": dict(sorted(diff.file_info.items())),
        }
        index = cls(
            Path(path) if path is not None else None, manifest, chunks, bm25, vectors, embedder
        )
        if path is not None:
            index._write(Path(path))
        report.n_chunks = len(chunks)
        report.seconds = time.perf_counter() - t0
        return index, report

    @classmethod
    def _reusable(
        cls,
        path: str | Path | None,
        settings: dict[str, Any],
        emb_cfg: dict[str, Any] | None,
        full: bool,
        report: BuildReport,
    ) -> Index | None:
        """The existing index at ``path`` if an incremental update may start from it, else None
        (``report.full_rebuild_reason`` says why not)."""
        if full:
            report.full_rebuild_reason = "requested"
            return None
        if path is None or not (Path(path) / "manifest.json").is_file():
            return None
        try:
            old = cls.load(path)
        except (ValueError, FileNotFoundError, OSError) as e:
            report.full_rebuild_reason = f"old index unreadable ({e})"
            return None
        m = old.manifest
        for key in ("analyzer", "chunker", "tokenizer"):
            if m.get(key) != settings[key]:
                report.full_rebuild_reason = f"{key} changed"
        olde = {k: v for k, v in (m.get("embedder") or {}).items() if k != "dim"} or None
        if olde != emb_cfg:
            report.full_rebuild_reason = "embedder changed"
        return None if report.full_rebuild_reason else old

    @classmethod
    def from_texts(
        cls,
        texts: dict[str, str],
        *,
        analyzer: Analyzer | None = None,
        bm25_params: dict[str, Any] | None = None,
        embedder: Any = None,
    ) -> Index:
        """An in-memory index with one chunk per text (id -> text), e.g. for evaluation sets."""
        analyzer = analyzer or Analyzer()
        chunks = [
            {"source": did, "page": None, "start": 0, "end": len(t), "heading_path": [], "text": t}
            for did, t in texts.items()
        ]
        bm25 = BM25(**(bm25_params or {}))
        bm25.add_docs([analyzer(t) for t in texts.values()])
        vectors = None
        emb_cfg = None
        if embedder is not None:
            v = embedder.embed_documents(list(texts.values()))
            vectors = VectorStore(v.shape[1])
            vectors.add(v, [chunk_metadata(c) for c in chunks])
            emb_cfg = {"model": embedder.name, "dim": vectors.dim}
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "analyzer": analyzer.to_dict(),
            "bm25": bm25.params(),
            "embedder": emb_cfg,
            "files": {},
        }
        return cls(None, manifest, chunks, bm25, vectors, embedder)

    def _write(self, path: Path) -> None:
        """Write a new generation folder, then switch the manifest to it (the commit point).

        Every file goes through ``tinyqwen.atomic`` (fsync'ed, then renamed) into a temporary
        folder, which is renamed to ``gen-N``; the manifest written last fsyncs the index folder,
        making both renames durable. A build killed before that leaves the old manifest and its
        complete generation; the next build removes the leftovers.
        """
        path.mkdir(parents=True, exist_ok=True)
        final = path / self.manifest["data"]
        tmp = path / f"{self.manifest['data']}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        with atomic_path(tmp / "chunks.jsonl") as f_tmp, open(f_tmp, "w", encoding="utf-8") as f:
            for c in self.chunks:  # streamed: never the whole file as one string
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        self.bm25.save(tmp)
        if self.vectors is not None:
            self.vectors.save(tmp)
        if final.exists():  # a generation folder left by a build killed after its rename
            shutil.rmtree(final)
        os.rename(tmp, final)
        atomic_write_text(
            path / "manifest.json", json.dumps(self.manifest, ensure_ascii=False, indent=1)
        )
        for old in path.glob("gen-*"):  # previous generations and crashed builds' leftovers
            if old.name != final.name:
                shutil.rmtree(old, ignore_errors=True)

    # ----- querying -----------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, **kwargs: Any) -> list:
        """See ``tinyrag.retriever.retrieve`` (modes bm25/dense/hybrid, filters, rerank)."""
        from tinyrag.retriever import retrieve

        return retrieve(self, query, k=k, **kwargs)


def chunk_metadata(chunk: dict[str, Any]) -> dict[str, Any]:
    """Filterable metadata of a chunk row (what ``where=`` filters match against)."""
    return {
        "source": chunk["source"],
        "page": chunk.get("page"),
        "ext": Path(chunk["source"]).suffix.lower(),
        "title": chunk.get("title"),
    }


@dataclass
class _Diff:
    """Step 1 of a build: what to keep from the old index and which files to (re)load."""

    keep: set[str]  # sources whose old rows stay
    to_load: list[tuple[Path, str]]  # (path, source name) of new and changed files
    hashes: dict[Path, str]
    file_info: dict[str, dict[str, Any]]  # manifest "files" entries, kept ones so far


def _diff(root: Path, files: list[Path], old: Index | None, report: BuildReport) -> _Diff:
    """Compare ``files`` with the old manifest by SHA-256; fill report.new/changed/unchanged/removed."""
    rel = {p: (p.relative_to(root).as_posix() if root.is_dir() else p.name) for p in files}
    old_files = old.manifest["files"] if old else {}
    hashes = {p: file_sha256(p) for p in files}
    keep: set[str] = set()
    to_load = []
    for p in files:
        r = rel[p]
        if r in old_files and old_files[r]["sha256"] == hashes[p]:
            report.unchanged.append(r)
            keep.add(r)
        else:
            (report.changed if r in old_files else report.new).append(r)
            to_load.append((p, r))
    report.removed = sorted(set(old_files) - set(rel.values()))
    return _Diff(keep, to_load, hashes, {r: old_files[r] for r in keep})


def _rows(diff: _Diff, chunker: Chunker, tokenizer: Any, report: BuildReport) -> list[dict]:
    """Step 2: chunk rows of the files to load (one file in memory at a time); failures reported."""
    rows: list[dict[str, Any]] = []
    for p, r in diff.to_load:
        try:
            docs = loaders.load_file(p, source=r)
        except loaders.LoadError as e:
            report.failed.append((r, str(e)))
            for lst in (report.new, report.changed):
                if r in lst:
                    lst.remove(r)
            continue
        n_before = len(rows)
        docs.reverse()
        while docs:
            doc = docs.pop()  # drop each document's text as soon as it is chunked
            for c in chunker.chunk(doc.text, markdown=doc.is_markdown, tokenizer=tokenizer):
                rows.append(_row(r, doc, c))
            del doc
        diff.file_info[r] = {
            "sha256": diff.hashes[p],
            "size": p.stat().st_size,
            "n_chunks": len(rows) - n_before,
        }
    return rows


def _row(source: str, doc: loaders.Document, c: Any) -> dict[str, Any]:
    row = {
        "source": source,
        "page": doc.page,
        "start": c.start,
        "end": c.end,
        "heading_path": c.heading_path,
        "n_tokens": c.n_tokens,
        "text": c.text,
    }
    if doc.meta.get("title"):
        row["title"] = str(doc.meta["title"])
    if "id" in doc.meta:
        row["doc_id"] = doc.meta["id"]
    return row


def _embed(embedder: Any, new_chunks: list[dict], vectors: VectorStore | None) -> VectorStore:
    """Add the new chunks' vectors to ``vectors`` (a new store when None)."""
    new_vecs = embedder.embed_documents([c["text"] for c in new_chunks])
    if vectors is None:
        if len(new_vecs) == 0:
            raise ValueError("cannot build a dense index with no chunks")
        vectors = VectorStore(new_vecs.shape[1])
    if len(new_vecs):
        vectors.add(new_vecs, [chunk_metadata(c) for c in new_chunks])
    return vectors


def _tokenizer_id(tokenizer: Any) -> dict[str, Any] | None:
    """What identifies a tokenizer in the manifest (a different one re-chunks everything)."""
    if tokenizer is None:
        return None
    return {"class": type(tokenizer).__name__, "vocab_size": getattr(tokenizer, "vocab_size", None)}


def _reparam(bm25: BM25, params: dict[str, Any]) -> BM25:
    new = BM25(**{**bm25.params(), **params})
    new.vocab, new.indptr, new.doc_ids = bm25.vocab, bm25.indptr, bm25.doc_ids
    new.tfs, new.doc_len = bm25.tfs, bm25.doc_len
    new._compute_impacts()
    return new


def _next_generation(path: str | Path | None) -> int:
    if path is None:
        return 1
    gens = [0]
    for p in Path(path).glob("gen-*"):
        digits = p.name[4:10]
        if digits.isdigit():
            gens.append(int(digits))
    return max(gens) + 1
