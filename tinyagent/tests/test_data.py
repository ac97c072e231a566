"""``python -m tinyagent data fetch`` (ACEBench, BFCL v4) against a local fake hub.

Generated JSON-lines files stand in for the real ones (pins swapped for theirs); with the
developers' copy of ACEBench present, its real bytes are served under the real pins as well.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from conftest import DEV_DATA

from tinyagent.acebench import load_examples
from tinyagent.cli import main
from tinyagent.data import DATASETS
from tinyqwen.data_cache import fetch
from tinyqwen.fake_hub import FakeHub

SPECS = {s.name: s for s in DATASETS}


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


def _serve_generated(hub, spec, make):
    src = spec.sources[0]
    files = {k: make(k) for k in src.pins}
    pins = {k: (src.pins[k][0], len(v), hashlib.sha256(v).hexdigest()) for k, v in files.items()}
    hub.add_github(src.repo, src.revision, {pins[k][0]: v for k, v in files.items()})
    return dataclasses.replace(spec, sources=(dataclasses.replace(src, pins=pins),))


def test_acebench_layout_loads(hub, tmp_path):
    def make(path: str) -> bytes:
        rid = path.rsplit("/", 1)[-1].removeprefix("data_").removesuffix(".json") + "_0"
        if path.startswith("possible_answer/"):
            return (json.dumps({"id": rid, "ground_truth": {"f": {"x": 1}}}) + "\n").encode()
        fn = {
            "name": "f",
            "description": "d",
            "parameters": {
                "type": "object",
                "properties": {"x": {"type": "integer"}},
                "required": ["x"],
            },
        }
        return (
            json.dumps({"id": rid, "question": "user: 1", "function": [fn], "time": ""}) + "\n"
        ).encode()

    out = fetch(
        _serve_generated(hub, SPECS["acebench"], make),
        data_root=tmp_path,
        endpoint=hub.url,
        progress=False,
    )
    assert out == tmp_path / "acebench_zh" and (out / "possible_answer").is_dir()
    ex = load_examples(out, "normal_single_turn_single_function")
    assert len(ex) == 1


def test_bfcl_v4_layout(hub, tmp_path):
    out = fetch(
        _serve_generated(hub, SPECS["bfcl"], lambda p: (json.dumps({"id": p}) + "\n").encode()),
        data_root=tmp_path,
        endpoint=hub.url,
        progress=False,
    )
    cats = sorted(
        p.name.removeprefix("BFCL_v4_").removesuffix(".json") for p in out.glob("BFCL_v4_*.json")
    )
    assert len(cats) == 20 and "simple_python" in cats and "memory" in cats
    assert (out / "possible_answer" / "BFCL_v4_simple_python.json").is_file()
    assert len(list((out / "multi_turn_func_doc").glob("*.json"))) == 12


def test_acebench_real_bytes_match_the_pins(hub, tmp_path):
    spec = SPECS["acebench"]
    src, folder = spec.sources[0], DEV_DATA / "acebench_zh"
    if not folder.is_dir():
        pytest.skip(f"real data not present: {folder}")
    hub.add_github(
        src.repo,
        src.revision,
        {rp: (folder / k).read_bytes() for k, (rp, _, _) in src.pins.items()},
    )
    out = fetch(spec, data_root=tmp_path, endpoint=hub.url, progress=False)
    assert all((out / k).read_bytes() == (folder / k).read_bytes() for k in src.pins)


def test_eval_without_data_says_how_to_fetch(capsys):
    assert main(["eval", "--ground-truth", "--categories", "all"]) == 2
    assert "python -m tinyagent data fetch acebench" in capsys.readouterr().err
