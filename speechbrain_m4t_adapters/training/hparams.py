"""Experiment hyperparameters: one flat hyperpyyaml file per experiment, checked before use.

A recipe YAML (``recipes/<Language>/hparams/<experiment>.yaml``, written by ``tools/flat_recipes.py``)
holds every knob and loads by itself with hyperpyyaml; overrides (``--key=value``) replace WHOLE
top-level entries. Overlays from its ``overlays_folder`` run any experiment on a CPU in minutes:
``--smoke=True`` (``smoke.yaml``: tiny RANDOM model, the clips in ``tests/fixtures/real``, one
short epoch) and ``--mini=True`` (``mini.yaml``: the bundled, trained mini SeamlessM4T and
synthetic speech of the experiment's language). Every key is checked before anything is built:
an unknown key names the closest known one; a mistyped value names the key, value and type.
"""

import difflib
import io
from pathlib import Path
from typing import Any

import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml

#: Keys added by :func:`experiment_tree` itself (always known).
ADDED_KEYS = ("repo_root", "hparams_file")


class HparamsError(ValueError):
    """An unknown key or a value of the wrong type in an experiment's hyperparameters."""


_CHECKPOINTING = "True/False, a list of stacks, {stack: every k-th layer} or {stack: [sub-block, ...]}"
#: Keys whose value may take several shapes (their default shows only one).
SEVERAL_TYPES = {"activation_checkpointing": (_CHECKPOINTING, (bool, list, dict))}


def _is_tagged(value: Any) -> bool:
    """A hyperpyyaml construct (``!ref``, ``!new:``, ``!PLACEHOLDER``...): its type is not known here."""
    tag = getattr(value, "tag", None)
    return bool(getattr(tag, "value", tag))


#: Type of a default -> the name and the types of the values that may replace it (bool before int).
_TYPES = {
    bool: ("a boolean (True/False)", (bool,)),
    int: ("an integer", (int,)),
    float: ("a number", (int, float)),
    str: ("a string", (str, int, float)),
    dict: ("a mapping ({key: value, ...})", (dict,)),
    list: ("a list ([a, b, ...])", (list,)),
}


def _expected_type(default: Any) -> tuple[str, tuple[type, ...]] | None:
    """Name and accepted types of values that may replace ``default`` (None: anything)."""
    if default is None or _is_tagged(default):
        return None
    return next((expected for kind, expected in _TYPES.items() if isinstance(default, kind)), None)


def check_entry(key: str, value: Any, known: Any, source: str) -> None:
    """Raise :class:`HparamsError` unless ``key`` is in ``known`` and ``value`` fits its entry's type;
    ``source`` (a file or ``command line``) starts the message.

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
        hint = f"did you mean {close[0]!r}?" if close else "see the experiment file for the known keys"
        raise HparamsError(f"{source}: unknown hyperparameter {key!r}; {hint}")
    expected = SEVERAL_TYPES.get(key) or _expected_type(known.get(key))
    if expected is None or value is None or _is_tagged(value):
        return
    name, types = expected
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        default = f" (default: {known[key]})" if not isinstance(known[key], dict | list) else ""
        raise HparamsError(f"{source}: {key}={value!r} is not {name}{default}")


#: Boolean keys that apply ``<overlays_folder>/<key>.yaml`` on top of the experiment.
OVERLAYS = ("smoke", "mini")


def _yaml() -> ruamel.yaml.YAML:
    yaml = ruamel.yaml.YAML()
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never wrap: a wrapped "!ref <...>" flow value no longer resolves
    return yaml


def load_tree(path: str | Path) -> Any:
    """The YAML tree of one hyperparameter file (tags and comments preserved)."""
    try:
        tree = _yaml().load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"hyperparameter file not found: {path}") from error
    except ruamel.yaml.YAMLError as error:
        raise ValueError(f"{path}: invalid YAML ({error})") from error
    if tree is None:
        return ruamel.yaml.comments.CommentedMap()
    if not isinstance(tree, dict):
        raise ValueError(f"{path}: top level must be a mapping of hyperparameters")
    return tree


def _overlay_file(path: Path, tree: Any, name: str) -> Path:
    folder = tree.get("overlays_folder")
    if not folder:
        raise HparamsError(f"{path}: --{name}=True needs `overlays_folder:` (the folder of {name}.yaml)")
    return (path.parent / str(folder)).resolve() / f"{name}.yaml"


def experiment_tree(path: str | Path, overrides: str | dict | None = None) -> Any:
    """YAML tree of an experiment: the file, an overlay (smoke, mini), overrides; plus
    ``repo_root`` (above the overlays folder) and ``hparams_file``."""
    path = Path(path).resolve()
    tree = load_tree(path)
    extra = dict((_yaml().load(overrides) if isinstance(overrides, str) else overrides) or {})
    applied = [n for n in OVERLAYS if str(extra.get(n, tree.get(n, False))).lower() in ("true", "1")]
    if len(applied) > 1:
        raise HparamsError(f"--{applied[0]}=True and --{applied[1]}=True exclude each other: choose one")
    layers = [(str(file), load_tree(file)) for file in (_overlay_file(path, tree, n) for n in applied)]
    for source, entries in [*layers, ("command line", extra)]:  # the overlay, then the overrides
        for key, value in entries.items():
            check_entry(key, value, tree, source)
            tree[key] = value
    if tree.get("overlays_folder"):
        tree.setdefault("repo_root", str((path.parent / str(tree["overlays_folder"])).resolve().parent))
    tree["hparams_file"] = str(path)
    return tree


def dump_tree(tree: Any) -> str:
    """YAML text of a tree (what an experiment ran with; saved next to results)."""
    stream = io.StringIO()
    _yaml().dump(tree, stream)
    return stream.getvalue()


def load_experiment(path: str | Path, overrides: str | dict | None = None) -> tuple[dict, str]:
    """The experiment's resolved hyperparameters (file + overlay + ``overrides``, a YAML string
    or dict) and the merged YAML text they were built from."""
    text = dump_tree(experiment_tree(path, overrides))
    return load_hyperpyyaml(text), text
