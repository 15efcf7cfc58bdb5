"""Saved adapter folders are publishable: hyperparams.yaml + model card, loadable in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig
from speechbrain_m4t_adapters.inference import M4TAdaptedASR
from speechbrain_m4t_adapters.inference.publish import CARD_NAME, HPARAMS_NAME, publish_adapters
from speechbrain_m4t_adapters.model.decoding import transcribe

TOKENS = 6


@pytest.fixture(scope="module")
def saved(tiny_v2, tmp_path_factory):
    """A trained-looking encoder adapter set saved like an experiment does, and its outputs."""
    m4t = SeamlessM4T(tiny_v2, adapters={"enc": BottleneckConfig(bottleneck=4, targets=["speech_encoder"])})
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m4t.adapters.parameters("enc"):
            p.add_(torch.randn(p.shape, generator=generator))
    m4t.eval()
    folder = tmp_path_factory.mktemp("experiment") / "adapters"
    m4t.save_adapters(folder, language="ory", experiment="odia_encoder", training_data=["train: corpus=x"])
    publish_adapters(folder)
    wavs = torch.randn(2, 16000, generator=generator)
    expected = transcribe(m4t, wavs, torch.tensor([1.0, 0.8]), "ory", max_new_tokens=TOKENS)
    m4t.adapters.deactivate("enc")
    base = transcribe(m4t, wavs, torch.tensor([1.0, 0.8]), "ory", max_new_tokens=TOKENS)
    return folder, wavs, expected, base


def test_saved_folder_holds_card_and_hparams(saved, tiny_v2):
    folder = saved[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["adapters.json", "adapters.safetensors", CARD_NAME, HPARAMS_NAME]
    )
    card = (folder / CARD_NAME).read_text(encoding="utf-8")
    params = json.loads((folder / "adapters.json").read_text())["sets"]["enc"]["num_parameters"]
    assert f"| enc | bottleneck | {params:,} | 2 |" in card  # 2 Conformer layers
    assert f"`{tiny_v2}`" in card and "- ory" in card and "- train: corpus=x" in card
    assert "No results recorded" in card
    hparams = (folder / HPARAMS_NAME).read_text(encoding="utf-8")
    assert f"base_model: {json.dumps(str(tiny_v2))}" in hparams
    assert "    odia_encoder: !ref <model_dir>" in hparams


def test_card_has_results_from_experiment_summary(saved, tmp_path):
    folder = tmp_path / "exp" / "adapters"
    shutil.copytree(saved[0], folder)
    summary = {"test_sets": {"odia": {"language": "ory", "wer": 41.25, "cer": 12.5, "num_utterances": 7}}}
    (folder.parent / "summary.json").write_text(json.dumps(summary))
    publish_adapters(folder)
    card = (folder / CARD_NAME).read_text(encoding="utf-8")
    assert "| odia | ory | 41.25 | 12.50 | 7 |" in card
    assert "No results recorded" not in card


def test_from_hparams_on_saved_folder_reproduces_outputs(saved, tmp_path):
    folder, wavs, expected, base = saved
    asr = M4TAdaptedASR.from_hparams(
        source=str(folder),
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
        overrides={"max_new_tokens": TOKENS},
    )
    texts, _ = asr.transcribe_batch(wavs, torch.tensor([1.0, 0.8]))  # language from the folder
    assert texts == expected
    assert expected != base  # the adapters change the output, so equality means they were loaded


def test_from_hparams_on_hub_id_uses_speechbrain_fetching(saved, tmp_path, monkeypatch):
    """The hub path runs SpeechBrain's fetch; only the download itself is served from disk."""
    import speechbrain.utils.fetching as fetching

    folder, wavs, expected, _ = saved
    requested = []

    def fake_download(repo_id, filename, **kwargs):
        assert repo_id == "someone/odia-adapters"
        requested.append(filename)
        path = folder / filename
        if not path.exists():
            raise FileNotFoundError(path)
        return str(path)

    monkeypatch.setattr(fetching.huggingface_hub, "hf_hub_download", fake_download)
    asr = M4TAdaptedASR.from_hparams(
        source="someone/odia-adapters",
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
        overrides={"max_new_tokens": TOKENS},
    )
    assert {"hyperparams.yaml", "adapters.json", "adapters.safetensors"} <= set(requested)
    assert Path(asr.adapter_profiles["odia_encoder"].folder) == (tmp_path / "savedir").resolve()
    texts, _ = asr.transcribe_batch(wavs, torch.tensor([1.0, 0.8]))
    assert texts == expected


def test_debug_run_limits_batches_and_leaves_a_publishable_folder(tmp_path, tiny_v1):
    """SpeechBrain's --debug flags go through run_experiment; the finished run is publishable."""
    from test_training import RECIPES, read_log_epochs, smoke_args

    from speechbrain_m4t_adapters.training.recipe import run_experiment

    args = smoke_args(RECIPES / "Bengali/hparams/bengali_encoder.yaml", tmp_path, tiny_v1)
    args += ["--number_of_epochs=4", "--debug", "--debug_batches=1", "--debug_epochs=1"]
    summary = run_experiment(args)
    output = next(tmp_path.glob("*/*/summary.json")).parent
    assert read_log_epochs(output) == [1]  # debug_epochs, not number_of_epochs
    # One batch (batch_size 3) of each 6-utterance test set is decoded.
    assert {name: row["num_utterances"] for name, row in summary["test_sets"].items()} == {
        "bengali": 3,
        "maithili": 3,
    }
    card = (output / "adapters" / CARD_NAME).read_text(encoding="utf-8")
    wer = summary["test_sets"]["bengali"]["wer"]
    assert f"| bengali | ben | {wer:.2f} |" in card
    assert "- train: corpus=respin, lang=bn" in card
    asr = M4TAdaptedASR.from_hparams(
        source=str(output / "adapters"), savedir=str(tmp_path / "sd"), run_opts={"device": "cpu"}
    )
    assert (
        asr.m4t.adapters.active
        and asr.m4t.fingerprint
        == json.loads((output / "adapters" / "adapters.json").read_text())["base_fingerprint"]
    )


def test_saved_files_are_all_readable_like_siblings(saved):
    modes = {p.name: p.stat().st_mode & 0o777 for p in saved[0].iterdir()}
    assert len(set(modes.values())) == 1, modes  # safetensors alone wrote 0600 before
    assert modes["adapters.safetensors"] & 0o044  # group/others may read, as the JSON beside it


def test_base_is_recorded_resolvably_or_saving_warns(tiny_v2, tmp_path, caplog):
    import logging

    mini = SeamlessM4T("mini", adapters={"enc": BottleneckConfig(bottleneck=2)})
    mini.save_adapters(tmp_path / "mini_adapters")
    assert json.loads((tmp_path / "mini_adapters" / "adapters.json").read_text())["base_model"] == "mini"
    publish_adapters(tmp_path / "mini_adapters")
    assert 'base_model: "mini"' in (tmp_path / "mini_adapters" / HPARAMS_NAME).read_text()

    local = SeamlessM4T(str(tiny_v2), adapters={"enc": BottleneckConfig(bottleneck=2)})
    with caplog.at_level(logging.WARNING):
        local.save_adapters(tmp_path / "local_adapters")
    recorded = json.loads((tmp_path / "local_adapters" / "adapters.json").read_text())["base_model"]
    assert Path(recorded).is_absolute() and Path(recorded) == Path(tiny_v2).resolve()
    assert f"the base model is the local folder {Path(tiny_v2).resolve()}" in caplog.text
