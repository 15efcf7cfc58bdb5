"""Hyperparameters are checked before any model or data loads: unknown keys and wrong types."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechbrain_m4t_adapters.training import hparams as hparams_module
from speechbrain_m4t_adapters.training.hparams import HparamsError, experiment_tree
from speechbrain_m4t_adapters.training.recipe import run_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
ENCODER = RECIPES / "Bengali/hparams/bengali_encoder.yaml"


@pytest.mark.parametrize(
    "override,message",
    [
        (
            "--numbr_of_epochs=3",
            "command line: unknown hyperparameter 'numbr_of_epochs'; did you mean 'number_of_epochs'?",
        ),
        ("--lr=abc", "command line: lr='abc' is not a number (default: 0.001)"),
        ("--number_of_epochs=two", "command line: number_of_epochs='two' is not an integer (default: 1)"),
        ("--number_of_epochs=2.5", "number_of_epochs=2.5 is not an integer"),
        ("--freeze_base=yes please", "freeze_base='yes please' is not a boolean"),
        ("--test_sets=bengali", "test_sets='bengali' is not a mapping"),
        ("--batch_sise=4", "did you mean 'batch_size'?"),
    ],
)
def test_bad_overrides_fail_before_anything_loads(override, message, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr("speechbrain_m4t_adapters.training.recipe.build_tiny_model", built.append)
    with pytest.raises(HparamsError) as error:
        run_experiment([str(ENCODER), "--smoke=True", f"--output_root={tmp_path}", override])
    assert message in str(error.value)
    assert built == [] and not any(tmp_path.iterdir())  # nothing prepared, built or written


def test_good_overrides_and_recipe_files_pass():
    tree = experiment_tree(ENCODER, "lr: 1e-3\nnumber_of_epochs: 0\nmax_duration: null\nmodel_source: /m\n")
    assert tree["lr"] == 0.001 and tree["number_of_epochs"] == 0 and tree["max_duration"] is None
    assert tree["model_source"] == "/m"


def test_unknown_or_mistyped_key_in_an_overlay_or_file_names_the_file(tmp_path):
    (tmp_path / "smoke.yaml").write_text("leraning_rate: 0.1\n")
    (tmp_path / "exp.yaml").write_text(f"lr: 0.001\nseed: 1\nsmoke: False\noverlays_folder: {tmp_path}\n")
    with pytest.raises(HparamsError, match=r"smoke.yaml: unknown hyperparameter 'leraning_rate'"):
        experiment_tree(tmp_path / "exp.yaml", "smoke: True")
    (tmp_path / "smoke.yaml").write_text("seed: abc\n")
    with pytest.raises(HparamsError, match=r"smoke.yaml: seed='abc' is not an integer \(default: 1\)"):
        experiment_tree(tmp_path / "exp.yaml", "smoke: True")
    (tmp_path / "bare.yaml").write_text("lr: 0.001\nmini: False\n")
    with pytest.raises(HparamsError, match=r"bare.yaml: --mini=True needs `overlays_folder:`"):
        experiment_tree(tmp_path / "bare.yaml", "mini: True")
    assert hparams_module.ADDED_KEYS == ("repo_root", "hparams_file")
