"""tinyeval's CLI on bad input: one ``error:`` line naming the URL / file, exit code 2, quickly."""

from __future__ import annotations

import socket
import time

from tinyeval.cli import main


def test_unreachable_endpoint_is_one_line_within_seconds(tmp_path, capsys):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    t0 = time.perf_counter()
    code = main(["run", "--task", "demo_qa_en", "--model", url, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - t0 < 5.0
    assert err.startswith("error: ") and url in err and "Traceback" not in err


def test_unknown_task_is_one_line(tmp_path, capsys):
    assert main(["run", "--task", "nope", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: unknown task 'nope'")
