"""Shared fixtures: tiny offline SeamlessM4T checkpoints (v1 and v2), real audio clips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import soundfile as sf
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
torch.set_num_threads(2)

FIXTURES = Path(__file__).parent / "fixtures"
REAL = FIXTURES / "real"


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    """Tiny random v1/v2 checkpoints saved exactly like hub folders."""
    from speechbrain_m4t_adapters.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny_models")
    return {version: build_tiny_model(root / version, version) for version in ("v2", "v1")}


@pytest.fixture(scope="session")
def tiny_v2(tiny_dirs) -> Path:
    return tiny_dirs["v2"]


@pytest.fixture(scope="session")
def tiny_v1(tiny_dirs) -> Path:
    return tiny_dirs["v1"]


@pytest.fixture(scope="session")
def real_clips() -> list[tuple[torch.Tensor, str, str]]:
    """(waveform, transcript, language) of the shipped RESPIN clips (16 kHz mono)."""
    clips = []
    for folder, lang in (("bn", "ben"), ("mt", "mai")):
        rows = (REAL / "respin" / folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
        for row in rows[:3]:
            utt, text = row.split("\t", 1)
            audio, rate = sf.read(REAL / "respin" / folder / "wav" / f"{utt}.wav", dtype="float32")
            assert rate == 16000
            clips.append((torch.from_numpy(audio), text, lang))
    return clips


def pad_batch(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad waveforms; return (B, T) and SpeechBrain relative lengths."""
    from speechbrain.utils.data_utils import batch_pad_right

    return batch_pad_right(waves)


@pytest.fixture
def device() -> str:
    """The device of tests/unittests (SpeechBrain's conftest gives it from ``--device``; CPU here)."""
    return "cpu"
