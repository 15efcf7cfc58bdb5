"""M4TAdaptedASR: single vs batched, chunking, adapter switching, hyperpyyaml, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import REAL
from speechbrain.utils.data_utils import batch_pad_right

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import AdapterMismatchError, BottleneckConfig
from speechbrain_m4t_adapters.data.audio import AudioError, load_audio
from speechbrain_m4t_adapters.data.manifest import AsrEntry, write_asr_manifest
from speechbrain_m4t_adapters.evaluation.summary import read_summary
from speechbrain_m4t_adapters.inference import (
    HPARAMS_TEMPLATE,
    M4TAdaptedASR,
    evaluate_manifest,
    failure_report,
)
from speechbrain_m4t_adapters.model.decoding import chunk_bounds

TOKENS = 5  # short outputs keep the random model fast
BN_WAVS = sorted((REAL / "respin" / "bn" / "wav").glob("*.wav"))
MT_WAVS = sorted((REAL / "respin" / "mt" / "wav").glob("*.wav"))
ODIA = REAL / "commonvoice_or" / "common_voice_or_21820802.wav"


def make_adapters(base: Path, folder: Path, language: str | None, seed: int) -> Path:
    """Save one bottleneck set with non-zero random weights (zero-init adapters are the identity)."""
    m4t = SeamlessM4T(
        base, adapters={"enc": BottleneckConfig(bottleneck=8, targets=["speech_encoder", "text_decoder"])}
    )
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m4t.adapters.parameters("enc"):
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    extra = {"language": language} if language else {}
    return m4t.save_adapters(folder, **extra)


@pytest.fixture(scope="module")
def adapter_dirs(tiny_v2, tiny_v1, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {
        "ory": make_adapters(tiny_v2, root / "odia", "ory", seed=1),
        "ben": make_adapters(tiny_v2, root / "bengali", "ben", seed=2),
        "v1": make_adapters(tiny_v1, root / "v1_odia", "ory", seed=3),
    }


@pytest.fixture(scope="module")
def asr(tiny_v2, adapter_dirs) -> M4TAdaptedASR:
    return M4TAdaptedASR.from_model(
        tiny_v2,
        adapter_folders=[adapter_dirs["ory"], adapter_dirs["ben"]],
        device="cpu",
        max_new_tokens=TOKENS,
    )


def test_profiles_and_defaults(asr, adapter_dirs):
    profiles = asr.adapter_profiles
    assert list(profiles) == ["odia", "bengali"]
    assert profiles["odia"].language == "ory" and profiles["bengali"].language == "ben"
    # Both folders hold a set called "enc": attached side by side under their profile names.
    assert sorted(asr.m4t.adapters.sets) == ["bengali-enc", "odia-enc"]
    assert asr.m4t.adapters.active == ["odia-enc"]  # the first folder is the default
    assert not any(p.requires_grad for p in asr.parameters())
    assert not any(m.training for m in asr.modules())
    assert asr.select() == ("ory", ["odia-enc"])  # language from the active adapters' metadata
    assert asr.select("ben") == ("ben", ["bengali-enc"])  # adapters picked by language
    assert asr.select("mai") == ("mai", ["odia-enc"])  # no Maithili adapters: the active ones
    assert asr.select("__ben__", adapters="none") == ("ben", [])


def test_single_and_batched_agree(asr):
    # Every real clip, including those whose length-adaptor window reaches into batch padding.
    files = BN_WAVS + MT_WAVS
    frames = [int(asr.m4t.extract_features(load_audio(f)[None])[1].sum()) for f in files]
    assert {f % 8 < 4 for f in frames} == {True, False}
    single = [asr.transcribe_file(f, lang="ben") for f in files]
    assert all(isinstance(t, str) and t for t in single)
    assert len(set(single)) > 1  # the random model's output does depend on the audio
    for batch_size in (2, 8):
        results = asr.transcribe_files(files, lang="ben", batch_size=batch_size)
        assert [r.text for r in results] == single, batch_size
        assert all(r.ok and r.chunks == 1 and r.lang == "ben" for r in results)
        assert [r.id for r in results] == [f.stem for f in files]  # input order, despite sorting
    wavs, lens = batch_pad_right([load_audio(f) for f in files])
    texts, tokens = asr.transcribe_batch(wavs, lens, lang="ben")
    assert texts == single and len(tokens) == len(files)


def test_short_audio_chunked_equals_unchunked(asr):
    wav = load_audio(ODIA)
    assert chunk_bounds(wav, 30.0) == [(0, wav.numel())]
    whole = asr.transcribe_file(ODIA, lang="ory", max_chunk_seconds=None)
    assert asr.transcribe_file(ODIA, lang="ory") == whole
    assert asr.transcribe_file(ODIA, lang="ory", max_chunk_seconds=30.0) == whole
    assert asr.transcribe_waveform(wav, lang="ory") == whole


def test_long_audio_is_chunked_and_joined(asr, tmp_path):
    wav = torch.cat([load_audio(BN_WAVS[i]) for i in (3, 1, 4)])  # 3 real clips, 9.3 s
    path = tmp_path / "long.wav"
    sf.write(path, wav.numpy(), 16000)
    bounds = chunk_bounds(wav, 3.5)
    assert len(bounds) >= 3 and max(b - a for a, b in bounds) <= 56000
    assert bounds[0][0] == 0 and bounds[-1][1] == wav.numel()
    pieces = [asr.transcribe_waveform(wav[a:b], lang="ben", max_chunk_seconds=None) for a, b in bounds]
    expected = " ".join(p.strip() for p in pieces if p.strip())
    # Chunks decoded in one padded batch give the same text as one by one.
    assert asr.transcribe_file(path, lang="ben", max_chunk_seconds=3.5) == expected
    (result,) = asr.transcribe_files([path], lang="ben", max_chunk_seconds=3.5)
    assert result.text == expected and result.chunks == len(bounds)
    assert result.duration == pytest.approx(wav.numel() / 16000)


def test_switching_adapters_changes_output_without_reloading(asr):
    model = asr.m4t.model
    clip = BN_WAVS[0]
    # No profile is saved for Maithili: adapters are chosen explicitly or default to the first.
    odia = asr.transcribe_file(clip, lang="mai", adapters="odia")
    bengali = asr.transcribe_file(clip, lang="mai", adapters="bengali")
    base = asr.transcribe_file(clip, lang="mai", adapters="none")
    assert len({odia, bengali, base}) == 3
    assert asr.transcribe_file(clip, lang="mai") == odia
    assert asr.transcribe_file(clip, lang="mai", adapters=["bengali-enc"]) == bengali
    assert asr.m4t.adapters.active == ["odia-enc"]  # per-call choices are undone
    # Bengali adapters are picked by the language alone.
    ben_with_bengali = asr.transcribe_file(clip, lang="ben", adapters="bengali")
    assert ben_with_bengali != asr.transcribe_file(clip, lang="ben", adapters="odia")
    assert asr.transcribe_file(clip, lang="ben") == ben_with_bengali
    assert asr.use_adapters("bengali") == ["bengali-enc"]
    try:
        assert asr.transcribe_file(clip, lang="mai") == bengali  # the new default
    finally:
        asr.use_adapters("odia")
    assert asr.m4t.model is model  # one base throughout
    # A multilingual batch: each language with its own adapters.
    results = asr.transcribe_files(
        [AsrEntry("m", 1.0, str(clip), "mai", ""), AsrEntry("b", 1.0, str(clip), "ben", "")], batch_size=4
    )
    assert results[0].text == odia and results[0].adapters == ["odia-enc"]
    assert results[1].text == ben_with_bengali and results[1].adapters == ["bengali-enc"]
    with pytest.raises(KeyError, match="unknown adapters 'hindi'"):
        asr.transcribe_file(clip, lang="ory", adapters="hindi")


def test_from_hparams_with_shipped_yaml(tiny_v2, adapter_dirs, asr, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    text = HPARAMS_TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("base_model: facebook/seamless-m4t-v2-large", "base_model: !ref <model_dir>/base")
    text = text.replace("adapter_folders: []", "adapter_folders: [!ref <model_dir>/adapters_ben]")
    (folder / "hyperparams.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(adapter_dirs["ben"], folder / "adapters_ben")
    (folder / "base").symlink_to(tiny_v2, target_is_directory=True)
    loaded = M4TAdaptedASR.from_hparams(
        source=str(folder),
        run_opts={"device": "cpu"},
        overrides={"max_new_tokens": TOKENS},  # model_dir is filled in by from_hparams
    )
    assert list(loaded.adapter_profiles) == ["adapters_ben"]
    assert loaded.adapter_profiles["adapters_ben"].folder == str(folder.resolve() / "adapters_ben")
    assert loaded.transcribe_file(BN_WAVS[0]) == asr.transcribe_file(BN_WAVS[0], lang="ben")


def _write_bad_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    empty = folder / "empty.wav"
    sf.write(empty, np.zeros(0, dtype="float32"), 16000)
    audio, _ = sf.read(BN_WAVS[0], dtype="float32")
    stereo = folder / "stereo_8k.wav"
    resampled = np.interp(np.arange(0, len(audio), 2), np.arange(len(audio)), audio).astype("float32")
    sf.write(stereo, np.stack([resampled, resampled], axis=1), 8000)
    short = folder / "short.wav"
    sf.write(short, np.zeros(100, dtype="float32"), 16000)
    truncated = folder / "truncated.wav"  # a copy cut short: libsndfile alone reads it as a shorter clip
    truncated.write_bytes(Path(BN_WAVS[0]).read_bytes()[:20_000])
    return {
        "truncated": truncated,
        "corrupt": corrupt,
        "empty": empty,
        "stereo": stereo,
        "short": short,
        "missing": folder / "nope.wav",
    }


def test_bad_inputs_name_the_file(asr, tmp_path):
    bad = _write_bad_inputs(tmp_path)
    assert asr.transcribe_file(bad["stereo"], lang="ben")  # 8 kHz stereo: mixed down, resampled
    reasons = {"corrupt": "corrupt_audio", "empty": "empty_audio", "missing": "missing_audio"}
    for key, reason in {**reasons, "truncated": "truncated_audio"}.items():
        with pytest.raises(AudioError, match=reason) as info:
            asr.transcribe_file(bad[key], lang="ben")
        assert str(bad[key]) in str(info.value)
    with pytest.raises(AudioError, match="shorter than one 25 ms frame") as info:
        asr.transcribe_file(bad["short"], lang="ben")
    assert str(bad["short"]) in str(info.value)
    with pytest.raises(ValueError, match="unknown language code 'xyz'.*ben, eng, hin, mai, ory"):
        asr.transcribe_file(BN_WAVS[0], lang="xyz")
    with pytest.raises(ValueError, match="unknown language code"):
        asr.transcribe_batch(torch.zeros(1, 16000), lang="zz")


def test_batch_keeps_good_results_and_reports_failures(asr, tmp_path):
    bad = _write_bad_inputs(tmp_path)
    inputs = [
        BN_WAVS[0],
        bad["corrupt"],
        bad["stereo"],
        bad["missing"],
        bad["empty"],
        bad["short"],
        bad["truncated"],
        BN_WAVS[1],
    ]
    results = asr.transcribe_files(inputs, lang="ben", batch_size=3)
    ok = {r.id for r in results if r.ok}
    assert ok == {BN_WAVS[0].stem, "stereo_8k", BN_WAVS[1].stem}
    assert results[0].text == asr.transcribe_file(BN_WAVS[0], lang="ben")
    errors = {r.id: r.error for r in results if not r.ok}
    assert "corrupt_audio" in errors["corrupt"] and str(bad["corrupt"]) in errors["corrupt"]
    assert "missing_audio" in errors["nope"] and "empty_audio" in errors["empty"]
    assert "25 ms" in errors["short"]
    assert "truncated_audio" in errors["truncated"] and "header declares" in errors["truncated"]
    report = failure_report(results)
    assert report.startswith("5 of 8 input(s) failed:") and str(bad["missing"]) in report
    # An unknown language in a row fails that row only.
    rows = [
        AsrEntry("good", 1.0, str(BN_WAVS[0]), "ben", ""),
        AsrEntry("bad", 1.0, str(BN_WAVS[0]), "xyz", ""),
    ]
    good, wrong = asr.transcribe_files(rows)
    assert good.ok and not wrong.ok and "unknown language code 'xyz'" in wrong.error


def test_adapters_for_another_base_are_refused(asr, adapter_dirs):
    before = sorted(asr.m4t.adapters.sets)
    with pytest.raises(AdapterMismatchError, match="v1_odia") as info:
        asr.load_adapters(adapter_dirs["v1"])
    assert "seamless_m4t" in str(info.value) and "fingerprint" in str(info.value)
    assert sorted(asr.m4t.adapters.sets) == before
    with pytest.raises(FileNotFoundError, match="adapters.json"):
        asr.load_adapters(adapter_dirs["v1"].parent)


def test_load_and_unload_profile(asr, adapter_dirs):
    profile = asr.load_adapters(adapter_dirs["ory"], name="odia2")
    assert profile.sets == ["odia2-enc"] and asr.m4t.adapters.active == ["odia-enc"]
    clip = BN_WAVS[2]
    assert asr.transcribe_file(clip, lang="ben", adapters="odia2") == asr.transcribe_file(
        clip, lang="ben", adapters="odia"
    )
    asr.unload_adapters("odia2")
    assert "odia2-enc" not in asr.m4t.adapters.sets
    with pytest.raises(ValueError, match="already loaded"):
        asr.load_adapters(adapter_dirs["ory"], name="odia")


def test_evaluate_manifest(asr, tmp_path):
    rows = []
    for folder, lang in (("bn", "ben"), ("mt", "mai")):
        lines = (REAL / "respin" / folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
        for line in lines[:2]:
            utt, text = line.split("\t", 1)
            rows.append(AsrEntry(utt, 3.0, str(REAL / "respin" / folder / "wav" / f"{utt}.wav"), lang, text))
    rows.append(AsrEntry("gone", 1.0, str(tmp_path / "gone.wav"), "ben", "কিছু"))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(Path(rows[0].wav).read_bytes()[:20_000])
    rows.append(AsrEntry("cut", 3.0, str(cut), "ben", rows[0].transcript))
    manifest = tmp_path / "test.csv"
    write_asr_manifest(rows, manifest)
    summary = evaluate_manifest(asr, manifest, tmp_path / "out", batch_size=4)
    assert summary == read_summary(tmp_path / "out" / "summary.json")
    assert set(summary["test_sets"]) == {"test_ben", "test_mai"}
    assert summary["test_sets"]["test_ben"]["num_utterances"] == 2
    assert summary["test_sets"]["test_ben"]["failed"] == 2  # missing, and cut short (not scored)
    assert summary["test_sets"]["test_ben"]["wer"] >= 0
    assert list(summary["extra"]["failed"]) == ["gone", "cut"]
    assert summary["trainable_params"] > 0  # the adapters used, Odia for mai and Bengali for ben
    assert sorted(summary["extra"]["adapter_sets"]) == ["bengali-enc", "odia-enc"]
    for name in ("wer_test_ben.txt", "wer_test_ben_cer.txt", "wer_test_mai.txt", "hyp_test.tsv"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    hyp_lines = (tmp_path / "out" / "hyp_test.tsv").read_text(encoding="utf-8").splitlines()
    assert len(hyp_lines) == 7 and "missing_audio" in hyp_lines[-2] and "truncated_audio" in hyp_lines[-1]


def test_int8_quantisation_keeps_adapters_float_and_outputs_close(tiny_v2, adapter_dirs):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    from speechbrain_m4t_adapters.inference.quantize import quantizable_linears

    wavs, lens = batch_pad_right([load_audio(w) for w in BN_WAVS[:2]])
    options = dict(adapter_folders=[adapter_dirs["ory"]], device="cpu", max_new_tokens=TOKENS)
    float_asr = M4TAdaptedASR.from_model(tiny_v2, **options)
    expected = quantizable_linears(float_asr.m4t.model, ("speech_encoder",))
    int8_asr = M4TAdaptedASR.from_model(tiny_v2, quantize="int8-encoder", **options)
    model = int8_asr.m4t.model
    assert expected and all(isinstance(model.get_submodule(n), DynamicInt8Linear) for n in expected)
    assert not quantizable_linears(model, ("speech_encoder",))  # none left in float
    adapters = [m for n, m in model.named_modules() if "sb_adapters" in n and isinstance(m, torch.nn.Linear)]
    assert adapters and all(type(m) is torch.nn.Linear and m.weight.dtype == torch.float32 for m in adapters)
    assert type(model.text_decoder.layers[0].self_attn.q_proj) is torch.nn.Linear  # decoder left alone
    assert (float_asr.m4t.fbank.precision, int8_asr.m4t.fbank.precision) == (torch.float64, torch.float32)
    with torch.no_grad():
        hidden, _ = float_asr.m4t(wavs, lens)
        quantised, _ = int8_asr.m4t(wavs, lens)
        with int8_asr.profiles.using([]):
            base_only, _ = int8_asr.m4t(wavs, lens)
    cosine = torch.nn.functional.cosine_similarity(hidden.flatten(), quantised.flatten(), dim=0)
    assert cosine > 0.99, cosine  # int8 rounding, not another model
    assert not torch.allclose(quantised, base_only, atol=1e-3)  # the float adapters still switch off
    assert len(int8_asr.transcribe_batch(wavs, lens, lang="ory")[0]) == 2
    with pytest.raises(ValueError, match="odia.*before int8 quantisation"):
        int8_asr.load_adapters(adapter_dirs["ory"], name="again")
    with pytest.raises(ValueError, match="'int4' is not one of"):
        M4TAdaptedASR.from_model(tiny_v2, quantize="int4", device="cpu")
