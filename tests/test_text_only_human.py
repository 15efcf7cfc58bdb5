"""Text-only adaptation from human translations: FLORES full training sentences, never the held-out ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechbrain_m4t_adapters.data.manifest import read_text_manifest
from speechbrain_m4t_adapters.data.specs import prepare_text_spec
from speechbrain_m4t_adapters.training.hparams import load_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("recipe, lang", [("Odia/hparams/odia", "ory"), ("Maithili/hparams/maithili", "mai")])
def test_human_pairs_at_mini_scale_are_training_sentences_only(recipe, lang, tmp_path):
    hparams, _ = load_experiment(RECIPES / f"{recipe}_text_only_human.yaml", "mini: True")
    counts = {}
    for split, spec in hparams["text_corpus"].items():
        prepare_text_spec(spec, tmp_path / f"{split}.csv")
        pairs = read_text_manifest(tmp_path / f"{split}.csv")
        lines = [int(p.id.rsplit("_", 1)[1]) for p in pairs]  # flores_dev_<1-based line>
        assert max(lines) <= 900 and {p.tgt_lang for p in pairs} == {lang}  # 900-996: the mini test
        counts[split] = len(pairs)
    assert counts == {"train": 800, "valid": 100}
    # the paper's row (machine translations of the transcripts) is still what the other text-only runs get
    model_made, _ = load_experiment(RECIPES / f"{recipe}_text_only_full.yaml", "mini: True")
    assert {s["kind"] for s in model_made["text_corpus"].values()} == {"translated_transcripts"}
