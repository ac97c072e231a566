"""tinyrag's CLI on bad input: one ``error:`` line naming the URL, exit code 2, quickly."""

from __future__ import annotations

import socket
import time

from tinyrag.cli import main


def test_ask_with_an_unreachable_endpoint_names_it(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# RoPE\n\nQwen2 uses rotary position embeddings.\n")
    assert main(["index", str(tmp_path / "docs"), "--index", str(tmp_path / "idx")]) == 0
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    capsys.readouterr()
    t0 = time.perf_counter()
    code = main(["ask", "What does Qwen2 use?", "--index", str(tmp_path / "idx"), "--model", url])
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - t0 < 5.0
    assert err.startswith("error: ") and url in err and "Traceback" not in err
