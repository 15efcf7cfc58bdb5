"""Crash-safe checkpoints: a kill at any point of a save, then a resume, ends as if never killed."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import pytest
import speechbrain as sb
import torch
from speechbrain.nnet.schedulers import NewBobScheduler
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_m4t_adapters.training.checkpoints import AtomicCheckpointer, CheckpointRecoveryError

EPOCHS = 2


class Killed(BaseException):
    """Stands for SIGKILL: no ``except Exception`` handler or cleanup sees it."""


class _KillSwitch:
    """Counts file-system writes inside checkpoint saves; raises Killed at the chosen one.

    Writes are observed with an audit hook (open for writing, mkdir, rename,
    remove, rmdir, rmtree) plus ``torch.save``, whose C++ writer is not
    audited. With ``torn=True`` the file written just before the kill point
    is cut to half its size first, as if its last bytes never reached disk.
    """

    def __init__(self) -> None:
        self.active = False
        self.count = 0
        self.kill_at: int | None = None
        self.torn = False
        self.last_written: str | None = None
        sys.addaudithook(self._hook)  # hooks cannot be removed; it is inert unless active

    def arm(self, kill_at: int | None, torn: bool = False) -> None:
        self.count, self.kill_at, self.torn, self.last_written = 0, kill_at, torn, None

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            if not writing or not isinstance(path, str | bytes | os.PathLike):
                return
            self.point(str(path))
        elif event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "shutil.rmtree"):
            self.point(None)

    def point(self, written: str | None) -> None:
        """One kill point: the state on disk as of just before this write."""
        self.count += 1
        if self.count == self.kill_at:
            if self.torn and self.last_written and os.path.isfile(self.last_written):
                size = os.path.getsize(self.last_written)
                with open(self.last_written, "r+b") as handle:  # switch is off while we act
                    handle.truncate(size // 2)
            raise Killed(self.count)
        self.last_written = written


SWITCH = _KillSwitch()


class _ToyBrain(sb.Brain):
    """What AdapterBrain does around checkpoints, on a tiny regression."""

    def compute_forward(self, batch, stage):
        return self.modules.model(batch[0].to(self.device))

    def compute_objectives(self, predictions, batch, stage):
        return torch.nn.functional.mse_loss(predictions, batch[1].to(self.device))

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.VALID:
            _, new_lr = self.hparams.scheduler(stage_loss)
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.checkpointer.save_and_keep_only(meta={"loss": stage_loss}, min_keys=["loss"], num_to_keep=1)


def _data():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(8, 3, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(8, 1, generator=gen)
    return [(x[i], y[i]) for i in range(8)]


def _train(folder: Path, checkpointer_class=AtomicCheckpointer) -> torch.nn.Module:
    """One run: build everything from scratch, recover if possible, train to EPOCHS."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    counter = EpochCounter(EPOCHS)
    scheduler = NewBobScheduler(initial_value=0.05, annealing_factor=0.5, improvement_threshold=0.5)
    checkpointer = checkpointer_class(
        folder, recoverables={"model": model, "counter": counter, "lr": scheduler}
    )
    save = checkpointer.save_and_keep_only

    def switched_save(*args, **kwargs):
        SWITCH.active = True
        try:
            return save(*args, **kwargs)
        finally:
            SWITCH.active = False

    checkpointer.save_and_keep_only = switched_save
    brain = _ToyBrain(
        modules={"model": model},
        opt_class=lambda p: torch.optim.Adam(p, lr=0.05),
        hparams={"scheduler": scheduler},
        run_opts={"device": "cpu", "ckpt_interval_steps": 2, "noprogressbar": True},
        checkpointer=checkpointer,
    )
    data = _data()
    brain.fit(counter, data, data[:4], train_loader_kwargs={"batch_size": 2, "shuffle": True})
    return model, brain.optimizer


@pytest.fixture
def killable_torch_save(monkeypatch):
    real = torch.save

    def save(obj, path, *args, **kwargs):
        if SWITCH.active:
            SWITCH.point(str(path))
        return real(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


def _state_bytes(model, optimizer) -> bytes:
    tensors = [t for t in model.state_dict().values()]
    for state in optimizer.state_dict()["state"].values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    return b"".join(t.detach().contiguous().numpy().tobytes() for t in tensors)


def test_kill_at_every_point_of_every_save_then_resume_is_byte_identical(tmp_path, killable_torch_save):
    SWITCH.arm(None)
    reference = _state_bytes(*_train(tmp_path / "reference"))
    total = SWITCH.count
    assert total >= 60  # 2 epochs x (2 intra-epoch + 1 end-of-epoch saves), each several writes
    outcomes = []
    for torn in (False, True):
        for kill_at in range(1, total + 1):
            folder = tmp_path / f"kill_{kill_at}_{int(torn)}"
            SWITCH.arm(kill_at, torn)
            with pytest.raises(Killed):
                _train(folder)
            SWITCH.arm(None)
            resumed = _state_bytes(*_train(folder))
            outcomes.append(resumed == reference)
            left = sorted(p.name for p in folder.iterdir())
            assert all(name.startswith("CKPT+") for name in left), (kill_at, torn, left)
    print(
        f"checkpoint kill test: {len(outcomes)} kill points ({total} plain + {total} torn), "
        f"{sum(outcomes)} resumed byte-identical"
    )
    assert all(outcomes)


def test_speechbrain_checkpointer_is_blocked_by_a_kill_mid_save(tmp_path, killable_torch_save):
    """The failure this module fixes: CKPT.yaml is written first, so a half save looks valid."""
    SWITCH.arm(3)  # mkdir, CKPT.yaml, then killed before the first parameter file
    with pytest.raises(Killed):
        _train(tmp_path, Checkpointer)
    SWITCH.arm(None)
    for _ in range(2):  # every rerun crashes on the half-written folder
        with pytest.raises((RuntimeError, KeyError)):  # "missing a load path" or its own KeyError
            _train(tmp_path, Checkpointer)


def test_unreadable_checkpoints_are_skipped_with_a_warning(tmp_path, caplog):
    model = torch.nn.Linear(2, 2)
    saver = AtomicCheckpointer(tmp_path, recoverables={"model": model})
    first = saver.save_checkpoint(meta={"loss": 2.0})
    with torch.no_grad():
        model.weight += 1
    second = saver.save_checkpoint(meta={"loss": 1.0})
    third = saver.save_checkpoint(meta={"loss": 0.5})
    (third.path / "CKPT.yaml").write_text("{{{ not yaml")  # unreadable meta
    (second.path / "model.ckpt").write_bytes(b"torn")  # unreadable weights
    with torch.no_grad():
        model.weight.zero_()
    with caplog.at_level(logging.WARNING):
        chosen = saver.recover_if_possible()
    assert chosen.path == first.path and model.weight.abs().sum() > 0
    assert f"skipping checkpoint {third.path}: unreadable CKPT.yaml" in caplog.text
    assert f"skipping unreadable checkpoint {second.path}" in caplog.text
    (first.path / "model.ckpt").unlink()  # incomplete: skipped before anything is loaded
    (second.path / "model.ckpt").unlink()
    assert saver.recover_if_possible() is None
    assert "skipping incomplete checkpoint" in caplog.text
    fresh = saver.save_checkpoint(meta={"loss": 0.1})
    (fresh.path / "model.ckpt").write_bytes(b"torn")
    with pytest.raises(CheckpointRecoveryError, match=re.escape(str(fresh.path))):
        saver.recover_if_possible(min_key="loss")


def test_full_disk_names_the_folder_and_free_space(tmp_path, monkeypatch):
    import errno

    saver = AtomicCheckpointer(tmp_path / "save", recoverables={"model": torch.nn.Linear(2, 2)})

    def full_disk(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0; "
            "basic_ios::clear: iostream error"
        )

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as error:
        saver.save_checkpoint(meta={"loss": 1.0})
    assert error.value.errno == errno.ENOSPC
    message = str(error.value)
    assert f"No space left on device while writing {tmp_path / 'save'}" in message and "MB free" in message
    assert "run the same command again: it resumes" in message


def test_checkpoint_log_names_the_folder_that_exists(tmp_path, caplog):
    saver = AtomicCheckpointer(tmp_path / "save", recoverables={"model": torch.nn.Linear(2, 2)})
    with caplog.at_level(logging.INFO):
        saved = saver.save_checkpoint(meta={"loss": 1.0})
    assert f"Saved an end-of-epoch checkpoint in {saved.path}" in caplog.text
    assert ".partial-" not in caplog.text and saved.path.is_dir()
