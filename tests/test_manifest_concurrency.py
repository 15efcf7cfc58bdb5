"""Manifests shared by experiments: written atomically, prepared by one process at a time."""

from __future__ import annotations

import csv
import multiprocessing
import time
from pathlib import Path

import pytest

from speechbrain_m4t_adapters.data.manifest import AsrEntry, read_asr_manifest, write_asr_manifest
from speechbrain_m4t_adapters.training.recipe import _prepare_cached

ROWS = 40


def _slow_prepare(spec, csv_path, what, overwrite, **defaults):
    """A preparer that takes a while (like decoding every clip) and logs each real run."""
    if not overwrite and Path(csv_path).exists():
        return
    with open(Path(csv_path).parent / "runs.log", "a") as log:
        log.write(f"{what} start {time.time()}\n")
    time.sleep(0.5)
    rows = [AsrEntry(f"u{i}", 1.0, f"/data/u{i}.wav", "ben", f"text {i}") for i in range(spec["rows"])]
    write_asr_manifest(rows, csv_path)


def _experiment(folder: str, name: str, queue) -> None:
    csv_path = Path(folder) / "train.csv"
    _prepare_cached(_slow_prepare, {"rows": ROWS}, csv_path, name, {"seed": 1})
    queue.put((name, len(read_asr_manifest(csv_path))))


def test_two_experiments_started_together_prepare_once_and_read_whole_manifests(tmp_path):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_experiment, args=(str(tmp_path), n, queue)) for n in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [w.exitcode for w in workers] == [0, 0]
    seen = dict(queue.get(timeout=5) for _ in workers)
    assert seen == {"a": ROWS, "b": ROWS}
    assert len((tmp_path / "runs.log").read_text().splitlines()) == 1  # the other one waited and reused
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "runs.log",
        "train.csv",
        "train.csv.lock",
        "train.spec.json",
    ]


def test_a_write_that_fails_halfway_leaves_the_previous_manifest(tmp_path, monkeypatch):
    path = tmp_path / "m.csv"
    write_asr_manifest([AsrEntry("old", 1.0, "/a.wav", "ben", "x")], path)
    real_writer = csv.writer

    class Failing:
        def __init__(self, handle):
            self.inner, self.count = real_writer(handle), 0

        def writerow(self, row):
            self.count += 1
            if self.count == 3:
                raise OSError("disk full")
            self.inner.writerow(row)

    monkeypatch.setattr(csv, "writer", lambda handle, **kw: Failing(handle))
    with pytest.raises(OSError, match="disk full"):
        write_asr_manifest([AsrEntry(f"n{i}", 1.0, "/a.wav", "ben", "x") for i in range(5)], path)
    monkeypatch.undo()
    assert [e.id for e in read_asr_manifest(path)] == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]
