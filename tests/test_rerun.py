"""A finished experiment run again reuses its results: no re-decoding, no repeated log lines."""

from __future__ import annotations

import json
from pathlib import Path

from speechbrain_m4t_adapters.training.recipe import run_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def test_rerun_of_a_finished_experiment_does_not_decode_again(tmp_path, tiny_v1):
    args = [
        str(RECIPES / "Bengali/hparams/bengali_encoder.yaml"),
        "--smoke=True",
        f"--output_root={tmp_path}",
        f"--model_source={tmp_path / 'tiny'}",
        "--tiny_model_version=v1",
    ]
    import shutil

    shutil.copytree(tiny_v1, tmp_path / "tiny")
    first = run_experiment(args)
    folder = tmp_path / "bengali_encoder" / "1986"
    log = (folder / "train_log.txt").read_text()
    stamp = (folder / "test" / "bengali" / "hypotheses.tsv").stat().st_mtime_ns
    assert first["extra"]["epochs_trained"] == 1

    again = run_experiment(args)
    assert again == first == json.loads((folder / "summary.json").read_text())
    assert (folder / "train_log.txt").read_text() == log  # no line repeated
    assert (folder / "test" / "bengali" / "hypotheses.tsv").stat().st_mtime_ns == stamp

    redone = run_experiment(args + ["--redo_test=True"])
    assert (folder / "test" / "bengali" / "hypotheses.tsv").stat().st_mtime_ns != stamp
    assert redone["test_sets"]["bengali"]["wer"] == first["test_sets"]["bengali"]["wer"]

    more = run_experiment(args + ["--number_of_epochs=2"])  # more epochs: trains and decodes again
    assert more["extra"]["epochs_trained"] == 2
