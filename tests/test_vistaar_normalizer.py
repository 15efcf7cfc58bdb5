"""The Vistaar (AI4Bharat / IndicWhisper) scoring convention as a named normaliser."""

from __future__ import annotations

import sys

import pytest

from speechbrain_m4t_adapters.evaluation import normalize as normalize_module
from speechbrain_m4t_adapters.evaluation.metrics import compute_error_rates, scores_by_normalizer
from speechbrain_m4t_adapters.evaluation.normalize import get_normalizer, normalize_text, normalize_vistaar

pytest.importorskip("indicnlp")


def test_vistaar_deletes_punctuation_including_dandas():
    text = "मैं।  ठीक॥ हूँ-हाँ, 'सच'"
    assert normalize_vistaar(text, "mai") == "मैं ठीक हूँहाँ सच"
    assert normalize_text(text, "mai") == "मैं ठीक हूँ हाँ सच"  # ours splits at the hyphen


def test_vistaar_applies_the_indic_nlp_normaliser_of_the_language():
    # indic-nlp's Odia normaliser maps VA (U+0B35) to BA (U+0B2C); ours keeps it.
    assert normalize_vistaar("\u0b35\u0b3e\u0b23\u0b40", "ory") == "\u0b2c\u0b3e\u0b23\u0b40"
    assert normalize_text("\u0b35\u0b3e\u0b23\u0b40", "ory") == "\u0b35\u0b3e\u0b23\u0b40"
    assert normalize_vistaar("Hello World", "eng") == "Hello World"  # no Indic normaliser, no lowercasing


def test_scores_name_their_normaliser_and_use_each_utterance_language():
    ids, refs, hyps = (
        ["o", "m"],
        ["\u0b35\u0b3e\u0b23\u0b40", "ठीक-ठाक है।"],
        ["\u0b2c\u0b3e\u0b23\u0b40", "ठीकठाक है"],
    )
    default = compute_error_rates(ids, refs, hyps)
    assert default["normalizer"] == "default" and default["wer"] == 75.0  # 1 sub + (1 sub, 1 del) of 4 words
    vistaar = compute_error_rates(ids, refs, hyps, normalize="vistaar", lang=None)
    assert vistaar["normalizer"] == "vistaar" and vistaar["wer"] == pytest.approx(100 / 3, abs=0.01)
    per_language = scores_by_normalizer(ids, refs, hyps, ["ory", "mai"], ["vistaar"])
    assert per_language == {"wer_vistaar": 0.0, "cer_vistaar": 0.0}
    with pytest.raises(ValueError, match="unknown normaliser 'whisper'"):
        get_normalizer("whisper")


def test_missing_indic_nlp_gives_a_clear_error(monkeypatch):
    normalize_module._indic_normalizer.cache_clear()
    monkeypatch.setitem(sys.modules, "indicnlp.normalize.indic_normalize", None)
    try:
        with pytest.raises(ImportError, match="pip install indic-nlp-library"):
            normalize_vistaar("ବ", "ory")
    finally:
        normalize_module._indic_normalizer.cache_clear()


def test_experiment_summary_reports_extra_normalisers(tmp_path, tiny_v1):
    from test_training import RECIPES, smoke_args

    from speechbrain_m4t_adapters.training.recipe import run_experiment

    args = smoke_args(
        RECIPES / "Odia/hparams/odia_baseline.yaml", tmp_path, tiny_v1, "--extra_normalizers=[vistaar]"
    )
    summary = run_experiment(args)
    for row in summary["test_sets"].values():
        assert row["normalizer"] == "default"
        assert {"wer", "cer", "wer_vistaar", "cer_vistaar"} <= set(row)
        assert 0 <= row["wer_vistaar"] and 0 <= row["cer_vistaar"]
