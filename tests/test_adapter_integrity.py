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

CONFIG = {"enc": BottleneckConfig(bottleneck=8, placement=["speech_encoder"])}


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
