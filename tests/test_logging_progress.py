"""TensorBoard by a YAML switch; progress bars that stay quiet when nobody watches."""

from __future__ import annotations

import sys

import pytest

from speechbrain_m4t_adapters.progress import ENV_VAR, progress_bar, progress_enabled


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_is_off_without_a_terminal_or_in_ci(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", _Stream(tty=True))
    assert progress_enabled() is True and progress_enabled(False) is False
    assert progress_bar(range(2)).disable is False
    monkeypatch.setenv("CI", "true")
    assert progress_enabled() is False
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys, "stderr", _Stream(tty=False))
    assert progress_enabled() is False and progress_bar(range(2)).disable is True
    monkeypatch.setenv(ENV_VAR, "1")
    assert progress_enabled() is True
    monkeypatch.setenv(ENV_VAR, "0")
    assert progress_enabled(True) is False


def test_tensorboard_switch_writes_events_and_training_stays_quiet(tmp_path, tiny_v1, capfd):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from test_training import RECIPES, smoke_args

    from speechbrain_m4t_adapters.training.recipe import run_experiment

    args = smoke_args(
        RECIPES / "Bengali/hparams/bengali_encoder.yaml", tmp_path, tiny_v1, "--tensorboard=True"
    )
    run_experiment(args + ["--debug", "--debug_batches=1"])
    output = next(tmp_path.glob("*/*/summary.json")).parent
    events = list((output / "tensorboard").rglob("events.out.tfevents.*"))
    assert events
    tags = set()
    for event_file in events:
        accumulator = EventAccumulator(str(event_file))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    assert {"loss/train", "loss/valid", "WER/valid", "WER_bengali/test", "WER_maithili/test"} <= tags
    assert "it/s" not in capfd.readouterr().err  # stderr is not a terminal: no tqdm bars
