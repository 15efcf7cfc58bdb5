"""The mini overlay's per-kind learning rates (`lr_by_kind`, the protocol's validation sweep)."""

from pathlib import Path

import pytest

from speechbrain_m4t_adapters.training.budget import apply_lr_by_kind
from speechbrain_m4t_adapters.training.hparams import load_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
SWEEP = RECIPES.parent / "docs" / "mini_lr_sweep.md"


def _swept(kind_label: str) -> float:
    """The lr the recorded sweep chose for a kind (docs/mini_lr_sweep.md, last column)."""
    for line in SWEEP.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| {kind_label} |"):
            return float(line.strip("| ").split("|")[-1])
    raise AssertionError(f"{SWEEP} has no row for {kind_label}")


@pytest.mark.parametrize(
    ("recipe", "set_name", "kind_label"),
    [
        ("Odia/hparams/odia_encoder.yaml", "encoder", "bottleneck (encoder adapters)"),
        ("Odia/hparams/odia_length_adaptor.yaml", "length_adaptor", "trainable copy (length adaptor)"),
    ],
)
def test_mini_overlay_gives_each_kind_the_swept_lr(recipe, set_name, kind_label):
    hparams, _ = load_experiment(RECIPES / recipe, "mini: True")
    lines = apply_lr_by_kind(hparams["adapters"], hparams["lr_by_kind"])
    assert hparams["adapters"][set_name].lr == _swept(kind_label)  # mini.yaml applies what the sweep chose
    assert len(lines) == 1 and set_name in lines[0]


def test_recipes_without_the_overlay_keep_their_own_lr():
    hparams, _ = load_experiment(RECIPES / "Odia/hparams/odia_length_adaptor.yaml", "data_folder: /data")
    assert apply_lr_by_kind(hparams["adapters"], hparams["lr_by_kind"]) == []
    assert hparams["adapters"]["length_adaptor"].lr == 0.0001


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match=r"unknown adapter kinds \['adaptor'\]"):
        apply_lr_by_kind({}, {"adaptor": 0.1})


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), 0, -0.1, "fast", True])
def test_a_bad_kind_lr_is_refused_before_any_set_changes(lr):
    from speechbrain_m4t_adapters.adapters import BottleneckConfig

    sets = {"enc": BottleneckConfig(bottleneck=8)}
    with pytest.raises(ValueError, match="lr_by_kind: learning rates must be finite numbers > 0"):
        apply_lr_by_kind(sets, {"bottleneck": lr})
    assert sets["enc"].lr is None
