"""The on-disk index: versioned manifest + BM25 postings + optional vectors + chunk jsonl.

Layout of an index folder::

    manifest.json        {"format": "tinyrag-index", "version": 1, "generation": 7,
                          "data": "gen-000007", "analyzer": {...}, "chunker": {...}, "bm25": {...},
                          "embedder": null | {"model", "instruction", "pooling", "dim"},
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

from tinyqwen.atomic import atomic_write_text
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


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders; rename is still atomic there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        chunks = [
            json.loads(line)
            for line in (data / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
            if line
        ]
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
        """
        t0 = time.perf_counter()
        root = Path(root)
        analyzer = analyzer or Analyzer()
        chunker = chunker or Chunker()
        emb_cfg = None
        if embedder is not None:
            emb_cfg = {
                "model": embedder_spec or embedder.name,
                "instruction": embedder.instruction,
                "pooling": embedder.pooling,
            }
        settings = {
            "analyzer": analyzer.to_dict(),
            "chunker": chunker.to_dict(),
            "tokenizer": _tokenizer_id(tokenizer),
        }
        report = BuildReport()
        old: Index | None = None
        if path is not None and (Path(path) / "manifest.json").is_file() and not full:
            try:
                old = cls.load(path)
                m = old.manifest
                olde = {k: v for k, v in (m.get("embedder") or {}).items() if k != "dim"} or None
                for key in ("analyzer", "chunker", "tokenizer"):
                    if m.get(key) != settings[key]:
                        report.full_rebuild_reason = f"{key} changed"
                if olde != emb_cfg:
                    report.full_rebuild_reason = "embedder changed"
            except (ValueError, FileNotFoundError, OSError) as e:
                report.full_rebuild_reason = f"old index unreadable ({e})"
            if report.full_rebuild_reason:
                old = None
        elif full:
            report.full_rebuild_reason = "requested"

        files = loaders.iter_files(root) if files is None else sorted(Path(f) for f in files)
        rel = {p: (p.relative_to(root).as_posix() if root.is_dir() else p.name) for p in files}
        old_files = old.manifest["files"] if old else {}
        hashes = {p: file_sha256(p) for p in files}
        keep_sources = set()
        to_load = []
        for p in files:
            r = rel[p]
            if r in old_files and old_files[r]["sha256"] == hashes[p]:
                report.unchanged.append(r)
                keep_sources.add(r)
            else:
                (report.changed if r in old_files else report.new).append(r)
                to_load.append(p)
        report.removed = sorted(set(old_files) - set(rel.values()))

        # start from the old index minus rows of changed/removed files
        if old is not None:
            keep = np.array([c["source"] in keep_sources for c in old.chunks], dtype=bool)
            chunks = [c for c, k in zip(old.chunks, keep) if k]
            bm25 = old.bm25
            bm25.remove_docs(~keep)
            vectors = old.vectors
            if vectors is not None:
                vectors.keep(keep)
        else:
            chunks = []
            bm25 = BM25(**(bm25_params or {}))
            vectors = None

        new_chunks: list[dict[str, Any]] = []
        file_info = {r: old_files[r] for r in keep_sources}
        for p in to_load:
            r = rel[p]
            try:
                docs = loaders.load_file(p, source=r)
            except loaders.LoadError as e:
                report.failed.append((r, str(e)))
                for lst in (report.new, report.changed):
                    if r in lst:
                        lst.remove(r)
                continue
            file_chunks = []
            for doc in docs:
                title = doc.meta.get("title")
                for c in chunker.chunk(doc.text, markdown=doc.is_markdown, tokenizer=tokenizer):
                    row = {
                        "source": r,
                        "page": doc.page,
                        "start": c.start,
                        "end": c.end,
                        "heading_path": c.heading_path,
                        "n_tokens": c.n_tokens,
                        "text": c.text,
                    }
                    if title:
                        row["title"] = str(title)
                    if "id" in doc.meta:
                        row["doc_id"] = doc.meta["id"]
                    file_chunks.append(row)
            new_chunks.extend(file_chunks)
            file_info[r] = {
                "sha256": hashes[p],
                "size": p.stat().st_size,
                "n_chunks": len(file_chunks),
            }

        bm25.add_docs([analyzer(index_text(c)) for c in new_chunks])
        if bm25_params:
            bm25 = _reparam(bm25, bm25_params)
        if embedder is not None:
            new_vecs = embedder.embed_documents([c["text"] for c in new_chunks])
            if vectors is None:
                if len(new_vecs) == 0:
                    raise ValueError("cannot build a dense index with no chunks")
                vectors = VectorStore(new_vecs.shape[1])
            if len(new_vecs):
                vectors.add(new_vecs, [chunk_metadata(c) for c in new_chunks])
            emb_cfg["dim"] = vectors.dim  # type: ignore[index]
        chunks = chunks + new_chunks

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
            "files": dict(sorted(file_info.items())),
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
        """Write a new generation folder, then switch the manifest to it (the commit point)."""
        path.mkdir(parents=True, exist_ok=True)
        final = path / self.manifest["data"]
        tmp = path / f"{self.manifest['data']}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in self.chunks)
        _fsync_write(tmp / "chunks.jsonl", lines.encode("utf-8"))
        self.bm25.save(tmp)
        if self.vectors is not None:
            self.vectors.save(tmp)
        for f in tmp.iterdir():  # the npz/npy writers do not fsync
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if final.exists():  # a generation folder left by a build killed after its rename
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(path)
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
