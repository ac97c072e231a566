"""`tinyqwen download`: fetch a model repo from the Hugging Face hub (or a mirror) or ModelScope.

    $ tinyqwen download Qwen/Qwen2.5-0.5B-Instruct --to models/qwen0.5b
    $ HF_ENDPOINT=https://hf-mirror.com tinyqwen download Qwen/Qwen2.5-0.5B-Instruct --to models/q
    $ tinyqwen download Qwen/Qwen2.5-0.5B-Instruct --to models/q --source modelscope

    >>> from tinyqwen.download import download
    >>> download("Qwen/Qwen2.5-0.5B-Instruct", "models/q", include=["*.json", "*.safetensors"])  # doctest: +SKIP

What it does, per source:

- Hugging Face (`--source hf`, the default): the endpoint is `--endpoint`, else `$HF_ENDPOINT`, else
  https://huggingface.co; revision `main`. Files are listed with
  `GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true` (paginated through the `Link:
  <...>; rel="next"` header), falling back to the `siblings` of `GET {endpoint}/api/models/{repo}
  /revision/{revision}` for mirrors without the tree API; each file comes from
  `{endpoint}/{repo}/resolve/{revision}/{path}`. `$HF_TOKEN` is sent as a bearer token.
- ModelScope (`--source modelscope`): the endpoint is `--endpoint`, else https://www.modelscope.cn;
  revision `master`. Listing: `GET {endpoint}/api/v1/models/{repo}/repo/files?Revision=..&Recursive=
  true` (`Data.Files[]` with `Type` "blob", `Path`, `Size`, `Sha256`); each file:
  `GET {endpoint}/api/v1/models/{repo}/repo?Revision=..&FilePath=..`. `$MODELSCOPE_API_TOKEN` is sent
  as a bearer token.

Every file is written to `{to}/{path}.incomplete` first; an interrupted download (Ctrl-C, a dropped
connection) resumes from that file's size with an HTTP `Range: bytes=N-` request, and a dropped
connection is retried with exponential backoff. When the transfer is done the size is checked, then
the checksum: sha256 for LFS files (HF `lfs.oid`, ModelScope `Sha256`) and the git blob sha1 for
small HF files (HF `oid`). Only a verified file is renamed (atomically) to its final name; a file
that fails its check is deleted and the download fails naming it.

Stated limits: a final file that already exists with the listed size is trusted and skipped (it
was verified when it was renamed into place; delete it to fetch it again); with the siblings
fallback the listing has no sizes or hashes, so files are fetched again and only the transfer's
length is checked (Content-Length by requests). Files download one after
another, not in parallel. Listing entries are refused (`DownloadError`) when their path is absolute
or has a `..`, `.` or empty part, a backslash or a control character (NUL included), or when one
path is both a file and a folder (`x` and `x/y.txt`); a file whose stream runs past its listed size
is cut off at once and deleted.

Dataset repos: `repo_type="dataset"` (used by `tinyqwen.data_cache`) lists
`{endpoint}/api/datasets/{repo}/tree/{revision}` and fetches `{endpoint}/datasets/{repo}/resolve/...`
on the HF hub; ModelScope datasets are listed with `api/v1/datasets/{repo}/repo/tree` (paged,
folders walked) and fetched with `api/v1/datasets/{repo}/repo?FilePath=...`.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import requests
import urllib3

from tinyqwen.errors import UserError

HF_DEFAULT_ENDPOINT = "https://huggingface.co"
MS_DEFAULT_ENDPOINT = "https://www.modelscope.cn"
_CHUNK = 1 << 20  # bytes per read / write


class DownloadError(UserError, RuntimeError):
    """Listing or downloading failed; the message says what and what to try."""


class ChecksumError(DownloadError):
    """A downloaded file's size or hash differs from what the hub lists."""


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative, "/"-separated
    url: str
    size: int | None = None
    sha256: str | None = None  # LFS oid / ModelScope Sha256
    git_sha1: str | None = None  # git blob id of a small (non-LFS) HF file


# ---------------------------------------------------------------------------------------- listing
def _safe_relpath(path: str) -> str:
    """A listed path as a clean relative path, or a DownloadError: absolute paths, `..`, `.`,
    empty parts, backslashes and control characters (NUL included) are refused."""
    if not isinstance(path, str) or not path:
        raise DownloadError(f"refusing the listed file path {path!r}: empty or not a string")
    parts = path.split("/")
    if any(ord(c) < 32 for c in path) or "\\" in path:
        raise DownloadError(f"refusing the listed file path {path!r}: control or '\\' characters")
    if PurePosixPath(path).is_absolute() or any(part in ("", ".", "..") for part in parts):
        raise DownloadError(f"refusing the listed file path {path!r}: it would escape the target")
    return path


def _check_layout(files: list[RemoteFile]) -> None:
    """Refuse a listing where one path is both a file and a folder (`x` and `x/y.txt`)."""
    paths = {f.path for f in files}
    for f in files:
        parts = f.path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in paths:
                raise DownloadError(
                    f"the listing has both the file {prefix!r} and {f.path!r} inside it; "
                    "a path cannot be a file and a folder at once"
                )


def _get(session: requests.Session, url: str, what: str, timeout: float) -> requests.Response:
    try:
        resp = session.get(url, timeout=timeout)
    except requests.ConnectionError as e:
        raise DownloadError(
            f"cannot reach {url} while {what}: {e}\n"
            "Are you offline? Behind a firewall, try a mirror: HF_ENDPOINT=https://hf-mirror.com, "
            "or --source modelscope."
        ) from e
    except requests.Timeout as e:
        raise DownloadError(f"timed out after {timeout}s while {what} ({url})") from e
    if resp.status_code in (401, 403):
        raise DownloadError(
            f"HTTP {resp.status_code} while {what} ({url}): the repo is private or gated; "
            "accept its licence on the hub and set HF_TOKEN (or MODELSCOPE_API_TOKEN)"
        )
    if resp.status_code == 404:
        raise DownloadError(f"HTTP 404 while {what} ({url}): no such repo, revision or file")
    if resp.status_code >= 400:
        raise DownloadError(f"HTTP {resp.status_code} while {what} ({url}): {resp.text[:300]}")
    return resp


def list_hf_files(
    session: requests.Session,
    endpoint: str,
    repo_id: str,
    revision: str,
    timeout: float = 30,
    repo_type: str = "model",
) -> list[RemoteFile]:
    """Files of a HF-hub repo (tree API, paginated; siblings listing as a fallback).
    `repo_type` "dataset" uses `/api/datasets/...` and `{endpoint}/datasets/{repo}/resolve/...`."""
    rev = quote(revision, safe="")
    api = f"{endpoint}/api/{repo_type}s/{repo_id}"
    web = f"{endpoint}/{repo_id}" if repo_type == "model" else f"{endpoint}/{repo_type}s/{repo_id}"

    def url_of(path: str) -> str:
        return f"{web}/resolve/{rev}/{quote(path)}"

    files: list[RemoteFile] = []
    url: str | None = f"{api}/tree/{rev}?recursive=true"
    try:
        while url:
            resp = _get(session, url, f"listing {repo_id}", timeout)
            for entry in resp.json():
                if entry.get("type") != "file":
                    continue  # "directory" entries: their files are listed too (recursive)
                path = _safe_relpath(entry["path"])
                lfs = entry.get("lfs") or {}
                files.append(
                    RemoteFile(
                        path=path,
                        url=url_of(path),
                        size=entry.get("size"),
                        sha256=lfs.get("oid") or lfs.get("sha256"),
                        git_sha1=None if lfs else entry.get("oid"),
                    )
                )
            url = resp.links.get("next", {}).get("url")
        return files
    except DownloadError as e:
        if "HTTP 404" not in str(e) or files:
            raise
    # some mirrors do not implement the tree API: fall back to the repo's siblings (names only)
    resp = _get(session, f"{api}/revision/{rev}", "listing", timeout)
    siblings = resp.json().get("siblings") or []
    return [
        RemoteFile(path=_safe_relpath(s["rfilename"]), url=url_of(s["rfilename"])) for s in siblings
    ]


def list_modelscope_files(
    session: requests.Session,
    endpoint: str,
    repo_id: str,
    revision: str,
    timeout: float = 30,
    repo_type: str = "model",
) -> list[RemoteFile]:
    """Files of a ModelScope repo: models via the recursive `repo/files` API; datasets via
    `repo/tree` (paged; folders that come back as "tree" entries are listed in turn)."""
    rev = quote(revision, safe="")
    api = f"{endpoint}/api/v1/{repo_type}s/{repo_id}"

    def entries(url: str) -> list[dict]:
        body = _get(session, url, f"listing {repo_id}", timeout).json()
        if body.get("Code") not in (200, None) or not isinstance(body.get("Data"), dict):
            raise DownloadError(
                f"ModelScope refused listing {repo_id}: {body.get('Message', body)}"
            )
        return body["Data"].get("Files") or []

    if repo_type == "model":
        listed = entries(f"{api}/repo/files?Revision={rev}&Recursive=true")
    else:
        listed, todo, seen = [], [""], set()
        while todo:
            root = todo.pop()
            seen.add(root)
            for page in range(1, 1000):
                got = entries(
                    f"{api}/repo/tree?Revision={rev}&Root={quote(root, safe='')}"
                    f"&Recursive=true&PageNumber={page}&PageSize=500"
                )
                listed += got
                todo += [
                    e["Path"] for e in got if e.get("Type") == "tree" and e["Path"] not in seen
                ]
                if len(got) < 500:
                    break
    files, paths = [], set()
    for entry in listed:
        if entry.get("Type") != "blob" or entry.get("Path") in paths:
            continue  # "tree" = a directory
        path = _safe_relpath(entry["Path"])
        paths.add(path)
        files.append(
            RemoteFile(
                path=path,
                url=f"{api}/repo?Revision={rev}&FilePath={quote(path, safe='')}",
                size=entry.get("Size"),
                sha256=entry.get("Sha256") or None,
            )
        )
    return files


# ---------------------------------------------------------------------------------------- one file
def _hash_file(path: Path, size_hint: int | None) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file on disk."""
    sha256 = hashlib.sha256()
    size = path.stat().st_size if size_hint is None else size_hint
    git = hashlib.sha1(f"blob {size}\0".encode())  # git's object header
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha256.update(chunk)
            git.update(chunk)
    return sha256.hexdigest(), git.hexdigest()


def _verify(tmp: Path, rf: RemoteFile) -> None:
    size = tmp.stat().st_size
    problem = None
    if rf.size is not None and size != rf.size:
        problem = f"size {size} bytes, the listing says {rf.size}"
    elif rf.sha256 or rf.git_sha1:
        sha256, git_sha1 = _hash_file(tmp, size)
        if rf.sha256 and sha256 != rf.sha256.lower():
            problem = f"sha256 {sha256}, the listing says {rf.sha256}"
        elif rf.git_sha1 and not rf.sha256 and git_sha1 != rf.git_sha1.lower():
            problem = f"git blob sha1 {git_sha1}, the listing says {rf.git_sha1}"
    if problem:
        tmp.unlink()
        raise ChecksumError(f"{rf.path}: downloaded file has {problem}; deleted, not kept")


def _body_chunks(resp: requests.Response) -> Iterator[bytes]:
    """The response body as it arrives. `read1` returns what is there (up to _CHUNK), so a dropped
    connection loses no received byte; `iter_content` would drop a partly filled chunk."""
    raw = resp.raw
    if hasattr(raw, "read1"):  # urllib3 >= 2
        while chunk := raw.read1(_CHUNK):
            yield chunk
    else:
        yield from resp.iter_content(chunk_size=64 * 1024)


def download_file(
    session: requests.Session,
    rf: RemoteFile,
    dest: Path,
    *,
    max_retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60,
    progress: bool = True,
) -> Path:
    """Download one file to `dest` via `dest.incomplete`, resuming, retrying, verifying."""
    from tqdm.auto import tqdm

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # e.g. a file already sits where a folder is needed
        raise DownloadError(f"{rf.path}: cannot create the folder {dest.parent}: {e}") from e
    if dest.is_dir():
        raise DownloadError(f"{rf.path}: {dest} is a folder, cannot write the file there")
    tmp = dest.with_name(dest.name + ".incomplete")
    bar = tqdm(
        total=rf.size,
        initial=tmp.stat().st_size if tmp.exists() else 0,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=rf.path,
        disable=not progress,
        leave=True,
    )
    attempt = 0
    try:
        while True:
            have = tmp.stat().st_size if tmp.exists() else 0
            if rf.size is not None and have == rf.size and tmp.exists():
                break  # complete already (e.g. the connection dropped right after the last byte)
            # identity: a gzip-encoded body would make byte offsets meaningless for Range
            headers = {"Accept-Encoding": "identity"}
            if have:
                headers["Range"] = f"bytes={have}-"
            try:
                with session.get(rf.url, headers=headers, stream=True, timeout=timeout) as resp:
                    status = resp.status_code
                    if status == 416:  # range past the end: the partial is useless, start over
                        tmp.unlink(missing_ok=True)
                        bar.reset(total=rf.size)
                        raise requests.ConnectionError("HTTP 416 on resume; restarting the file")
                    if status == 429 or status >= 500:
                        raise requests.ConnectionError(f"HTTP {status} for {rf.url}")
                    if status >= 400:
                        hint = "private or gated: set HF_TOKEN" if status in (401, 403) else ""
                        raise DownloadError(
                            f"HTTP {status} for {rf.path} ({rf.url}) {hint}{resp.text[:200]}"
                        )
                    mode = "ab"
                    if have and status != 206:  # the server ignored Range: start over
                        mode = "wb"
                        bar.reset(total=rf.size)
                    written = have if mode == "ab" else 0
                    with open(tmp, mode) as f:
                        for chunk in _body_chunks(resp):
                            written += len(chunk)
                            if rf.size is not None and written > rf.size:
                                f.close()
                                tmp.unlink(missing_ok=True)
                                raise ChecksumError(
                                    f"{rf.path}: the server sent more than the listed {rf.size} "
                                    f"bytes ({rf.url}); stopped and deleted the partial file"
                                )
                            f.write(chunk)
                            bar.update(len(chunk))
                if rf.size is None or tmp.stat().st_size >= rf.size:
                    break
                raise requests.ConnectionError("connection closed before the end of the file")
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,  # the body was cut mid-transfer
                urllib3.exceptions.HTTPError,  # ... as raw.read1 reports it
            ) as e:
                attempt += 1
                if attempt > max_retries:
                    raise DownloadError(
                        f"{rf.path}: giving up after {max_retries} retries ({e}); run the same "
                        f"command again to resume from {tmp}"
                    ) from e
                time.sleep(backoff * 2 ** (attempt - 1))
    finally:
        bar.close()
    _verify(tmp, rf)
    os.replace(tmp, dest)  # atomic: the final name only ever holds a verified file
    return dest


# ---------------------------------------------------------------------------------------- repo
def hub_session(token: str | None = None) -> requests.Session:
    """A requests session with the bearer token (if any) and tinyqwen's User-Agent."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    session.headers["User-Agent"] = "tinyqwen-download/0.1"
    return session


def list_repo_files(
    repo_id: str,
    *,
    source: str = "hf",
    repo_type: str = "model",
    endpoint: str | None = None,
    revision: str | None = None,
    include: Iterable[str] | None = None,
    token: str | None = None,
    timeout: float = 60,
) -> tuple[requests.Session, list[RemoteFile], str]:
    """(session, files matching `include`, revision) of a hub repo; refuses an empty result."""
    if repo_id.count("/") != 1 or any(not part for part in repo_id.split("/")):
        raise DownloadError(f"repo id must look like 'org/name', got {repo_id!r}")
    if repo_type not in ("model", "dataset"):
        raise DownloadError(f"repo_type must be 'model' or 'dataset', got {repo_type!r}")
    if source == "hf":
        endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or HF_DEFAULT_ENDPOINT).rstrip("/")
        token = token or os.environ.get("HF_TOKEN")
        lister = list_hf_files
        revision = revision or "main"
    elif source == "modelscope":
        endpoint = (endpoint or MS_DEFAULT_ENDPOINT).rstrip("/")
        token = token or os.environ.get("MODELSCOPE_API_TOKEN")
        lister = list_modelscope_files
        revision = revision or "master"
    else:
        raise DownloadError(f"source must be 'hf' or 'modelscope', got {source!r}")
    session = hub_session(token)
    files = lister(session, endpoint, repo_id, revision, timeout=timeout, repo_type=repo_type)
    patterns = list(include or [])
    if patterns:
        files = [f for f in files if any(fnmatch.fnmatch(f.path, p) for p in patterns)]
    if not files:
        raise DownloadError(
            f"{repo_id}@{revision} on {endpoint}: nothing to download"
            + (f" matching {patterns}" if patterns else " (empty listing)")
        )
    return session, files, revision


def download_files(
    session: requests.Session,
    files: list[RemoteFile],
    root: str | Path,
    *,
    progress: bool = True,
    max_retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60,
) -> Path:
    """Download `files` under `root` (each resumable and verified; see the module docstring)."""
    _check_layout(files)
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    for rf in files:
        dest = root / _safe_relpath(rf.path)
        if dest.is_file() and rf.size is not None and dest.stat().st_size == rf.size:
            continue  # verified when it was renamed into place (see the module docstring)
        download_file(
            session,
            rf,
            dest,
            max_retries=max_retries,
            backoff=backoff,
            timeout=timeout,
            progress=progress,
        )
    return root


def download(
    repo_id: str,
    to: str | Path,
    *,
    source: str = "hf",
    repo_type: str = "model",
    endpoint: str | None = None,
    revision: str | None = None,
    include: Iterable[str] | None = None,
    token: str | None = None,
    progress: bool = True,
    max_retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60,
) -> Path:
    """Download every file of `repo_id` (those matching `include` globs, if given) into `to`."""
    session, files, _ = list_repo_files(
        repo_id,
        source=source,
        repo_type=repo_type,
        endpoint=endpoint,
        revision=revision,
        include=include,
        token=token,
        timeout=timeout,
    )
    return download_files(
        session,
        files,
        to,
        progress=progress,
        max_retries=max_retries,
        backoff=backoff,
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> int:
    """`tinyqwen download REPO_ID --to DIR [--endpoint URL] [--source hf|modelscope] [--revision]`."""
    parser = argparse.ArgumentParser(
        prog="tinyqwen download",
        description="Download a model repo from the Hugging Face hub (or a mirror) or ModelScope.",
    )
    parser.add_argument("repo_id", help="e.g. Qwen/Qwen2.5-0.5B-Instruct")
    parser.add_argument("--to", required=True, help="target directory")
    parser.add_argument("--source", choices=("hf", "modelscope"), default="hf")
    parser.add_argument("--endpoint", default=None, help="hub URL (default: $HF_ENDPOINT or hub)")
    parser.add_argument("--revision", default=None, help="branch, tag or commit")
    parser.add_argument("--include", action="append", default=None, help="glob (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        path = download(
            args.repo_id,
            args.to,
            source=args.source,
            endpoint=args.endpoint,
            revision=args.revision,
            include=args.include,
            progress=not args.quiet,
        )
    except DownloadError as e:  # offline, gated, bad listing: one line, like every CLI here
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return 130
    print(path)
    return 0


if __name__ == "__main__":
    from tinyqwen.errors import run_cli

    raise SystemExit(run_cli(main))
