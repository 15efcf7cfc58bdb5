"""The bundled mini model is checked against its recorded SHA-256 before any work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from speechbrain_m4t_adapters import bundled as source
from speechbrain_m4t_adapters import cli
from speechbrain_m4t_adapters.training.recipe import run_experiment

REPO = Path(__file__).resolve().parents[1]
WAV = next((REPO / "tests/fixtures/real/respin/bn/wav").glob("*.wav"))


def test_shipped_mini_model_matches_its_checksums():
    source.verify_checksums(source.BUNDLED_MODELS["mini"], "mini")  # raises if a file was changed
    listed = (source.BUNDLED_MODELS["mini"] / source.CHECKSUMS_NAME).read_text().split()[1::2]
    assert "model.safetensors" in listed and "tokenizer_config.json" in listed


@pytest.fixture
def damaged_mini(tmp_path, monkeypatch):
    copy = tmp_path / "pkg" / "speechbrain_m4t_adapters" / "resources" / "mini_m4t"
    shutil.copytree(source.BUNDLED_MODELS["mini"], copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a cut download / a damaged install
    monkeypatch.setitem(source.BUNDLED_MODELS, "mini", copy)
    return weights


def test_damaged_file_is_named_with_the_repair(damaged_mini):
    with pytest.raises(source.DamagedModelError) as error:
        source.resolve_model_source("mini")
    message = str(error.value)
    assert f"{damaged_mini} does not match its recorded SHA-256" in message
    assert "pip install --force-reinstall" in message
    assert "git checkout -- speechbrain_m4t_adapters/resources/mini_m4t" in message


def test_cli_exits_2_with_one_line(damaged_mini, tmp_path, capsys):
    rc = cli.main(
        ["transcribe", "--model", "mini", "--lang", "ben", str(WAV), "--output", str(tmp_path / "o.tsv")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "does not match its recorded SHA-256" in err and "Traceback" not in err


def test_training_stops_before_making_data(damaged_mini, tmp_path):
    args = [str(REPO / "recipes/Odia/hparams/odia_encoder.yaml"), "--mini=True", f"--output_root={tmp_path}"]
    with pytest.raises(source.DamagedModelError, match="model.safetensors"):
        run_experiment(args)
    assert not (tmp_path / "manifests").exists()  # no synthetic clips were made first
