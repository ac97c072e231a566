"""Evaluating a LoRA fine-tune: ``--adapter DIR`` on any local ``--model``, and an adapter
directory passed as ``--model`` (its base read from adapter_config.json). The merge itself is
checked against peft in shared/tests/test_adapters.py; here the tinyeval paths."""

from __future__ import annotations

import json

import pytest

from tinyeval.cli import main


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, tiny_random):
    import torch
    from safetensors.torch import save_file

    from tinyqwen.adapters import LoraConfig

    d = tmp_path_factory.mktemp("adapter")
    cfg = LoraConfig(r=2, lora_alpha=4, target_modules=("q_proj", "down_proj"),
                     base_model_name_or_path="tiny-random")  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for name, mod in tiny_random.model.named_modules():
        if name.endswith(("q_proj", "down_proj")):
            out_f, in_f = mod.weight.shape
            tensors[f"base_model.model.{name}.lora_A.weight"] = torch.randn(2, in_f, generator=gen)
            tensors[f"base_model.model.{name}.lora_B.weight"] = torch.randn(out_f, 2, generator=gen)
    save_file(tensors, str(d / "adapter_model.safetensors"))
    (d / "adapter_config.json").write_text(json.dumps(cfg.to_peft_dict()), encoding="utf-8")
    return d


def _preds(path):
    return [json.loads(x)["pred"] for x in path.read_text(encoding="utf-8").splitlines()]


def test_adapter_flag_and_adapter_as_model(tmp_path, adapter, capsys) -> None:
    common = ["--task", "demo_qa_en", "--limit", "4", "--quiet"]
    assert main(["run", "--model", "tiny-random", "--out", str(tmp_path / "base"), *common]) == 0
    argv = [
        "run",
        "--model",
        "tiny-random",
        "--adapter",
        str(adapter),
        "--out",
        str(tmp_path / "a"),
    ]
    assert main([*argv, *common]) == 0
    assert main(["run", "--model", str(adapter), "--out", str(tmp_path / "b"), *common]) == 0
    capsys.readouterr()
    meta = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert meta["demo_qa_en"]["model"] == f"tiny-random+{adapter.name}"
    base, a, b = (_preds(tmp_path / d / "demo_qa_en.jsonl") for d in ("base", "a", "b"))
    assert a == b  # the same merged model either way
    assert a != base  # and not the base model


def test_bad_adapter_is_one_error_line(tmp_path, capsys) -> None:
    rc = main(["run", "--model", "tiny-random", "--adapter", str(tmp_path / "nope"),
               "--task", "demo_qa_en", "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "error:" in err and "not a directory" in err and "Traceback" not in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "adapter_config.json").write_text('{"r": 2, "use_dora": true}')
    rc = main(
        [
            "run",
            "--model",
            str(tmp_path / "bad"),
            "--task",
            "demo_qa_en",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2 and "use_dora" in capsys.readouterr().err
