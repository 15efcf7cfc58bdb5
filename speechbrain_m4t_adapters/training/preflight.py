"""Checks run before any data is prepared or any model loaded: fail early, never after the work.

Every folder the run writes must be writable, and every ``pretrained_adapters`` folder must exist
(a missing one names the recipe, found beside the experiment's YAML, and the command that makes it).
"""

import os
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..adapters.io import parse_folder_entry

#: Metadata file every saved adapter folder has (see adapters/integrity.py).
_ADAPTERS_JSON = "adapters.json"


def check_writable(folders: Iterable[str | os.PathLike]) -> None:
    """Raise ``PermissionError`` naming the first folder (or, if absent, nearest ancestor) not writable.

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> check_writable([root / "out" / "adapters"])
    >>> (root / "file").write_text("x")
    1
    >>> try:
    ...     check_writable([root / "file" / "adapters"])
    ... except PermissionError as error:
    ...     print(str(error).endswith("file is not a folder"))
    True
    """
    for folder in folders:
        folder = Path(folder)
        existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        if not existing.is_dir():
            raise PermissionError(f"cannot write to {folder}: {existing} is not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(
                f"cannot write to {folder}: {existing} is not writable (fix its permissions or "
                "choose another output_root) -- checked before any work starts"
            )


def check_pretrained_adapters(
    folders: Sequence, argv: Sequence[str], hparams_file: str | os.PathLike
) -> None:
    """Raise ``FileNotFoundError`` for a missing pretrained adapter folder, with the command that makes it:
    ``<output_root>/<experiment>/<seed>/adapters`` is made by the recipe setting ``experiment_name:
    <experiment>``; the command repeats this run's ``--output_root``, ``--seed``, ``--smoke``, ``--mini``.
    """
    for entry in folders:
        folder, _ = parse_folder_entry(entry)  # a folder, or {folder: ..., rename: ...}
        if (folder / _ADAPTERS_JSON).is_file():
            continue
        experiment, seed = folder.parent.parent.name, folder.parent.name
        recipe = find_recipe(experiment, hparams_file)
        keep = [a for a in argv if re.match(r"--(output_root|seed|smoke|mini|data_folder|model_source)=", a)]
        if recipe is None:
            searched = " or ".join(str(f) for f in recipe_folders(hparams_file)) or "no recipes folder"
            hint = f"no recipe YAML in {searched} sets experiment_name: {experiment}"
        else:
            command = ["python", str(recipe.parent.parent / "train.py"), str(recipe), *keep]
            if not any(a.startswith("--seed=") for a in keep):
                command.append(f"--seed={seed}")
            hint = f"run its recipe {recipe.relative_to(recipe.parents[3])} first:\n    {shlex.join(command)}"
        raise FileNotFoundError(
            f"pretrained_adapters: {folder} does not exist (no {_ADAPTERS_JSON}); it is made by "
            f"experiment {experiment!r} (seed {seed}); {hint}"
        )


def recipe_folders(hparams_file: str | os.PathLike) -> list[Path]:
    """The ``recipes`` folder (``<recipes>/<Language>/hparams/*.yaml``) of a recipe YAML (or none).

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> (root / "recipes" / "Odia" / "hparams").mkdir(parents=True)
    >>> recipe_folders(root / "recipes" / "Odia" / "hparams" / "x.yaml") == [root / "recipes"]
    True
    """
    path = Path(hparams_file).resolve()
    own = [path.parents[2]] if path.parent.name == "hparams" and len(path.parents) > 2 else []
    return [folder for folder in own if folder.is_dir()]


def find_recipe(experiment: str, hparams_file: str | os.PathLike) -> Path | None:
    """The recipe YAML setting ``experiment_name: <experiment>``: beside ``hparams_file``, then in
    its :func:`recipe_folders` (None if none)."""
    pattern = re.compile(rf"^experiment_name:\s*['\"]?{re.escape(experiment)}['\"]?\s*(#.*)?$", re.M)
    siblings = sorted(Path(hparams_file).resolve().parent.glob("*.yaml"))
    for folder in recipe_folders(hparams_file):
        siblings += sorted(folder.glob("*/hparams/*.yaml"))
    return next((path for path in siblings if pattern.search(path.read_text(encoding="utf-8"))), None)
