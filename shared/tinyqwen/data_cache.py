"""The one local data cache: every mini-project's ``data fetch`` writes into it, every CLI reads it.

    $ python -m tinyeval data fetch gsm8k            # -> ~/.cache/tiny-universe/data/gsm8k/
    $ python -m tinyrag data fetch cranfield --data-dir /data/tu
    $ HF_ENDPOINT=https://hf-mirror.com python -m tinyeval data fetch mmlu
    $ python -m tinyeval data list                    # what is there, what could be fetched

    >>> from tinyqwen.data_cache import data_dir
    >>> data_dir("/tmp/d").as_posix()
    '/tmp/d'

Where: ``--data-dir``, else ``$TINYU_DATA_DIR``, else ``~/.cache/tiny-universe/data``. Each dataset
is one folder there, holding the files its tasks read (converted where the source's layout differs)
and ``MANIFEST.json``: the source, repo, revision, and size + sha256 of every fetched and every
written file.

A dataset (:class:`DatasetSpec`) names one or more alternative sources (:class:`Source`, chosen
with ``--source``; the first is the default):

- ``hf``: a Hugging Face Hub *dataset* repo at a revision (``$HF_ENDPOINT`` / ``--endpoint`` for a
  mirror); files by glob; each file checked against the sha256 (LFS) or git blob id the hub lists.
- ``modelscope``: a ModelScope dataset repo (``--endpoint``, ``$MODELSCOPE_API_TOKEN``).
- ``github``: files of a GitHub repo at a pinned commit, from ``raw.githubusercontent.com`` (or
  ``$TINYU_GITHUB_RAW`` / ``--endpoint``, a mirror with the same URL layout), each checked
  against the size and sha256 pinned in the code.

The transfer is :mod:`tinyqwen.download` (resume with ``Range``, retries, checksums, atomic rename,
an "are you offline?" message). Raw files land in ``<data dir>/.partial/<name>/<source>/raw`` (so
an interrupted fetch resumes), the converted folder is built next to them and renamed into place
only when complete, so ``<data dir>/<folder>`` is either absent or whole. Then the partial folder
is deleted.

Limits: one dataset at a time, files one after another, no lock (two fetches of the same dataset at
once share the partial folder: do not); a dataset already fetched is kept
(``--force`` fetches again); conversion reads whole files into memory (the largest, LongBench's
zip, is ~114 MB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from tinyqwen.atomic import atomic_write_text
from tinyqwen.download import (
    DownloadError,
    RemoteFile,
    download_files,
    hub_session,
    list_repo_files,
)

DATA_ENV = "TINYU_DATA_DIR"
DEFAULT_DATA_DIR = "~/.cache/tiny-universe/data"
GITHUB_RAW = "https://raw.githubusercontent.com"
GITHUB_ENV = "TINYU_GITHUB_RAW"  # a mirror of raw.githubusercontent.com (same URL layout)
MANIFEST = "MANIFEST.json"
SOURCE_KINDS = ("hf", "modelscope", "github")


class DataError(DownloadError):
    """A fetched file could not be converted (the message names the file and what is wrong)."""


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """``override`` (``--data-dir``), else ``$TINYU_DATA_DIR``, else ``~/.cache/tiny-universe/data``."""
    return Path(override or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR).expanduser()


def shared_dev_data(repo_root: str | os.PathLike) -> Path | None:
    """The developers' copy of the real data (``<repo>/../shared/data``), for tests only.

    ``$TINYU_SHARED_DATA=off`` hides it (CI proves the suite passes without it); a path points
    elsewhere. None when absent, so a test can ``pytest.skip`` with the reason.
    """
    env = os.environ.get("TINYU_SHARED_DATA", "")
    if env.lower() in ("off", "0", "no", "none"):
        return None
    path = Path(env) if env else Path(repo_root).resolve().parent / "shared" / "data"
    return path if path.is_dir() else None


@dataclass(frozen=True)
class Source:
    """Where a dataset's files come from.

    ``files``: globs of repo paths (hf, modelscope). ``pins`` (github): local path -> (repo path,
    size, sha256). ``convert(raw, out)`` turns the fetched files into the layout the tasks read;
    None keeps them as they are.
    """

    kind: str
    repo: str
    revision: str
    files: tuple[str, ...] = ()
    pins: Mapping[str, tuple[str, int, str]] = field(default_factory=dict)
    convert: Callable[[Path, Path], None] | None = None

    def describe(self) -> str:
        return f"{self.kind}:{self.repo}@{self.revision}"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a mini-project can fetch: its folder under the data dir and its sources.

    ``extras`` are fetched with every source (e.g. C-Eval's subject names from its GitHub repo).
    ``size`` is the download size as a person would say it ("4.9 MB").
    """

    name: str
    folder: str
    about: str
    size: str
    license: str
    sources: tuple[Source, ...]
    extras: tuple[Source, ...] = ()

    def source(self, kind: str | None) -> Source:
        if kind is None:
            return self.sources[0]
        for s in self.sources:
            if s.kind == kind:
                return s
        kinds = ", ".join(s.kind for s in self.sources)
        raise DownloadError(f"dataset {self.name!r} has no {kind!r} source; it has: {kinds}")


# ---------------------------------------------------------------------------------------- fetch
def _github_files(src: Source, endpoint: str | None) -> list[RemoteFile]:
    base = (endpoint or os.environ.get(GITHUB_ENV) or GITHUB_RAW).rstrip("/")
    return [
        RemoteFile(
            path=local,
            url=f"{base}/{src.repo}/{src.revision}/{quote(repo_path)}",
            size=size,
            sha256=sha256,
        )
        for local, (repo_path, size, sha256) in src.pins.items()
    ]


def _fetch_source(
    src: Source, raw: Path, endpoint: str | None, progress: bool, retries: int, backoff: float
) -> dict:
    """Download one source's files into ``raw``; return its manifest entry."""
    if src.kind == "github":
        session, files, revision = hub_session(), _github_files(src, endpoint), src.revision
        _probe(session, files[0].url)
    else:
        session, files, revision = list_repo_files(
            src.repo,
            source=src.kind,
            repo_type="dataset",
            endpoint=endpoint,
            revision=src.revision,
            include=src.files,
        )
    download_files(session, files, raw, progress=progress, max_retries=retries, backoff=backoff)
    return {
        "source": src.kind,
        "repo": src.repo,
        "revision": revision,
        "files": [_file_entry(raw, f.path) for f in files],
    }


def _probe(session, url: str) -> None:
    """Fail in seconds, not after the retries, when the host does not answer at all."""
    import requests

    try:
        session.head(url, timeout=(5, 30), allow_redirects=True).close()
    except requests.ConnectionError as e:
        host = url.split("/", 3)[2] if "//" in url else url
        raise DownloadError(
            f"cannot reach {host} ({url}): {e}\nAre you offline? For GitHub files a mirror can "
            f"be set with ${GITHUB_ENV} (or --endpoint with --source github)."
        ) from e


def _file_entry(root: Path, rel: str) -> dict:
    h = hashlib.sha256()
    with open(root / rel, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return {"path": rel, "size": (root / rel).stat().st_size, "sha256": h.hexdigest()}


def fetch(
    spec: DatasetSpec,
    *,
    data_root: str | os.PathLike | None = None,
    source: str | None = None,
    endpoint: str | None = None,
    force: bool = False,
    progress: bool = True,
    max_retries: int = 5,
    backoff: float = 1.0,
) -> Path:
    """Fetch ``spec`` into ``<data dir>/<spec.folder>`` (see the module docstring); its path."""
    root = data_dir(data_root)
    final = root / spec.folder
    if (final / MANIFEST).is_file() and not force:
        return final
    if final.exists() and not force:  # a folder we did not write: never replace it silently
        raise DownloadError(
            f"{final} exists but was not written by data fetch (no {MANIFEST}); "
            "move it away, or pass --force to replace it"
        )
    src = spec.source(source)
    partial = root / ".partial" / spec.name / src.kind
    raw, out = partial / "raw", partial / "out"
    entries, parts = [], list(enumerate((src, *spec.extras)))
    for i, s in parts:
        # the extras use their own default host: --endpoint is for the chosen source only
        ep = endpoint if i == 0 else None
        entries.append(_fetch_source(s, raw / str(i), ep, progress, max_retries, backoff))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for i, s in parts:
        if s.convert is None:
            shutil.copytree(raw / str(i), out, dirs_exist_ok=True)
        else:
            s.convert(raw / str(i), out)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    manifest = {
        "dataset": spec.name,
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "license": spec.license,
        "sources": entries,
        "outputs": [_file_entry(out, rel) for rel in written],
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    if final.exists():  # --force: the old folder goes only once the new one is complete
        os.replace(final, partial / "old")
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(out, final)
    shutil.rmtree(root / ".partial" / spec.name, ignore_errors=True)
    return final


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------- CLI
def add_data_parser(subparsers, specs: Sequence[DatasetSpec], prog: str, key: str = "func") -> None:
    """Add ``data list|fetch`` to a CLI's subparsers; the handler ``f(args) -> int`` is stored
    under ``key`` (the attribute the CLI dispatches on)."""
    p = subparsers.add_parser(
        "data",
        help="list / fetch the datasets into the data cache",
        description=f"Datasets live in --data-dir, else ${DATA_ENV}, else {DEFAULT_DATA_DIR}.",
    )
    _fill_data_parser(p, specs, prog, key)


def _fill_data_parser(
    p: argparse.ArgumentParser, specs: Sequence[DatasetSpec], prog: str, key: str
) -> None:
    sub = p.add_subparsers(dest="data_command", required=True, metavar="list|fetch")
    ls = sub.add_parser("list", help="every dataset: fetched or not, size, sources")
    ls.add_argument("--data-dir", default=None)
    fe = sub.add_parser("fetch", help="download (resumable, verified) and convert")
    names = ", ".join(s.name for s in specs)
    fe.add_argument("names", nargs="+", metavar="NAME", help=f"{names}, or all")
    fe.add_argument("--data-dir", default=None, help=f"default ${DATA_ENV} or {DEFAULT_DATA_DIR}")
    fe.add_argument(
        "--source", choices=SOURCE_KINDS, default=None, help="default: the first listed"
    )
    fe.add_argument("--endpoint", default=None, help="hub / mirror URL for the chosen source")
    fe.add_argument("--force", action="store_true", help="fetch again even if present")
    fe.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(**{key: lambda args: run_data_command(args, specs, prog)})


def run_data_command(args: argparse.Namespace, specs: Sequence[DatasetSpec], prog: str) -> int:
    by_name = {s.name: s for s in specs}
    root = data_dir(args.data_dir)
    if args.data_command == "list":
        print(f"data dir: {root}")
        for s in specs:
            m = read_manifest(root / s.folder)
            state = f"fetched {m['fetched_at']}" if m else "not fetched"
            sources = " | ".join(x.describe() for x in s.sources)
            print(f"  {s.name:<14} {s.size:>9}  {state:<30} {s.about}\n  {'':<14} from {sources}")
        return 0
    names = list(by_name) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise DownloadError(f"unknown dataset {unknown[0]!r}; known: {', '.join(by_name)} (or all)")
    for n in names:
        path = fetch(
            by_name[n],
            data_root=root,
            source=args.source,
            endpoint=args.endpoint,
            force=args.force,
            progress=not args.quiet,
        )
        print(f"{n}: {path}")
    return 0


def data_main(argv: Sequence[str], specs: Sequence[DatasetSpec], prog: str) -> int:
    """``PROG data list|fetch ...`` for CLIs that dispatch on argv themselves."""
    p = argparse.ArgumentParser(prog=f"{prog} data", description=f"data dir: ${DATA_ENV}")
    _fill_data_parser(p, specs, prog, "func")
    return run_data_command(p.parse_args(list(argv)), specs, prog)


def missing_hint(prog: str, name: str, flag: str = "--data-dir") -> str:
    """The one-line hint every CLI prints when a dataset folder is absent."""
    return f"fetch it with: {prog} data fetch {name}  (or pass {flag} / set ${DATA_ENV})"
