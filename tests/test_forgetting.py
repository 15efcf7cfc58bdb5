"""Forgetting check: forgetting_sets decoded with adapters on and off; summary and report show the delta."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechbrain_m4t_adapters.evaluation.report import build_table
from speechbrain_m4t_adapters.evaluation.summary import (
    SummaryError,
    forgetting_entry,
    validate_summary,
    write_summary,
)
from speechbrain_m4t_adapters.training.forgetting import adapters_off
from speechbrain_m4t_adapters.training.recipe import run_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
METRICS = {"language": "hin", "wer": 31.0, "cer": 11.5, "num_utterances": 50}


def summary_with(forgetting: dict | None, name: str = "exp") -> dict:
    data = {
        "experiment": name,
        "model_source": "m",
        "trainable_params": 1,
        "total_params": 10,
        "train_time_s": 5.0,
        "test_sets": {"odia": dict(METRICS, language="ory")},
    }
    if forgetting is not None:
        data["forgetting"] = forgetting
    return data


def test_summary_and_table_show_the_delta(tmp_path):
    entry = forgetting_entry(METRICS, dict(METRICS, wer=30.0, cer=11.0))
    assert (entry["delta_wer"], entry["delta_cer"], entry["base_wer"]) == (1.0, 0.5, 30.0)
    written = write_summary(
        tmp_path / "s.json",
        "exp",
        summary_with(None)["test_sets"],
        "m",
        1,
        10,
        5.0,
        forgetting={"hindi": entry},
    )
    assert json.loads((tmp_path / "s.json").read_text())["forgetting"]["hindi"]["delta_wer"] == 1.0
    table = build_table([written, summary_with(None, "other")])
    row = next(line for line in table.splitlines() if "*Forgetting* hindi (hin)" in line)
    assert row.endswith("| 31.00 / 30.00 (+1.00) | – |")
    cer_row = next(line for line in build_table([written], "cer").splitlines() if "Forgetting" in line)
    assert "11.50 / 11.00 (+0.50)" in cer_row
    with pytest.raises(SummaryError, match="forgetting.hindi.delta_wer"):
        validate_summary(summary_with({"hindi": {k: v for k, v in entry.items() if k != "delta_wer"}}))
    no_base = forgetting_entry(METRICS, None)
    assert validate_summary(summary_with({"hindi": no_base}))
    assert "31.00 / –" in build_table([summary_with({"hindi": no_base})])


class FakeSets:
    def __init__(self):
        self.sets = {"enc": object()}
        self.active = ["enc"]

    def set_active(self, names):
        self.active = list(names)


class FakeBrain:
    """Evaluation loads the best checkpoint, which holds weights only (the active sets stay)."""

    def __init__(self):
        self.m4t = type("M", (), {"adapters": FakeSets()})()
        self.seen = []

    def on_evaluate_start(self, max_key=None, min_key=None):
        pass

    def evaluate(self):
        self.on_evaluate_start(min_key="WER")
        self.seen.append(list(self.m4t.adapters.active))


def test_adapters_off_survives_the_checkpoint_load_and_restores():
    brain = FakeBrain()
    brain.m4t.adapters.set_active(["enc"])
    with adapters_off(brain):
        brain.evaluate()
    brain.evaluate()
    assert brain.seen == [[], ["enc"]] and "on_evaluate_start" not in vars(brain)
    assert brain.m4t.adapters.active == ["enc"]


def test_smoke_experiment_records_forgetting_with_base_equal_to_the_baseline(tmp_path, tiny_v1):
    common = [
        "--smoke=True",
        f"--output_root={tmp_path}",
        f"--model_source={tiny_v1}",
        "--tiny_model_version=null",
    ]
    run_experiment([str(RECIPES / "Bengali/hparams/bengali_encoder.yaml"), *common, "--lr=0.05"])
    out = next(tmp_path.glob("*/1986/summary.json")).parent
    summary = json.loads((out / "summary.json").read_text())
    entry = summary["forgetting"]["maithili"]
    assert entry["language"] == "mai" and entry["num_utterances"] == 6
    assert entry["delta_wer"] == pytest.approx(entry["wer"] - entry["base_wer"])
    assert (entry["wer"], entry["cer"]) != (
        entry["base_wer"],
        entry["base_cer"],
    )  # the adapters did change it
    assert (out / "test" / "forget_maithili.base" / "hypotheses.tsv").is_file()  # beside test/maithili
    # The adapters-off pass is the base model: same numbers as the untrained baseline's test set.
    run_experiment([str(RECIPES / "Odia/hparams/odia_baseline.yaml"), *common])
    baseline = json.loads((tmp_path / "odia_baseline" / "1986" / "summary.json").read_text())
    assert entry["base_wer"] == baseline["test_sets"]["maithili"]["wer"]
    assert entry["base_cer"] == baseline["test_sets"]["maithili"]["cer"]
    # Adapters were switched back on before saving.
    assert (out / "adapters").is_dir()
