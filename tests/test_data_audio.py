"""Audio loading: formats, mixing, resampling and every failure mode."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_m4t_adapters.data.audio import AudioError, audio_info, load_audio

REAL = Path(__file__).parent / "fixtures" / "real" / "respin"


def test_real_respin_wav_loads_as_16k_mono():
    wav = min((REAL / "bn" / "wav").glob("*.wav"))
    duration, sr, channels = audio_info(wav)
    audio = load_audio(wav)
    assert (sr, channels) == (16000, 1)
    assert audio.dtype == torch.float32 and audio.dim() == 1
    assert audio.numel() == round(duration * 16000)
    assert 0.01 < audio.abs().max().item() <= 1.0  # real speech, not silence


def test_stereo_is_mixed_to_mono_by_mean(tmp_path):
    left = np.full(1600, 0.5, dtype="float32")
    right = np.full(1600, -0.1, dtype="float32")
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    audio = load_audio(path)
    assert audio.shape == (1600,)
    assert torch.allclose(audio, torch.full((1600,), 0.2), atol=1e-6)
    assert audio_info(path) == (0.1, 16000, 2)


def test_8khz_is_resampled_with_the_right_length(tmp_path):
    t = np.arange(8000) / 8000
    path = tmp_path / "tone8k.flac"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    audio = load_audio(path)
    assert audio.shape == (16000,)
    # The 440 Hz tone survives resampling: dominant FFT bin at 440 Hz.
    spectrum = torch.fft.rfft(audio).abs()
    assert abs(int(spectrum.argmax()) - 440) <= 1


def test_segment_reading(tmp_path):
    path = tmp_path / "ramp.wav"
    sf.write(path, np.linspace(-1, 1, 16000, dtype="float32"), 16000, subtype="FLOAT")
    seg = load_audio(path, start=0.25, stop=0.5)
    assert seg.shape == (4000,)
    assert seg[0].item() == pytest.approx(-1 + 2 * 4000 / 15999, abs=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="missing_audio.*nope.wav") as err:
        load_audio(tmp_path / "nope.wav")
    assert err.value.reason == "missing_audio"
    with pytest.raises(AudioError):
        audio_info(tmp_path / "nope.wav")


def test_corrupt_file(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    for fn in (load_audio, audio_info):
        with pytest.raises(AudioError, match="garbage.wav") as err:
            fn(path)
        assert err.value.reason == "corrupt_audio"
        assert isinstance(err.value, ValueError)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype="float32"), 16000)
    for fn in (load_audio, audio_info):
        with pytest.raises(AudioError, match="empty_audio.*empty.wav"):
            fn(path)


def test_nonfinite_samples_are_an_error_naming_the_file(tmp_path):
    path = tmp_path / "inf.wav"
    samples = np.zeros(1600, dtype="float32")
    samples[5] = -np.inf
    sf.write(path, samples, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nonfinite_audio.*inf.wav.*1 of 1600 frames") as err:
        load_audio(path)
    assert err.value.reason == "nonfinite_audio"
    assert load_audio(path, start=0.001).numel() == 1584  # the segment after the bad sample is fine
