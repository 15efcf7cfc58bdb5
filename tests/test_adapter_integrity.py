"""Saved adapters carry a weights checksum and the base checkpoint's identity, checked on load."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig
from speechbrain_m4t_adapters.adapters.integrity import file_sha256
from speechbrain_m4t_adapters.inference import M4TAdaptedASR

CONFIG = {"enc": BottleneckConfig(bottleneck=8, targets=["speech_encoder"])}


@pytest.fixture(scope="module")
def saved(tiny_v2, tmp_path_factory):
    folder = tmp_path_factory.mktemp("integrity") / "adapters"
    SeamlessM4T(tiny_v2, adapters=CONFIG).save_adapters(folder)
    return folder


def test_metadata_records_checksum_and_base_identity(saved, tiny_v2):
    meta = json.loads((saved / "adapters.json").read_text())
    assert meta["weights_sha256"] == file_sha256(saved / "adapters.safetensors")
    assert (
        meta["base_identity"]["source"] == str(tiny_v2.resolve())
        and len(meta["base_identity"]["digest"]) == 16
    )


def test_damaged_weights_are_refused_on_both_load_paths(saved, tiny_v2, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(saved, damaged)
    data = bytearray((damaged / "adapters.safetensors").read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in the last weight: still a loadable safetensors file
    (damaged / "adapters.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="adapters.safetensors: damaged or replaced: its SHA-256 is"):
        SeamlessM4T(tiny_v2, pretrained_adapters=[damaged])
    asr = M4TAdaptedASR.from_model(tiny_v2, device="cpu")
    with pytest.raises(ValueError, match="damaged or replaced"):
        asr.load_adapters(damaged)
    asr.load_adapters(saved)  # the intact folder loads


def test_other_base_with_same_architecture_warns_naming_both(saved, tiny_v2, tmp_path, caplog):
    moved = tmp_path / "moved_copy"
    shutil.copytree(tiny_v2, moved)
    with caplog.at_level(logging.WARNING):
        SeamlessM4T(moved, pretrained_adapters=[saved])  # same content elsewhere: the same base
    assert "trained on base" not in caplog.text
    tensors = load_file(str(moved / "model.safetensors"))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 0.01
    save_file(tensors, str(moved / "model.safetensors"), metadata={"format": "pt"})
    with caplog.at_level(logging.WARNING):
        m4t = SeamlessM4T(moved, pretrained_adapters=[saved])
    assert (
        f"trained on base {tiny_v2.resolve()}" in caplog.text
        and f"onto base {moved.resolve()}" in caplog.text
    )
    assert m4t.adapters.active == ["enc"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        M4TAdaptedASR.from_model(moved, device="cpu").load_adapters(saved)
    assert "trained on base" in caplog.text
    assert torch.isfinite(next(iter(m4t.adapters.parameters("enc")))).all()


def _edit_json(folder, **changes):
    meta = json.loads((folder / "adapters.json").read_text())
    for dotted, value in changes.items():
        target = meta
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    (folder / "adapters.json").write_text(json.dumps(meta))


def _damaged_copies(saved, root):
    """One copy per kind of damage -> the phrase inspect must report."""
    cases = {}

    def copy(name):
        shutil.copytree(saved, root / name)
        return root / name

    data = bytearray((saved / "adapters.safetensors").read_bytes())
    flipped = copy("flipped")
    (flipped / "adapters.safetensors").write_bytes(bytes(data[:-1] + bytes([data[-1] ^ 1])))
    cases["flipped"] = "damaged or replaced"
    cut = copy("cut")
    (cut / "adapters.safetensors").write_bytes(bytes(data[: len(data) - 100]))
    cases["cut"] = "truncated: tensors need"
    count = copy("count")
    _edit_json(count, sets__enc__num_parameters=999)
    cases["count"] = "set 'enc' holds 1232 parameters, adapters.json says 999"
    width = copy("width")
    _edit_json(width, sets__enc__config__bottleneck=16)
    cases["width"] = "but the config's bottleneck is 16"
    hosts = copy("hosts")
    _edit_json(hosts, sets__enc__modules=["text_decoder.layers.0"])
    cases["hosts"] = "is on no module listed for set 'enc'"
    renamed = copy("renamed")
    _edit_json(renamed, sets={"dec": json.loads((saved / "adapters.json").read_text())["sets"]["enc"]})
    cases["renamed"] = "belongs to no set of adapters.json"
    return cases


def test_inspect_is_a_fast_health_check(saved, tmp_path):
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "speechbrain_m4t_adapters.cli", "inspect"]
    start = time.perf_counter()
    healthy = subprocess.run([*command, str(saved)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(f"inspect of a healthy folder: {seconds:.2f} s")
    assert healthy.returncode == 0 and "health:           OK" in healthy.stdout
    assert seconds < 1.0
    probe = "import sys; from speechbrain_m4t_adapters import cli; cli.main(['inspect', sys.argv[1]]); "
    probe += "print(sorted(m for m in ('torch', 'transformers', 'speechbrain') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe, str(saved)], capture_output=True, text=True)
    assert loaded.stdout.strip().endswith("[]")  # the model stack was never imported

    for name, phrase in _damaged_copies(saved, tmp_path).items():
        run = subprocess.run([*command, str(tmp_path / name), "--json"], capture_output=True, text=True)
        assert run.returncode == 1, (name, run.stdout, run.stderr)
        assert any(phrase in p for p in json.loads(run.stdout)["problems"]), (name, run.stdout)

    bad = tmp_path / "structure"
    shutil.copytree(saved, bad)
    for text, phrase in (
        ('{"format_version": 1, "base_fingerprint": "x", "sets": []}', "field 'sets' must be a mapping"),
        (
            '{"format_version": 1, "base_fingerprint": "x", "sets": {"a": 3}}',
            "field 'sets.a' must be a mapping",
        ),
        ("[1, 2]", "top level must be a mapping"),
        ("{not json", "not valid JSON"),
    ):
        (bad / "adapters.json").write_text(text)
        run = subprocess.run([*command, str(bad)], capture_output=True, text=True)
        assert run.returncode == 2 and phrase in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_shape_rules_are_recorded_and_a_damaged_list_is_named(saved, tmp_path):
    from speechbrain_m4t_adapters.adapters.integrity import check_folder

    metadata = json.loads((saved / "adapters.json").read_text())
    assert metadata["sets"]["enc"]["shape_rules"] == [
        ["down.weight", 0, "bottleneck"],
        ["up.weight", 1, "bottleneck"],
    ]
    bad = tmp_path / "rules"
    shutil.copytree(saved, bad)
    metadata["sets"]["enc"]["shape_rules"] = [["down.weight", "0"]]
    (bad / "adapters.json").write_text(json.dumps(metadata))
    (problem,) = check_folder(bad)
    assert (
        "field 'sets.enc'.shape_rules must be a list of [tensor suffix, dimension, config field]" in problem
    )


def test_config_targets_that_contradict_the_weights_are_a_problem(saved, tmp_path):
    from speechbrain_m4t_adapters.adapters.integrity import check_folder

    assert check_folder(saved) == []
    metadata = json.loads((saved / "adapters.json").read_text())
    assert metadata["sets"]["enc"]["addressing"] == "stacks"
    moved = tmp_path / "moved"
    shutil.copytree(saved, moved)
    metadata["sets"]["enc"]["config"]["targets"] = ["text_decoder"]  # edited: the weights are the encoder's
    (moved / "adapters.json").write_text(json.dumps(metadata))
    (problem,) = check_folder(moved)
    assert "set 'enc' has modules ['speech_encoder.encoder.layers.0'" in problem
    assert "targets ['text_decoder'] do not name: the config and the weights disagree" in problem


def test_lora_and_finetune_placements_are_checked(tiny_v2, tmp_path):
    from speechbrain_m4t_adapters.adapters import FinetuneConfig, LoRAConfig
    from speechbrain_m4t_adapters.adapters.integrity import check_folder

    sets = {
        "la": FinetuneConfig(targets=["length_adaptor"]),
        "lora": LoRAConfig(targets=[r"text_decoder\.layers\.\d+\.ffn\.fc1"], rank=2),
    }
    SeamlessM4T(tiny_v2, adapters=sets).save_adapters(tmp_path / "a")
    assert check_folder(tmp_path / "a") == []
    metadata = json.loads((tmp_path / "a" / "adapters.json").read_text())
    metadata["sets"]["lora"]["config"]["targets"] = [r"text_decoder\.layers\.\d+\.ffn\.fc2"]
    metadata["sets"]["la"]["config"]["targets"] = ["text_encoder"]
    (tmp_path / "a" / "adapters.json").write_text(json.dumps(metadata))
    problems = check_folder(tmp_path / "a")
    assert len(problems) == 2 and all("the config and the weights disagree" in p for p in problems)
