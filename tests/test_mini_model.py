"""The bundled mini SeamlessM4T (issue 9): a model that has learned, its synthetic data, --mini=True."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import soundfile as sf
import torch
from safetensors import safe_open
from speechbrain.utils.data_utils import batch_pad_right

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.bundled import BUNDLED_MODELS
from speechbrain_m4t_adapters.data.languages import FLORES_CODES
from speechbrain_m4t_adapters.data.manifest import read_asr_manifest, read_text_manifest
from speechbrain_m4t_adapters.data.synthetic import SPLITS, prepare_synthetic, read_flores_dev
from speechbrain_m4t_adapters.data.text import flores_pairs
from speechbrain_m4t_adapters.evaluation.metrics import compute_error_rates
from speechbrain_m4t_adapters.evaluation.normalize import normalize_text
from speechbrain_m4t_adapters.model.decoding import transcribe
from speechbrain_m4t_adapters.training import run_experiment
from speechbrain_m4t_adapters.training.hparams import HparamsError, experiment_tree

REPO = Path(__file__).resolve().parents[1]
MINI = BUNDLED_MODELS["mini"]


@pytest.fixture(scope="module")
def mini() -> SeamlessM4T:
    return SeamlessM4T("mini").eval()


def test_mini_model_is_a_small_plain_seamless_m4t_loaded_by_name(mini):
    size = sum(p.stat().st_size for p in MINI.iterdir())
    assert size < 40e6, f"bundled mini model is {size / 1e6:.1f} MB (limit 40)"
    assert mini.source == str(MINI) and mini.version == "v2"
    assert mini.model.config.hidden_size == 144 and mini.model.config.adaptor_stride == 4
    assert {f"__{lang}__" for lang in FLORES_CODES} <= set(mini.tokenizer.get_vocab())  # its 14 languages
    with safe_open(MINI / "model.safetensors", "pt") as weights:
        names = list(weights.keys())
        assert weights.get_tensor(names[0]).dtype == torch.float16
    assert not [n for n in names if "ctc" in n.lower()], "the pretraining-only CTC head must not ship"
    card = (MINI / "README.md").read_text(encoding="utf-8")
    rates = json.loads((MINI / "held_out_error_rates.json").read_text(encoding="utf-8"))
    for lang in ("hin", "ory", "mai"):  # the card's table shows the measured numbers
        assert re.search(rf"\| {lang} \| [^|]+ \| {rates[lang]['cer']:.2f} \|", card)


def _transcribe(mini: SeamlessM4T, csv: Path, lang: str) -> float:
    rows = read_asr_manifest(csv)
    wavs, lens = batch_pad_right([torch.from_numpy(sf.read(r.wav, dtype="float32")[0]) for r in rows])
    with torch.no_grad():
        hyps = transcribe(mini, wavs, lens, lang, max_new_tokens=32)
    return compute_error_rates([r.id for r in rows], [r.transcript for r in rows], hyps, lang=lang)["cer"]


def test_mini_model_transcribes_a_high_resource_language_better_than_a_low_resource_one(mini, tmp_path):
    # Held-out sentences (900+) of Bengali (4,000 clips in pretraining) and Odia (low-resource: 400),
    # from the bundled FLORES text: a random model scores ~100 % CER on both, a model that never
    # heard Odia ~105 % on it; this one has learned to listen, to Odia a little.
    cer = {}
    for lang in ("ben", "ory"):
        csv = tmp_path / f"{lang}.csv"
        prepare_synthetic(csv, lang, "test", count=16, seed=7)
        cer[lang] = _transcribe(mini, csv, lang)
    assert cer["ben"] < 60.0, cer  # the card: ~26 % on 100 clips
    assert cer["ben"] < cer["ory"] < 80.0, cer  # the card: Odia 30-60 %


def test_synthetic_speech_is_reproducible_normalised_and_split_by_sentence(tmp_path):
    first = prepare_synthetic(tmp_path / "a" / "test.csv", "ory", "test", count=5, seed=3)
    again = prepare_synthetic(tmp_path / "b" / "test.csv", "ory", "test", count=5, seed=3)
    rows_a = read_asr_manifest(tmp_path / "a" / "test.csv")
    rows_b = read_asr_manifest(tmp_path / "b" / "test.csv")
    assert first.kept + len(first.items) == 5 and first.kept == again.kept >= 4
    assert [(r.id, r.transcript) for r in rows_a] == [(r.id, r.transcript) for r in rows_b]
    for a, b in zip(rows_a, rows_b):
        assert Path(a.wav).read_bytes() == Path(b.wav).read_bytes()  # same seed, same samples
        assert a.language == "ory" and 0.5 < a.duration < 10
        assert a.transcript == normalize_text(a.transcript, "ory")
    # test phrases come from the held-out sentences 900+ only
    start, _ = SPLITS["test"]
    held_out = " ".join(normalize_text(s, "ory") for s in read_flores_dev(None, "ory_Orya")[start:])
    assert all(r.transcript in held_out for r in rows_a)
    prepare_synthetic(tmp_path / "c" / "t.csv", "ory", "test", 5, seed=4)
    other = read_asr_manifest(tmp_path / "c" / "t.csv")
    assert [r.transcript for r in other] != [r.transcript for r in rows_a]  # the seed picks the phrases


def test_synthetic_speech_rejects_unknown_language_and_split(tmp_path):
    with pytest.raises(ValueError, match="no espeak-ng voice for language 'xyz'"):
        prepare_synthetic(tmp_path / "x.csv", "xyz", "train", 2)
    with pytest.raises(ValueError, match="split must be one of"):
        prepare_synthetic(tmp_path / "x.csv", "ory", "devtest", 2)


def test_flores_pairs_takes_a_sentence_range_iso_codes_and_normalises(tmp_path):
    csv = tmp_path / "p.csv"
    report = flores_pairs(None, csv, src="eng", tgt="mai", sentences=[800, 900], normalize=True)
    pairs = read_text_manifest(tmp_path / "p.csv")
    assert report.kept == len(pairs) == 100
    assert pairs[0].id == "flores_dev_0801" and (pairs[0].src_lang, pairs[0].tgt_lang) == ("eng", "mai")
    assert pairs[0].target == normalize_text(read_flores_dev(None, "mai_Deva")[800], "mai")
    assert not re.search(r"[,.?!]", " ".join(p.source + p.target for p in pairs))


def test_overlays_are_found_next_to_the_experiment_chain_not_the_installed_package(tmp_path):
    # A checkout elsewhere (as with a non-editable install): its own hparams/ and fixtures are used.
    copy = tmp_path / "checkout"
    shutil.copytree(REPO / "hparams", copy / "hparams")
    shutil.copytree(REPO / "recipes" / "Odia" / "hparams", copy / "recipes" / "Odia" / "hparams")
    recipe = copy / "recipes" / "Odia" / "hparams" / "odia_encoder.yaml"
    smoke = experiment_tree(recipe, {"smoke": True})
    assert smoke["repo_root"] == str(copy.resolve()) and smoke["tiny_model_version"] == "v1"
    mini = experiment_tree(recipe, {"mini": True})
    assert mini["model_source"] == "mini" and mini["datasets"]["train"]["corpus"] == "synthetic"
    with pytest.raises(HparamsError, match="exclude each other"):
        experiment_tree(recipe, {"mini": True, "smoke": True})


def test_main_job_on_the_mini_model_makes_held_out_odia_better(tmp_path, capsys):
    """The README's main job (`cd recipes/Odia && python train.py hparams/odia_encoder.yaml --mini=True`)."""
    summary = run_experiment(
        [str(REPO / "recipes/Odia/hparams/odia_encoder.yaml"), "--mini=True", f"--output_root={tmp_path}"]
    )
    entry = summary["extra"]["versus_base"]["held_out"]
    assert entry["language"] == "ory" and entry["num_utterances"] >= 140
    assert 30.0 <= entry["base_cer"] <= 60.0  # the paper's situation: Odia heard as a low-resource language
    assert entry["delta_cer"] <= -1.0, entry  # encoder adapters (0.53 % of the base) trained on Odia help
    assert entry["cer"] <= 30.0, entry  # issue 18: the adapted model is usable (held-out CER <= 30 %)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("held_out (ory, ") and "better than the base" in last.lower()
    assert (tmp_path / "odia_encoder" / "1986" / "test" / "held_out.base" / "hypotheses.tsv").exists()
    # The README quotes what this command prints. One thread (mini.yaml) gives the same digits on one
    # machine under any load, but another CPU sums floats in another order (the same commit printed
    # 28.49 % on one machine, 29.07 % on another): the words must match, each figure within 1 point.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"^```\n(held_out \(ory.*)\n```$", readme, flags=re.M)
    number = r"-?\d+\.\d+"
    update = "update README.md's main-job line to what the command prints now"
    assert quoted and re.sub(number, "#", quoted[1]) == re.sub(number, "#", last), update
    for ours, printed in zip(re.findall(number, quoted[1]), re.findall(number, last)):
        assert abs(float(ours) - float(printed)) <= 1.0, (update, quoted[1], last)
    made = [
        len(read_asr_manifest(tmp_path / "manifests" / "ory" / f"{s}.csv"))
        for s in ("train", "valid", "test_held_out")
    ]
    assert "{} training, {} validation and {} test clips".format(*made) in " ".join(readme.split())
