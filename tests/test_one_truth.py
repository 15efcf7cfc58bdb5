"""One truth per number: training and evaluate agree on parameter counts and the experiment's name."""

from __future__ import annotations

import re
from pathlib import Path

from speechbrain_m4t_adapters.inference import M4TAdaptedASR, evaluate_manifest
from speechbrain_m4t_adapters.training.recipe import run_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _smoke_args(tmp_path: Path, model: Path) -> list[str]:
    """The Bengali encoder experiment on the smoke overlay, with an already built tiny model."""
    return [
        str(RECIPES / "Bengali/hparams/bengali_encoder.yaml"),
        "--smoke=True",
        f"--output_root={tmp_path}",
        f"--model_source={model}",
        "--tiny_model_version=null",
    ]


def test_evaluate_reports_what_training_reported(tmp_path, tiny_v1, capsys):
    trained = run_experiment(_smoke_args(tmp_path, tiny_v1))
    folder = (tmp_path / "bengali_encoder" / "1986").resolve()
    printed = capsys.readouterr().out
    assert f"summary in {folder / 'summary.json'} and adapters in {folder / 'adapters'}" in printed
    n, base = trained["trainable_params"], trained["total_params"]
    log = (folder / "log.txt").read_text()  # SpeechBrain's run log
    ours = re.search(rf"trainable parameters: {n:,} \({n / 1e6:.2f}M\) = ([\d.]+)% of all ([\d,]+) ", log)
    speechbrain = re.search(r"Trainable Parameters represent ([\d.]+)% of the total size", log)
    assert ours and speechbrain, log
    assert abs(float(ours[1]) - float(speechbrain[1])) < 0.001  # one count, not two that contradict
    assert f"{100 * n / base:.3f}% of the {base:,} base" in log

    asr = M4TAdaptedASR.from_model(
        tiny_v1, adapter_folders=[folder / "adapters"], device="cpu", max_new_tokens=4
    )
    manifest = tmp_path / "manifests" / "ben" / "1986" / "test_bengali.csv"
    evaluated = evaluate_manifest(asr, manifest, tmp_path / "eval", lang="ben", adapters="adapters")
    assert evaluated["experiment"] == "bengali_encoder"  # not the folder name "adapters"
    assert (evaluated["trainable_params"], evaluated["total_params"]) == (
        trained["trainable_params"],
        trained["total_params"],
    )


def test_evaluate_decodes_and_names_like_training_by_default(tmp_path, tiny_v1):
    trained = run_experiment(_smoke_args(tmp_path, tiny_v1))
    decoding = trained["extra"]["decoding"]
    assert set(decoding) == {"num_beams", "max_new_tokens", "max_chunk_seconds"}
    folder = tmp_path / "bengali_encoder" / "1986"
    asr = M4TAdaptedASR.from_model(tiny_v1, adapter_folders=[folder / "adapters"], device="cpu")
    assert (asr.num_beams, asr.max_new_tokens) == (decoding["num_beams"], decoding["max_new_tokens"])
    manifest = tmp_path / "manifests" / "ben" / "1986" / "test_bengali.csv"
    evaluated = evaluate_manifest(asr, manifest, tmp_path / "eval", lang="ben")
    assert list(evaluated["test_sets"]) == ["bengali"]  # the same row as training's in `report`
    assert evaluated["extra"]["decoding"]["num_beams"] == decoding["num_beams"]
    ours, theirs = evaluated["test_sets"]["bengali"], trained["test_sets"]["bengali"]
    assert (ours["wer"], ours["cer"]) == (theirs["wer"], theirs["cer"])
