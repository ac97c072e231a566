"""The ``python -m qwen_blog`` dispatcher: subcommands, and a clear message when a module is missing."""

from __future__ import annotations

import pytest

from qwen_blog import cli


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ("pretrain", "sft", "sample", "trace", "figures"):
        assert name in out


def test_passthrough_commands_get_their_own_argv(monkeypatch):
    seen = {}

    class Fake:
        @staticmethod
        def main(argv):
            seen["argv"] = argv
            return 0

    monkeypatch.setattr(cli, "_load", lambda command: Fake)
    assert cli.main(["trace", "你好", "--layers", "0,1"]) == 0
    assert seen["argv"] == ["你好", "--layers", "0,1"]


def test_missing_passthrough_module_is_reported(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "figures", ("qwen_blog.no_such_module", "x"))
    assert cli.main(["figures", "--out", "x"]) == 2
    assert "qwen_blog.no_such_module" in capsys.readouterr().err


def test_pretrain_requires_out(capsys):
    with pytest.raises(SystemExit):
        cli.main(["pretrain", "--config", "tiny"])
    assert "--out" in capsys.readouterr().err
