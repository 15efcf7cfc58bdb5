"""Checks run before any data is prepared or any model loaded: fail early, never after the work.

* every folder the run will write to must be writable (today's alternative:
  an unwritable ``adapters/`` fails after training and testing);
* every ``pretrained_adapters`` folder must exist; a missing one names the
  recipe and the command that makes it (e.g. the Bengali pivot). Recipes are
  looked for beside the experiment's YAML (:func:`recipe_folders`), never in
  the installed package, so this works from a non-editable install too.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..adapters.io import parse_folder_entry

#: Metadata file every saved adapter folder has (see adapters/integrity.py).
_ADAPTERS_JSON = "adapters.json"


def check_writable(folders: Iterable[str | os.PathLike]) -> None:
    """Raise ``PermissionError`` naming the first folder that could not be written.

    A folder that exists must be a writable directory; one that does not must
    have a nearest existing ancestor that is a writable directory.

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
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
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
    """Raise ``FileNotFoundError`` for a missing pretrained adapter folder, with the command that makes it.

    The folder ``<output_root>/<experiment>/<seed>/adapters`` is made by the
    recipe whose YAML sets ``experiment_name: <experiment>`` (found from
    ``hparams_file``, the experiment's YAML); the command repeats this run's
    ``--output_root``, ``--seed``, ``--smoke`` and ``--mini`` options.
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
            train = recipe.parent.parent / "train.py"
            command = ["python", str(train), str(recipe), *keep]
            if not any(a.startswith("--seed=") for a in keep):
                command.append(f"--seed={seed}")
            hint = f"run its recipe {recipe.relative_to(recipe.parents[3])} first:\n    {shlex.join(command)}"
        raise FileNotFoundError(
            f"pretrained_adapters: {folder} does not exist (no {_ADAPTERS_JSON}); it is made by "
            f"experiment {experiment!r} (seed {seed}); {hint}"
        )


def recipe_folders(hparams_file: str | os.PathLike) -> list[Path]:
    """The ``recipes`` folder (``<recipes>/<Language>/hparams/*.yaml``) a recipe YAML belongs to.

    Empty when the YAML is not in a ``<Language>/hparams/`` folder, or that folder is gone.

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
    """The recipe YAML whose own text sets ``experiment_name: <experiment>`` (None if none).

    Searched beside ``hparams_file`` (a flat ``hparams/`` folder of several
    languages, as in SpeechBrain's tree), then in its :func:`recipe_folders`.
    """
    pattern = re.compile(rf"^experiment_name:\s*['\"]?{re.escape(experiment)}['\"]?\s*(#.*)?$", re.M)
    siblings = sorted(Path(hparams_file).resolve().parent.glob("*.yaml"))
    for folder in recipe_folders(hparams_file):
        siblings += sorted(folder.glob("*/hparams/*.yaml"))
    for path in siblings:
        if pattern.search(path.read_text(encoding="utf-8")):
            return path
    return None
