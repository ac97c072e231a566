"""Readers for retrieval test collections: Cranfield, Vaswani/NPL (TREC), CMRC 2018 (SQuAD-style).

Each reader returns a ``RetrievalSet``: ``docs`` {doc id: text}, ``queries`` {qid: text}, ``qrels``
{qid: {doc id: gain}}, and for SQuAD-style sets ``answers`` {qid: [answer texts]}.

- Cranfield (``cran.all.1400``, ``cran.qry``, ``cranqrel``): doc text = title + abstract. Query
  ``.I`` numbers are not consecutive; qrels use the query's position (1..225), so queries are
  renumbered by position (as ir_datasets does). Codes 1-4 are relevant with gain ``5 - code`` (1 =
  complete answer); the ``-1`` lines are dropped.
- Vaswani/NPL (``doc-text.trec``, ``query-text.trec``, ``qrels``): TREC ``<DOC>`` / ``<top>``
  records, binary qrels.
- SQuAD-style JSON (CMRC 2018): corpus = unique paragraph contexts (doc id = paragraph id, or
  ``title#n``), one query per question, its own paragraph the single relevant doc.
- Generic: ``read_trec_qrels`` (``qid 0 docno rel``), ``read_queries`` (TREC topics, ``qid<TAB>text``
  TSV, or JSONL ``{"id"|"_id"|"qid", "text"|"query"}``), ``read_corpus`` (TREC ``<DOC>``, or JSONL
  with ``id``/``_id`` and ``text`` (+ ``title``)).

    >>> ds = read_cranfield(Path("~/.cache/tiny-universe/data/cranfield").expanduser())  # doctest: +SKIP
    >>> len(ds.docs), len(ds.queries)                        # doctest: +SKIP
    (1400, 225)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RetrievalSet:
    name: str
    docs: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    answers: dict[str, list[str]] = field(default_factory=dict)


def _records(text: str, path: Path) -> list[tuple[str, dict[str, str]]]:
    """Split a Cranfield-style '.I n / .X field' file into (id, {field letter: text})."""
    out = []
    for block in re.split(r"^\.I\s+", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        fields = {}
        for m in re.finditer(r"^\.([A-Z])\s*\n(.*?)(?=^\.[A-Z]\s*$|\Z)", body, flags=re.M | re.S):
            fields[m.group(1)] = " ".join(m.group(2).split())
        if not head.strip():
            raise ValueError(f"{path}: a record has no .I number")
        out.append((head.strip(), fields))
    return out


def read_cranfield(folder: str | Path) -> RetrievalSet:
    folder = Path(folder)
    docs = {
        i.lstrip("0") or "0": f"{f.get('T', '')}\n{f.get('W', '')}".strip()
        for i, f in _records(
            (folder / "cran.all.1400").read_text(encoding="latin-1"), folder / "cran.all.1400"
        )
    }
    raw_q = _records((folder / "cran.qry").read_text(encoding="latin-1"), folder / "cran.qry")
    queries = {str(pos): f.get("W", "") for pos, (_, f) in enumerate(raw_q, 1)}
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate((folder / "cranqrel").read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            raise ValueError(f"{folder / 'cranqrel'}:{n}: expected 'qid docid code', got {line!r}")
        qid, did, code = parts[0], parts[1], int(parts[2])
        if 1 <= code <= 4:
            qrels.setdefault(qid, {})[did] = 5 - code
    return RetrievalSet("cranfield", docs, queries, qrels)


def read_trec_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: expected 'qid iter docno rel', got {line!r}")
        qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def read_queries(path: str | Path) -> dict[str, str]:
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if "<top>" in text:
        out = {}
        for top in re.findall(r"<top>(.*?)</top>", text, flags=re.S):
            num = re.search(r"<num>\s*(?:Number:)?\s*(\S+?)\s*(?:</num>|\n)", top)
            title = re.search(r"<title>\s*(.*?)\s*(?:</title>|<desc>|\Z)", top, flags=re.S)
            if not num or not title:
                raise ValueError(f"{path}: a <top> record lacks <num> or <title>")
            out[num.group(1)] = " ".join(title.group(1).split())
        return out
    if path.suffix == ".jsonl":
        out = {}
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                r = json.loads(line)
                qid = r.get("id", r.get("_id", r.get("qid")))
                q = r.get("text", r.get("query"))
                if qid is None or q is None:
                    raise ValueError(f"{path}:{n}: need fields id/_id/qid and text/query")
                out[str(qid)] = q
        return out
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            qid, sep, q = line.partition("\t")
            if not sep:
                raise ValueError(f"{path}:{n}: expected 'qid<TAB>query text'")
            out[qid.strip()] = q.strip()
    return out


def read_corpus(path: str | Path) -> dict[str, str]:
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if "<DOC>" in text:
        docs = {}
        for d in re.findall(r"<DOC>(.*?)</DOC>", text, flags=re.S):
            m = re.search(r"<DOCNO>\s*(.*?)\s*</DOCNO>(.*)", d, flags=re.S)
            if not m:
                raise ValueError(f"{path}: a <DOC> record has no <DOCNO>")
            docs[m.group(1)] = " ".join(re.sub(r"<[^>]+>", " ", m.group(2)).split())
        return docs
    docs = {}
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            r = json.loads(line)
            did = r.get("id", r.get("_id"))
            if did is None or "text" not in r:
                raise ValueError(f"{path}:{n}: need fields id/_id and text")
            docs[str(did)] = f"{r.get('title', '')}\n{r['text']}".strip()
    return docs


def read_vaswani(folder: str | Path) -> RetrievalSet:
    folder = Path(folder)
    return RetrievalSet(
        "vaswani",
        read_corpus(folder / "doc-text.trec"),
        {q: t.lower() for q, t in read_queries(folder / "query-text.trec").items()},
        read_trec_qrels(folder / "qrels"),
    )


def read_squad(path: str | Path, name: str | None = None) -> RetrievalSet:
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    docs, queries, qrels, answers = {}, {}, {}, {}
    for art in data.get("data", []):
        for n, para in enumerate(art.get("paragraphs", [])):
            did = str(para.get("id") or f"{art.get('title', '')}#{n}")
            if "context" not in para:
                raise ValueError(f"{path}: paragraph {did} has no 'context'")
            docs[did] = para["context"]
            for qa in para.get("qas", []):
                qid = str(qa["id"])
                queries[qid] = qa["question"]
                qrels[qid] = {did: 1}
                answers[qid] = [a["text"] for a in qa.get("answers", [])]
    return RetrievalSet(name or path.stem, docs, queries, qrels, answers)


def read_cmrc2018(folder: str | Path) -> RetrievalSet:
    return read_squad(Path(folder) / "cmrc2018_trial.json", "cmrc2018")
