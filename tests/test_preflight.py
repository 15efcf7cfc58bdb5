"""Fail early: unwritable outputs, missing prerequisites and missing model folders are named at start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.bundled import resolve_model_source
from speechbrain_m4t_adapters.training.recipe import run_experiment

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _args(yaml: str, root: Path, model: Path, *extra: str) -> list[str]:
    return [str(RECIPES / yaml), "--smoke=True", f"--output_root={root}", f"--model_source={model}", *extra]


def test_unwritable_adapters_folder_fails_before_any_work(tmp_path, tiny_v1, monkeypatch):
    folder = tmp_path / "bengali_encoder" / "1986"
    folder.mkdir(parents=True)
    (folder / "adapters").write_text("a file where the adapters folder goes")
    prepared = []
    monkeypatch.setattr("speechbrain_m4t_adapters.training.recipe._prepare", prepared.append)
    with pytest.raises(
        PermissionError, match=r"cannot write to .*/1986/adapters: .*/1986/adapters is not a folder"
    ):
        run_experiment(_args("Bengali/hparams/bengali_encoder.yaml", tmp_path, tiny_v1))
    assert (
        prepared == [] and not (folder / "train_log.txt").exists()
    )  # (save/ comes with the YAML's Checkpointer)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_root_fails_before_any_work(tmp_path, tiny_v1):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="is not writable"):
            run_experiment(_args("Bengali/hparams/bengali_encoder.yaml", tmp_path, tiny_v1))
    finally:
        tmp_path.chmod(0o700)


def test_missing_pivot_adapters_name_the_recipe_and_command_before_preparing(tmp_path, tiny_v1, monkeypatch):
    prepared = []
    monkeypatch.setattr("speechbrain_m4t_adapters.training.recipe._prepare", prepared.append)
    with pytest.raises(FileNotFoundError) as error:
        pivot = "Maithili/hparams/maithili_bengali_pivot_length_adaptor.yaml"
        run_experiment(_args(pivot, tmp_path, tiny_v1))
    message = str(error.value)
    assert f"{tmp_path}/bengali_length_adaptor/1986/adapters does not exist" in message
    assert "recipes/Bengali/hparams/bengali_length_adaptor.yaml first" in message
    bengali = f"{RECIPES}/Bengali/hparams/bengali_length_adaptor.yaml"
    assert f"recipes/Bengali/train.py {bengali} --smoke=True" in message
    assert f"--output_root={tmp_path}" in message and "--seed=1986" in message
    assert prepared == [] and not (tmp_path / "manifests").exists()


def test_a_model_folder_a_smoke_run_builds_later_resolves_unchecked(tmp_path):
    # run_experiment resolves the source before the smoke run builds its tiny model there
    assert resolve_model_source(tmp_path / "tiny_m4t_v1") == str(tmp_path / "tiny_m4t_v1")


def test_missing_local_model_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"model folder {tmp_path}/nope does not exist"):
        SeamlessM4T(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        SeamlessM4T(tmp_path / "empty")


def test_quickstart_runs_from_another_directory_and_cleans_up(tmp_path):
    import subprocess
    import sys

    work, scratch = tmp_path / "work", tmp_path / "scratch"
    work.mkdir()
    scratch.mkdir()
    script = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    env = {**os.environ, "TMPDIR": str(scratch)}  # where its temporary tiny model goes
    run = subprocess.run(
        [sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(p.name for p in work.iterdir()) == ["results"]
    assert (work / "results" / "quickstart_adapters" / "adapters.json").is_file()
    assert list(scratch.iterdir()) == []  # the tiny model was removed


def test_recipes_are_found_beside_the_experiment_yaml_not_the_package(tmp_path):
    """A checkout of the recipes elsewhere (a non-editable install): its own recipes are searched."""
    import shutil

    from speechbrain_m4t_adapters.training.preflight import find_recipe, recipe_folders

    checkout = Path(__file__).resolve().parents[1]
    shutil.copytree(checkout / "hparams", tmp_path / "hparams")
    shutil.copytree(checkout / "recipes" / "Bengali", tmp_path / "recipes" / "Bengali")
    shutil.copytree(checkout / "recipes" / "Maithili", tmp_path / "recipes" / "Maithili")
    pivot = tmp_path / "recipes" / "Maithili" / "hparams" / "maithili_bengali_pivot_length_adaptor.yaml"
    assert recipe_folders(pivot) == [tmp_path.resolve() / "recipes"]
    found = find_recipe("bengali_length_adaptor", pivot)
    assert found == tmp_path.resolve() / "recipes" / "Bengali" / "hparams" / "bengali_length_adaptor.yaml"
    assert (
        find_recipe("odia_encoder", pivot) is None
    )  # Odia was not copied: the package's checkout is not read
