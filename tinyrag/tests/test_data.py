"""``python -m tinyrag data fetch`` for each collection's file layout, against a local fake hub.

Generated contents stand in for the real files (the pins are swapped for theirs); with the
developers' data copy present, the real bytes are served under the real pins as well.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from conftest import DEV_DATA

from tinyqwen.data_cache import fetch
from tinyqwen.fake_hub import FakeHub
from tinyrag.cli import main
from tinyrag.data import DATASETS
from tinyrag.evaluate import load_dataset

SPECS = {s.name: s for s in DATASETS}
SQUAD = {
    "data": [
        {
            "title": "t",
            "paragraphs": [
                {
                    "id": "p1",
                    "context": "北京是首都。",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "首都?",
                            "answers": [{"text": "北京", "answer_start": 0}],
                        }
                    ],
                }
            ],
        }
    ]
}
FAKE = {
    "cranfield": {
        "cran.all.1400": b".I 1\n.T\nwings\n.A\nx\n.B\ny\n.W\nlift of wings\n",
        "cran.qry": b".I 001\n.W\nwing lift\n",
        "cranqrel": b"1 1 2\n1 2 -1\n",
        "cranqrel.readme": b"codes\n",
    },
    "vaswani": {
        "doc-text.trec": b"<DOC><DOCNO>1</DOCNO> electron spin </DOC>\n",
        "query-text.trec": b"<top><num>1</num><title> ELECTRON </title></top>\n",
        "qrels": b"1 0 1 1\n",
    },
    "cmrc2018": {
        "cmrc2018_trial.json": json.dumps(SQUAD, ensure_ascii=False).encode(),
        "cmrc2018_dev.json": json.dumps(SQUAD, ensure_ascii=False).encode(),
    },
}


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fetch_layout_then_eval_reads_it(hub, tmp_path, name):
    src = SPECS[name].sources[0]
    files = FAKE[name]
    pins = {k: (src.pins[k][0], len(v), hashlib.sha256(v).hexdigest()) for k, v in files.items()}
    assert set(pins) == set(src.pins)  # the fake covers every pinned file
    hub.add_github(src.repo, src.revision, {pins[k][0]: v for k, v in files.items()})
    spec = dataclasses.replace(SPECS[name], sources=(dataclasses.replace(src, pins=pins),))
    fetch(spec, data_root=tmp_path, endpoint=hub.url, progress=False)
    ds = load_dataset(name, tmp_path)
    assert len(ds.docs) == 1 and len(ds.queries) == 1 and ds.qrels


@pytest.mark.parametrize("name", sorted(SPECS))
def test_real_bytes_match_the_pinned_sha256(hub, tmp_path, name):
    spec = SPECS[name]
    src, folder = spec.sources[0], DEV_DATA / spec.folder
    have = {k: folder / k for k in src.pins if (folder / k).is_file()}
    if not have:
        pytest.skip(f"real data not present: {folder}")
    hub.add_github(
        src.repo, src.revision, {src.pins[k][0]: p.read_bytes() for k, p in have.items()}
    )
    pins = {k: src.pins[k] for k in have}  # the dev copy of cmrc2018 holds the trial split only
    spec = dataclasses.replace(spec, sources=(dataclasses.replace(src, pins=pins),))
    out = fetch(spec, data_root=tmp_path, endpoint=hub.url, progress=False)
    assert all((out / k).read_bytes() == p.read_bytes() for k, p in have.items())


def test_eval_without_data_says_how_to_fetch(tmp_path, capsys):
    assert main(["eval", "--dataset", "vaswani", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "python -m tinyrag data fetch vaswani" in err
