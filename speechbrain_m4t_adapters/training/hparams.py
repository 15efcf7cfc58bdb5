"""Experiment hyperparameters: small experiment files on top of shared bases.

An experiment YAML names the file it extends with a top-level
``base_hparams:`` entry (a path relative to the experiment file; chains are
allowed, e.g. ``odia_text_then_encoder.yaml`` -> ``odia_encoder.yaml`` ->
``hparams/asr.yaml``). A child replaces WHOLE top-level entries of its base
(no deep merge, so what an experiment says is exactly what runs), then
command-line overrides (``--key=value``) replace entries of the result.

``--smoke=True`` additionally applies ``hparams/smoke.yaml`` (tiny offline
model, the real data shipped in ``tests/fixtures/real``, one short epoch) so
that every experiment can be run end to end on a CPU in minutes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml

BASE_KEY = "base_hparams"
REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE_HPARAMS = REPO_ROOT / "hparams" / "smoke.yaml"


def _yaml() -> ruamel.yaml.YAML:
    yaml = ruamel.yaml.YAML()
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never wrap: a wrapped "!ref <...>" flow value no longer resolves
    return yaml


def _load_tree(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as stream:
            tree = _yaml().load(stream)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"hyperparameter file not found: {path}") from error
    except ruamel.yaml.YAMLError as error:
        raise ValueError(f"{path}: invalid YAML ({error})") from error
    if tree is None:
        return ruamel.yaml.comments.CommentedMap()
    if not isinstance(tree, dict):
        raise ValueError(f"{path}: top level must be a mapping of hyperparameters")
    return tree


def merged_tree(path: str | Path, _seen: tuple[Path, ...] = ()) -> Any:
    """The YAML tree of ``path`` with its base chain applied (tags preserved)."""
    path = Path(path).resolve()
    if path in _seen:
        raise ValueError(f"{path}: {BASE_KEY} chain loops back on itself ({' -> '.join(map(str, _seen))})")
    tree = _load_tree(path)
    base = tree.pop(BASE_KEY, None)
    if base is None:
        return tree
    merged = merged_tree(path.parent / str(base), _seen + (path,))
    for key, value in tree.items():
        merged[key] = value
    return merged


def _as_tree(overrides: str | dict | None) -> dict:
    if not overrides:
        return {}
    if isinstance(overrides, str):
        loaded = _yaml().load(overrides)
        return dict(loaded or {})
    return dict(overrides)


def experiment_tree(
    path: str | Path, overrides: str | dict | None = None, smoke_hparams: str | Path = SMOKE_HPARAMS
) -> Any:
    """Merged YAML tree of an experiment: base chain, then smoke, then overrides.

    ``repo_root`` (this checkout) and ``hparams_file`` are added for
    references such as the smoke data folder.
    """
    tree = merged_tree(path)
    extra = _as_tree(overrides)
    if str(extra.get("smoke", tree.get("smoke", False))).lower() in ("true", "1"):
        for key, value in merged_tree(smoke_hparams).items():
            tree[key] = value
    for key, value in extra.items():
        tree[key] = value
    tree.setdefault("repo_root", str(REPO_ROOT))
    tree["hparams_file"] = str(Path(path).resolve())
    return tree


def dump_tree(tree: Any) -> str:
    """YAML text of a tree (what an experiment ran with; saved next to results)."""
    stream = io.StringIO()
    _yaml().dump(tree, stream)
    return stream.getvalue()


def load_experiment(path: str | Path, overrides: str | dict | None = None) -> tuple[dict, str]:
    """Load an experiment's hyperparameters (base chain + smoke + overrides).

    Arguments
    ---------
    path : str or Path
        The experiment YAML.
    overrides : str or dict, optional
        Command-line overrides (SpeechBrain's ``parse_arguments`` gives a YAML string).

    Returns
    -------
    hparams : dict
        Resolved hyperparameters (objects built by hyperpyyaml).
    text : str
        The merged YAML they were built from.
    """
    text = dump_tree(experiment_tree(path, overrides))
    return load_hyperpyyaml(text), text
