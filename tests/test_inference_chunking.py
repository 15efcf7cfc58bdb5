"""Long-audio chunking: one chunk when short, full coverage and the limit when long."""

from __future__ import annotations

import pytest
import torch
from conftest import REAL

from speechbrain_m4t_adapters.data.audio import load_audio
from speechbrain_m4t_adapters.model.decoding import chunk_bounds, join_texts, split_audio

ODIA = REAL / "commonvoice_or" / "common_voice_or_21820802.wav"


def _check_cover(bounds, total, limit):
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    for (_, end), (start, _) in zip(bounds, bounds[1:]):
        assert end == start  # consecutive: no gap, no overlap
    assert all(0 < b - a <= limit for a, b in bounds)


def test_short_audio_is_one_chunk(real_clips):
    for wav, _, _ in real_clips:
        assert chunk_bounds(wav, max_seconds=30.0) == [(0, wav.numel())]
        assert chunk_bounds(wav, max_seconds=wav.numel() / 16000) == [(0, wav.numel())]
        assert chunk_bounds(wav, max_seconds=None) == [(0, wav.numel())]
        assert chunk_bounds(wav, max_seconds=0) == [(0, wav.numel())]


def test_long_real_audio_is_cut_into_covering_chunks(real_clips):
    wav = torch.cat([c[0] for c in real_clips[:3]])  # ~9 s of real Bengali speech
    for limit_s in (2.0, 3.0, 4.0):
        bounds = chunk_bounds(wav, max_seconds=limit_s)
        assert len(bounds) >= 3
        _check_cover(bounds, wav.numel(), int(limit_s * 16000))
    parts = split_audio(wav, max_seconds=4.0)
    assert torch.equal(torch.cat(parts), wav)


def test_cut_lands_in_the_pause_of_real_speech():
    # The Odia clip has speech from ~1.4 s to ~4.4 s and silence around it.
    wav = load_audio(ODIA)
    bounds = chunk_bounds(wav, max_seconds=5.0, search_seconds=1.5)
    assert len(bounds) == 2
    cut = bounds[0][1]
    assert 3.5 * 16000 <= cut <= 5.0 * 16000
    window = wav[cut - 200 : cut + 200].pow(2).mean()
    assert window < 0.1 * wav.pow(2).mean()  # far quieter than the clip on average


def test_cut_prefers_the_quietest_point():
    wav = torch.randn(16000 * 12) * 0.3
    wav[70000:72000] = 0.0  # 4.4 s..4.5 s: within the search window before the 5 s limit
    bounds = chunk_bounds(wav, max_seconds=5.0)
    assert 70000 <= bounds[0][1] <= 72000
    _check_cover(bounds, wav.numel(), 80000)


def test_no_tiny_tail():
    wav = torch.randn(16000 * 4 + 10)
    bounds = chunk_bounds(wav, max_seconds=4.0)
    _check_cover(bounds, wav.numel(), 64000)
    assert bounds[-1][1] - bounds[-1][0] >= 0.4 * 16000


@pytest.mark.parametrize("limit_s", [0.5, 1.0, 7.0, 30.0])
def test_every_limit_covers_random_lengths(limit_s):
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        total = int(torch.randint(400, 16000 * 40, (1,), generator=gen))
        wav = torch.randn(total, generator=gen)
        _check_cover(chunk_bounds(wav, max_seconds=limit_s), total, int(limit_s * 16000))


def test_join_texts():
    assert join_texts(["a ", " b", "", "  ", "c"]) == "a b c"
    assert join_texts([]) == ""
