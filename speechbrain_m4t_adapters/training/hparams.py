"""Experiment hyperparameters: small experiment files on top of shared bases.

An experiment YAML names the file it extends with a top-level
``base_hparams:`` entry (a path relative to the experiment file; chains are
allowed, e.g. ``odia_text_then_encoder.yaml`` -> ``odia_encoder.yaml`` ->
``hparams/asr.yaml``). A child replaces WHOLE top-level entries of its base
(no deep merge, so what an experiment says is exactly what runs), then
command-line overrides (``--key=value``) replace entries of the result.

Two overlays, each a YAML next to the root of the chain (``hparams/``), make
any experiment runnable on a CPU in minutes: ``--smoke=True`` applies
``hparams/smoke.yaml`` (tiny RANDOM offline model, the real clips shipped in
``tests/fixtures/real``, one short epoch: checks the pipeline) and
``--mini=True`` applies ``hparams/mini.yaml`` (the mini SeamlessM4T bundled
with the package, which has learned, and synthetic speech of the
experiment's language: numbers that mean something at mini scale). They are
found from the experiment file, not from the installed package, so they work
from a non-editable install too.

Every key is checked before anything is built (no model or data is loaded
for a typo): a key that the root of the chain (``hparams/base.yaml``) does not
define is an error naming the closest known key, and a value whose type does
not fit the default (``--lr=abc``, ``--number_of_epochs=two``) is an error
naming the key, the value and the expected type.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path
from typing import Any

import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml

BASE_KEY = "base_hparams"
#: Keys added by :func:`experiment_tree` itself (always known).
ADDED_KEYS = ("repo_root", "hparams_file")


class HparamsError(ValueError):
    """An unknown key or a value of the wrong type in an experiment's hyperparameters."""


def _is_tagged(value: Any) -> bool:
    """A hyperpyyaml construct (``!ref``, ``!new:``, ``!PLACEHOLDER``...): its type is not known here."""
    tag = getattr(value, "tag", None)
    return bool(getattr(tag, "value", tag))


def _expected_type(default: Any) -> tuple[str, tuple[type, ...]] | None:
    """Name and accepted types of values that may replace ``default`` (None: anything)."""
    if default is None or _is_tagged(default):
        return None
    if isinstance(default, bool):
        return "a boolean (True/False)", (bool,)
    if isinstance(default, int):
        return "an integer", (int,)
    if isinstance(default, float):
        return "a number", (int, float)
    if isinstance(default, str):
        return "a string", (str, int, float)
    if isinstance(default, dict):
        return "a mapping ({key: value, ...})", (dict,)
    if isinstance(default, list):
        return "a list ([a, b, ...])", (list,)
    return None


def check_entry(key: str, value: Any, known: Any, source: str) -> None:
    """Check that ``key`` exists in ``known`` and that ``value`` fits the type of its entry there.

    Arguments
    ---------
    key, value : str, any
        The entry being set.
    known : mapping
        The tree it replaces an entry of.
    source : str
        Where the entry comes from, for the message (a file or ``command line``).

    Raises
    ------
    HparamsError
        Unknown key (naming the closest known one) or wrong type.

    Example
    -------
    >>> check_entry("lr", 0.01, {"lr": 0.001}, "cli")
    >>> for key, value in (("numbr_of_epochs", 3), ("number_of_epochs", "two")):
    ...     try:
    ...         check_entry(key, value, {"number_of_epochs": 10}, "command line")
    ...     except HparamsError as error:
    ...         print(error)
    command line: unknown hyperparameter 'numbr_of_epochs'; did you mean 'number_of_epochs'?
    command line: number_of_epochs='two' is not an integer (default: 10)
    """
    if key not in known and key not in ADDED_KEYS:
        close = difflib.get_close_matches(key, [str(k) for k in known], n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "see hparams/base.yaml for the known keys"
        raise HparamsError(f"{source}: unknown hyperparameter {key!r}; {hint}")
    expected = _expected_type(known.get(key))
    if expected is None or value is None or _is_tagged(value):
        return
    name, types = expected
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        default = f" (default: {known[key]})" if not isinstance(known[key], dict | list) else ""
        raise HparamsError(f"{source}: {key}={value!r} is not {name}{default}")


#: Boolean keys that apply ``<root hparams folder>/<key>.yaml`` on top of the experiment.
OVERLAYS = ("smoke", "mini")


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


def _chain(path: str | Path) -> list[tuple[Path, Any]]:
    """``(file, tree without base_hparams)`` along the base chain: the experiment first, the root last."""
    chain: list[tuple[Path, Any]] = []
    path = Path(path).resolve()
    while True:
        if any(path == seen for seen, _ in chain):
            names = " -> ".join(str(seen) for seen, _ in chain)
            raise ValueError(f"{path}: {BASE_KEY} chain loops back on itself ({names})")
        tree = _load_tree(path)
        base = tree.pop(BASE_KEY, None)
        chain.append((path, tree))
        if base is None:
            return chain
        path = (path.parent / str(base)).resolve()


def _merge(chain: list[tuple[Path, Any]]) -> Any:
    """Apply a chain from its root down: a child replaces whole top-level entries (checked)."""
    merged = chain[-1][1]
    for path, tree in reversed(chain[:-1]):
        for key, value in tree.items():
            check_entry(key, value, merged, str(path))
            merged[key] = value
    return merged


def merged_tree(path: str | Path) -> Any:
    """The YAML tree of ``path`` with its base chain applied (tags preserved)."""
    return _merge(_chain(path))


def _as_tree(overrides: str | dict | None) -> dict:
    if not overrides:
        return {}
    if isinstance(overrides, str):
        loaded = _yaml().load(overrides)
        return dict(loaded or {})
    return dict(overrides)


def chain_root(path: str | Path) -> Path:
    """The file at the root of ``path``'s ``base_hparams`` chain (e.g. ``hparams/base.yaml``)."""
    return _chain(path)[-1][0]


def _flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


def experiment_tree(path: str | Path, overrides: str | dict | None = None) -> Any:
    """Merged YAML tree of an experiment: base chain, then overlays (smoke, mini), then overrides.

    ``repo_root`` (the folder above the chain root's folder) and
    ``hparams_file`` are added for references such as the smoke data folder.
    """
    chain = _chain(path)
    root = chain[-1][0]
    tree = _merge(chain)
    extra = _as_tree(overrides)
    applied = [name for name in OVERLAYS if _flag(extra.get(name, tree.get(name, False)))]
    if len(applied) > 1:
        raise HparamsError(f"--{applied[0]}=True and --{applied[1]}=True exclude each other: choose one")
    for name in applied:
        overlay = root.parent / f"{name}.yaml"
        for key, value in merged_tree(overlay).items():
            check_entry(key, value, tree, str(overlay))
            tree[key] = value
    for key, value in extra.items():
        check_entry(key, value, tree, "command line")
        tree[key] = value
    tree.setdefault("repo_root", str(root.parent.parent))
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
