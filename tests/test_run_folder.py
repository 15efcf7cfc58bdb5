"""One folder, one run, one configuration: changed settings and concurrent runs are refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speechbrain_m4t_adapters.training.recipe import run_experiment
from speechbrain_m4t_adapters.training.run_folder import (
    OWNER_NAME,
    RunFolderError,
    check_settings,
    exclusive_run,
    settings_of,
)

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
BASE = "lr: 0.001  # peak\nnumber_of_epochs: 2\nadapters: {enc: !new:x.BottleneckConfig {activation: relu}}\n"


def test_settings_ignore_comments_and_resumable_keys_but_not_tags():
    same = BASE.replace("# peak", "# another comment").replace("number_of_epochs: 2", "number_of_epochs: 9")
    assert settings_of(same) == settings_of(BASE)
    assert settings_of(BASE.replace("relu", "gelu")) != settings_of(BASE)
    assert settings_of(BASE.replace("!new:x.", "!new:y.")) != settings_of(BASE)


def test_changed_setting_names_keys_and_ways_out(tmp_path):
    check_settings(tmp_path, BASE, start_fresh=False, moved=["save"])
    check_settings(tmp_path, BASE.replace("number_of_epochs: 2", "number_of_epochs: 5"), False, ["save"])
    (tmp_path / "save").mkdir()
    changed = BASE.replace("relu", "gelu").replace("0.001", "0.01")
    with pytest.raises(RunFolderError) as error:
        check_settings(tmp_path, changed, start_fresh=False, moved=["save"])
    message = str(error.value)
    assert "adapters:" in message and "lr: '0.001' -> '0.01'" in message and "gelu" in message
    assert "--output_folder" in message and "--start_fresh=True" in message and "number_of_epochs" in message
    assert (tmp_path / "save").is_dir()  # refused: nothing moved
    check_settings(tmp_path, changed, start_fresh=True, moved=["save"])
    aside = list(tmp_path.glob("replaced-*/save"))
    assert len(aside) == 1 and not (tmp_path / "save").exists()
    assert json.loads((tmp_path / "settings.json").read_text())["lr"] == "0.01"


def _smoke_args(tmp_path: Path, tiny_v1: Path) -> list[str]:
    if not (tmp_path / "tiny").exists():
        shutil.copytree(tiny_v1, tmp_path / "tiny")
    return [
        str(RECIPES / "Bengali/hparams/bengali_encoder.yaml"),
        "--smoke=True",
        f"--output_root={tmp_path}",
        f"--model_source={tmp_path / 'tiny'}",
        "--tiny_model_version=v1",
    ]


def test_rerun_with_other_lr_is_refused_and_start_fresh_moves_old_run_aside(tmp_path, tiny_v1):
    args = _smoke_args(tmp_path, tiny_v1)
    first = run_experiment(args)
    folder = tmp_path / "bengali_encoder" / "1986"
    saved = (folder / "hyperparams.yaml").read_text()
    log = (folder / "log.txt").read_text()
    # a test set and a forgetting set of one name: decoded under two names, each logged once
    assert log.count("test set: maithili,") == 1 and log.count("test set: forget_maithili,") == 1
    assert "respin/ben [train]: kept" in log and "respin/mai [valid]: kept" in log  # which split
    with pytest.raises(RunFolderError, match=r"lr: '0.001' -> '0.5'"):
        run_experiment(args + ["--lr=0.5"])
    assert (folder / "hyperparams.yaml").read_text() == saved  # the folder still tells one story
    assert json.loads((folder / "summary.json").read_text()) == first
    fresh = run_experiment(args + ["--lr=0.5", "--start_fresh=True"])
    assert fresh["extra"]["epochs_trained"] == 1 and "lr: 0.5" in (folder / "hyperparams.yaml").read_text()
    (old,) = folder.glob("replaced-*")
    assert json.loads((old / "summary.json").read_text()) == first and (old / "adapters").is_dir()


def test_second_run_into_a_busy_folder_stops_at_once(tmp_path, tiny_v1):
    args = _smoke_args(tmp_path, tiny_v1)
    folder = tmp_path / "bengali_encoder" / "1986"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from speechbrain_m4t_adapters.training.run_folder import exclusive_run\n"
            f"import time\nwith exclusive_run({str(folder)!r}):\n"
            "    print('held', flush=True)\n    time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with pytest.raises(RunFolderError, match=rf"{folder} is in use by another run \(pid {holder.pid} "):
            run_experiment(args)
        assert time.monotonic() - start < 30  # before any data or model work
        assert not (folder / "train_log.txt").exists()
    finally:
        holder.kill()
        holder.wait()
    with exclusive_run(folder):  # released when its holder dies
        assert f"pid {__import__('os').getpid()}" in (folder / OWNER_NAME).read_text()


def test_sigterm_says_where_to_resume(tmp_path, tiny_v1):
    args = _smoke_args(tmp_path, tiny_v1) + ["--number_of_epochs=50"]
    code = (
        f"import sys; from speechbrain_m4t_adapters.training import run_experiment; run_experiment({args!r})"
    )
    run = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen = []
    for line in run.stdout:
        seen.append(line)
        if "Epoch: 1" in line or "epoch: 1" in line:  # training has started
            break
    run.send_signal(__import__("signal").SIGTERM)
    rest = run.communicate(timeout=120)[0]
    assert run.returncode == 143, "".join(seen) + rest
    folder = tmp_path / "bengali_encoder" / "1986" / "save"
    assert f"stopped by SIGTERM; checkpoints are in {folder}" in rest
    assert "run the same command again to resume" in rest


def test_import_does_not_warn_about_figures_and_logs_name_splits(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import speechbrain_m4t_adapters.training"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "cannot save figures" not in done.stderr + done.stdout


def test_cpu_threads_leave_busy_cores_alone(monkeypatch):
    from speechbrain_m4t_adapters.training import recipe

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(recipe.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(recipe.os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert recipe.cpu_threads("auto") == 1  # one other job on a 2-core machine: one thread, not two
    monkeypatch.setattr(recipe.os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert recipe.cpu_threads("auto") == 2
    monkeypatch.setattr(recipe.os, "getloadavg", lambda: (7.0, 0.0, 0.0))
    assert recipe.cpu_threads("auto") == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert recipe.cpu_threads("auto") == 2 and recipe.cpu_threads(4) == 4
    assert recipe.cpu_threads("auto", device="cuda:0") is None


def test_without_test_sets_a_run_trains_and_saves_only(tmp_path, tiny_v1, capsys):
    args = _smoke_args(tmp_path, tiny_v1) + ["--test_sets={}", "--forgetting_sets={}"]
    assert run_experiment(args) == {}
    folder = tmp_path / "bengali_encoder" / "1986"
    assert (folder / "adapters" / "adapters.json").is_file() and not (folder / "summary.json").exists()
    assert "valid CER" in (folder / "train_log.txt").read_text() and not (folder / "test").exists()
    assert "no test_sets, trained only" in capsys.readouterr().out
