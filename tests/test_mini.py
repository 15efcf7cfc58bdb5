"""Mini SeamlessM4T tooling (issue 9): speech generator, tokenizer/config, pretraining run."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.tiny import BUNDLED_CORPUS

TOOLS = Path(__file__).resolve().parents[1] / "tools" / "mini"
sys.path.insert(0, str(TOOLS))
make_speech = importlib.import_module("make_speech")
pretrain = importlib.import_module("pretrain")
mini_model = importlib.import_module("mini_model")
MINI_LANGUAGES, NEVER_HEARD_LANGUAGES = mini_model.MINI_LANGUAGES, mini_model.NEVER_HEARD_LANGUAGES
PRETRAIN_SPEECH_LANGUAGES = mini_model.PRETRAIN_SPEECH_LANGUAGES
build_mini_init, write_tokenizer_corpus = mini_model.build_mini_init, mini_model.write_tokenizer_corpus

SENTENCES = 8  # fake FLORES dev size; sentences 5.. are held out


def _devanagari_lines(count: int) -> list[str]:
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    deva = [x for x in lines if "\u0915" <= x[0] <= "\u0939" and not any(c.isdigit() for c in x)]
    return deva[:count]


@pytest.fixture(scope="module")
def fake_flores(tmp_path_factory) -> Path:
    """FLORES-like dev folder: real Devanagari sentences for every language (voices only read hin/mai)."""
    root = tmp_path_factory.mktemp("flores")
    (root / "dev").mkdir()
    lines = _devanagari_lines(SENTENCES)
    for lang, code in MINI_LANGUAGES.items():
        text = lines if lang != "eng" else [f"this is english sentence number {n} here" for n in "abcdefgh"]
        (root / "dev" / f"{code}.dev").write_text("\n".join(text) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def small_spec() -> dict:
    spec = make_speech.load_spec()
    spec["heldout_from"] = 5
    spec["text_pairs_per_sentence"] = 3
    for table in ("pretrain_speech", "target_speech"):
        for entry in spec[table].values():
            entry["train"], entry["heldout"] = 3, 2
    return spec


def test_spec_has_low_resource_odia_and_no_maithili_speech_in_pretraining():
    spec = make_speech.load_spec()
    assert set(spec["pretrain_speech"]) == set(PRETRAIN_SPEECH_LANGUAGES)
    assert NEVER_HEARD_LANGUAGES == ("mai",) and "mai" not in spec["pretrain_speech"]
    # Odia is heard, but as a low-resource language: a tenth of a high-resource language's clips
    assert spec["pretrain_speech"]["ory"]["train"] * 10 == spec["pretrain_speech"]["hin"]["train"]
    assert spec["target_speech"]["mai"]["voice"] == "hi"  # no Maithili voice: Hindi reads it
    assert set(spec["text_languages"]) == set(MINI_LANGUAGES)  # text covers all 14
    with pytest.raises(ValueError, match="only FLORES dev"):
        make_speech.read_flores("/nonexistent", "hin_Deva", "devtest")


def test_plan_is_deterministic_and_splits_sentences(fake_flores, small_spec):
    plan = make_speech.plan_clips(small_spec, fake_flores, ["hin", "mai"])
    assert plan == make_speech.plan_clips(small_spec, fake_flores, ["hin", "mai"])
    assert len(plan) == 2 * (3 + 2)
    for clip in plan:
        assert (clip["sentence_id"] >= 5) == (clip["split"] == "heldout")
        assert 2 <= len(clip["text"].split())
    assert {c["voice"] for c in plan if c["lang"] == "mai"} == {"hi"}
    other = dict(small_spec, seed=small_spec["seed"] + 1)
    assert make_speech.plan_clips(other, fake_flores, ["hin"]) != [c for c in plan if c["lang"] == "hin"]
    with pytest.raises(ValueError, match="not in the spec"):
        make_speech.plan_clips(small_spec, fake_flores, ["xyz"])


def test_text_pairs_cover_all_languages_and_only_training_sentences(fake_flores, small_spec, tmp_path):
    count, pairs = make_speech.write_text_tables(small_spec, fake_flores, tmp_path)
    assert count == SENTENCES and pairs == 5 * 3
    rows = pretrain.read_text_table(tmp_path / "text_pairs.tsv")
    assert {int(r["sentence_id"]) for r in rows} <= set(range(5))
    assert all(r["src_lang"] != r["tgt_lang"] for r in rows)
    text = pretrain.read_text_table(tmp_path / "text.tsv")
    assert {r["lang"] for r in text} == set(MINI_LANGUAGES)
    assert sum(r["split"] == "heldout" for r in text) == 14 * (SENTENCES - 5)


def test_make_speech_writes_same_16k_clips_for_a_fixed_seed(fake_flores, small_spec, tmp_path):
    pytest.importorskip("espeakng_loader")
    first = make_speech.make_speech(tmp_path / "a", small_spec, fake_flores, ["hin", "mai"], limit=2)
    second = make_speech.make_speech(tmp_path / "b", small_spec, fake_flores, ["hin", "mai"], limit=2)
    rows = make_speech.read_manifest(first)
    assert len(rows) == 2 * 2 * 2  # 2 languages x 2 splits x limit 2
    for row in rows:
        wav, rate = sf.read(first.parent / row["wav"], dtype="float32")
        assert rate == 16000
        assert len(wav) == pytest.approx(row["duration_s"] * 16000, abs=8)  # 3 decimals
        assert 0.4 < row["duration_s"] < 6.0
        assert np.sqrt(np.mean(wav**2)) > 0.01  # speech, not silence
        again, _ = sf.read(second.parent / row["wav"], dtype="float32")
        np.testing.assert_array_equal(wav, again)
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def mini_init(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mini")
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    corpus = write_tokenizer_corpus((("eng", x) for x in lines), root / "corpus.txt")
    return build_mini_init(root / "init", corpus, vocab_size=300, hidden_size=32, speech_layers=1)


def test_mini_tokenizer_has_every_language_token(mini_init):
    lobe = SeamlessM4T(mini_init, freeze=False)
    ids = {lang: lobe.tokenizer.convert_tokens_to_ids(f"__{lang}__") for lang in MINI_LANGUAGES}
    assert len(set(ids.values())) == 14 and lobe.tokenizer.unk_token_id not in ids.values()
    assert {lang: lobe.languages.id(lang) for lang in MINI_LANGUAGES} == ids
    assert lobe.text_ids("नमस्ते", "ory")[0] == ids["ory"]
    config = lobe.model.config
    assert (config.adaptor_stride, config.adaptor_kernel_size, config.speech_encoder_layers) == (4, 4, 1)
    hidden, mask = lobe(torch.randn(1, 16000))
    assert hidden.shape[1] == 13  # 50 frames/s -> 12.5 frames/s after the stride-4 adaptor


def _fake_data(root: Path, spec: dict, flores: Path) -> Path:
    """A make_speech-style folder with noise wavs (no espeak needed)."""
    make_speech.write_text_tables(spec, flores, root)
    plan = make_speech.plan_clips(spec, flores, ["hin", "ory"])
    rng = np.random.default_rng(0)
    with open(root / "manifest.tsv", "w", encoding="utf-8") as f:
        f.write("\t".join(make_speech.MANIFEST_COLUMNS) + "\n")
        for clip in plan:
            wav = (0.1 * rng.standard_normal(int(16000 * (0.5 + 0.1 * len(clip["text"].split()))))).astype(
                np.float32
            )
            rel = Path("wavs") / f"{clip['id']}.wav"
            (root / rel).parent.mkdir(exist_ok=True)
            sf.write(root / rel, wav, 16000)
            row = {**clip, "wav": str(rel), "duration_s": len(wav) / 16000}
            f.write("\t".join(str(row[c]) for c in make_speech.MANIFEST_COLUMNS) + "\n")
    return root


def test_pretrain_resumes_and_exports_without_ctc_head(fake_flores, small_spec, tmp_path):
    (tmp_path / "data").mkdir()
    data = _fake_data(tmp_path / "data", small_spec, fake_flores)
    overrides = [
        "speech_languages=[hin]",
        "vocab_size=300",
        "hidden_size=32",
        "speech_layers=1",
        "text_encoder_layers=1",
        "decoder_layers=1",
        "batch_size=2",
        "eval_every=2",
        "checkpoint_every=1",
        "eval_per_language=2",
        "max_new_tokens=4",
        "max_steps=2",
        "text_prob=0.5",
    ]
    run = tmp_path / "run"
    pretrain.main(["--data", str(data), "--run", str(run), "--set", *overrides])
    curve = (run / "curve.tsv").read_text(encoding="utf-8").splitlines()
    header = curve[0].split("\t")
    assert "cer_hin" in header and "cer_ory" in header  # ory: zero-shot, never trained on
    assert [line.split("\t")[0] for line in curve[1:]] == ["0", "2"]
    first = torch.load(run / "ckpt.pt", weights_only=False)
    assert first["step"] == 2 and any(k.startswith("ctc_head.") for k in first["model"])
    assert not (run / "ckpt.pt.tmp").exists()
    # Resuming continues from step 2 and keeps the curve rows before it.
    pretrain.main(["--data", str(data), "--run", str(run), "--set", "max_steps=4"])
    curve = (run / "curve.tsv").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[0] for line in curve[1:]] == ["0", "2", "4"]
    state = torch.load(run / "ckpt.pt", weights_only=False)
    assert state["step"] == 4
    out = pretrain.export(run, tmp_path / "model", dtype="float32")
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and not any("ctc" in k for k in keys)
    assert not any(k.startswith(("t2u_model.", "vocoder.")) for k in keys)
    card = json.loads((out / "MINI_MODEL.json").read_text(encoding="utf-8"))
    assert card["steps"] == 4 and card["never_heard"] == ["ory", "mai"]
    assert card["stages"][0]["speech_data"]["hin"]["clips"] == 3
    loaded = SeamlessM4T(out)
    trained = {
        k.removeprefix("lobe.model."): v for k, v in state["model"].items() if k.startswith("lobe.model.")
    }
    for name, tensor in loaded.model.state_dict().items():
        torch.testing.assert_close(tensor, trained[name])
    # Continued pretraining from the exported folder: its weights and tokenizer, Odia now heard.
    again = tmp_path / "again"
    pretrain.main(
        ["--data", str(data), "--run", str(again), "--set", *overrides[1:], "speech_languages=[hin,ory]"]
        + ["init_from=" + str(out), "max_steps=0"]
    )
    assert (again / "init" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    assert not (again / "init" / "MINI_MODEL.json").exists()
    assert (again / "curve.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")[0] == "0"
    model2 = pretrain.export(again, tmp_path / "model2", dtype="float32")
    card = json.loads((model2 / "MINI_MODEL.json").read_text(encoding="utf-8"))
    assert [s["steps"] for s in card["stages"]] == [4, 0] and card["never_heard"] == ["mai"]
    assert card["low_resource"] == ["ory"] and card["stages"][1]["speech_data"]["ory"]["clips"] == 3
    continued = SeamlessM4T(model2)
    for name, tensor in continued.model.state_dict().items():
        torch.testing.assert_close(tensor, loaded.model.state_dict()[name])  # 0 steps: same weights


def test_pretrain_refuses_a_second_trainer_on_the_same_run_folder(tmp_path):
    import fcntl

    with open(tmp_path / "train.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running trainer holds it
        with pytest.raises(SystemExit, match="another process"):
            pretrain.main(["--data", str(tmp_path), "--run", str(tmp_path)])


def test_pretrain_refuses_maithili_speech_and_applies_continue_overrides():
    with pytest.raises(ValueError, match="never hear Maithili"):
        pretrain.load_config(overrides=["speech_languages=[hin,mai]"])
    assert "ory" in pretrain.load_config()["speech_languages"]  # low-resource Odia is heard
    scratch = pretrain.load_config()
    cont = pretrain.load_config(overrides=["init_from=/some/model"])
    assert cont["lr"] == scratch["continue_overrides"]["lr"] < scratch["lr"]
    assert pretrain.load_config(overrides=["init_from=/m", "lr=0.1"])["lr"] == 0.1  # --set wins
    assert pretrain.load_config(overrides=["init_from=/m"], new_run=False)["lr"] == scratch["lr"]
    with pytest.raises(ValueError, match="expected key=value"):
        pretrain.load_config(overrides=["no_such_key=1"])


def test_make_speech_skips_a_script_the_voice_cannot_read(small_spec, tmp_path, capsys):
    pytest.importorskip("espeakng_loader")
    flores = tmp_path / "flores"
    (flores / "dev").mkdir(parents=True)
    odia = [
        x for x in BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines() if "\u0b15" <= x[0] <= "\u0b39"
    ]
    for code in MINI_LANGUAGES.values():  # the Hindi voice gets Odia text: it spells character names
        (flores / "dev" / f"{code}.dev").write_text("\n".join(odia[:SENTENCES]) + "\n", encoding="utf-8")
    manifest = make_speech.make_speech(tmp_path / "out", small_spec, flores, ["hin"], limit=1)
    assert make_speech.read_manifest(manifest) == []
    assert "cannot read this script; skipped" in capsys.readouterr().err


def test_the_mini_design_examples_run():
    import doctest

    result = doctest.testmod(mini_model)
    assert result.attempted >= 2 and result.failed == 0
