"""Recipes are the paper's experiments: names, parameter budgets (v1 medium, meta device), data chains."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from speechbrain_m4t_adapters.adapters.counting import parameter_report
from speechbrain_m4t_adapters.training.hparams import load_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
sys.path.insert(0, str(RECIPES.parent / "tools"))
from recipe_budgets import recipe_parameters, within_budget  # noqa: E402

EXPERIMENTS = sorted(
    p
    for p in RECIPES.glob("*/hparams/*.yaml")
    if not p.stem.endswith("_data") and p.parts[-3] != "IndicVoices"  # the engine's recipes
)


def _hparams(path: Path) -> dict:
    return load_experiment(path, "data_folder: /data")[0]


@pytest.mark.parametrize("language", ["odia", "maithili", "bengali"])
def test_the_missions_command_runs_the_headline_encoder_adapters(language):
    """`python train.py hparams/<language>_encoder.yaml` is the paper's 6M encoder-adapter experiment."""
    path = RECIPES / language.capitalize() / "hparams" / f"{language}_encoder.yaml"
    hparams = _hparams(path)
    assert hparams["experiment_name"] == f"{language}_encoder"
    assert [(c.kind, c.bottleneck, c.targets) for c in hparams["adapters"].values()] == [
        ("bottleneck", 256, ["speech_encoder"])
    ]
    assert recipe_parameters(path) == 6_331_392


def test_every_experiment_is_named_after_its_file():
    assert len(EXPERIMENTS) >= 60
    for path in EXPERIMENTS:
        assert path.stem.split("_")[0] == path.parts[-3].lower(), path
        assert _hparams(path)["experiment_name"] == path.stem, path


def test_every_recipe_matches_the_papers_parameter_budget():
    """Counted on the real v1-medium architecture: within 2 % (or the poster's whole-million rounding)."""
    checked = 0
    for path in EXPERIMENTS:
        paper = _hparams(path)["paper_params"]
        if paper is None:
            continue
        ours = recipe_parameters(path)
        assert within_budget(ours, paper), f"{path.name}: {ours:,} vs the paper's {paper:,.0f}"
        checked += 1
    assert checked >= 55


def test_components_are_the_papers():
    odia = RECIPES / "Odia" / "hparams"
    # "Speech encoder" is 311M: WITHOUT the 46M length adaptor.
    assert recipe_parameters(odia / "odia_full_speech_encoder.yaml") == 311_277_888
    # "All components" = speech encoder + length adaptor + text decoder (no embeddings, no text encoder).
    assert recipe_parameters(odia / "odia_full_all.yaml") == 311_277_888 + 46_156_800 + 201_562_112
    # The cross-lingual encoder adapters are the 50M ones.
    assert recipe_parameters(odia / "odia_bengali_pivot_encoder_large.yaml") == 50_393_088
    # T-A and pivot + text use the FULL-transcript text adapters.
    for path in [
        *RECIPES.glob("*/hparams/*_text_then_*.yaml"),
        *RECIPES.glob("*/hparams/*pivot*text_only.yaml"),
    ]:
        folders = [str(f) for f in _hparams(path)["pretrained_adapters"]]
        assert any("_text_only_full/" in f for f in folders), path
        assert not any("_text_only/" in f for f in folders), path
    # Text then decoder continues the text-trained set instead of stacking a second one.
    hparams = _hparams(odia / "odia_text_then_decoder.yaml")
    assert hparams["train_pretrained_adapters"] is True and not hparams["adapters"]
    assert recipe_parameters(odia / "odia_text_then_decoder.yaml") == 6_331_392


def test_mini_overlay_scales_budgets_to_the_papers_share_of_the_base():
    import copy

    from speechbrain_m4t_adapters.training.budget import PAPER_BASE, scale_to_paper_fraction
    from speechbrain_m4t_adapters.training.hparams import load_experiment

    recipes = Path(__file__).resolve().parents[1] / "recipes" / "Odia" / "hparams"
    for experiment, paper_share in (("odia_encoder", 0.0052), ("odia_encoder_large", 0.042)):
        hparams, _ = load_experiment(recipes / f"{experiment}.yaml", "mini: True")
        assert hparams["budget_scaling"] == "paper_fraction"
        original = copy.deepcopy(hparams["adapters"])
        (line,) = scale_to_paper_fraction(hparams["adapters"], hparams["model_source"])
        assert "of the base, as" in line and "of v1 medium's 1.2B" in line
        m4t = hparams["m4t"]()  # the partial holds the same, resized config objects
        report = parameter_report(m4t.adapters)
        share = report["trainable_parameters"] / report["base_parameters"]
        assert abs(share - paper_share) / paper_share < 0.06, (experiment, share)  # 0.52 % / 4.2 % of 1.2B
        (config,) = original.values()
        resized = next(iter(hparams["adapters"].values()))
        assert resized.bottleneck < config.bottleneck / 5  # far smaller than the recipe's absolute size
        assert recipe_parameters(recipes / f"{experiment}.yaml") / PAPER_BASE == pytest.approx(
            paper_share, rel=0.06
        )


def test_budget_tool_examples_hold():
    """tools/ is outside the suite's doctest run: the budget check's own examples run here."""
    import doctest

    import recipe_budgets

    results = doctest.testmod(recipe_budgets)
    assert results.attempted >= 1 and results.failed == 0
