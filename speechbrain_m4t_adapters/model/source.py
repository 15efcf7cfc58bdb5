"""Tell a local checkpoint folder from a hub id before transformers does (its errors mislead);
resolve the names of tiny random checkpoints built offline (``tiny-v1``, ``tiny-v2``)."""

import shutil
import tempfile
from pathlib import Path

#: Names of tiny random checkpoints built into ``save_path`` on first use -> SeamlessM4T version.
TINY_MODELS = {"tiny-v1": "v1", "tiny-v2": "v2"}


def resolve_model_source(source: str | Path, save_path: str | Path | None = None) -> str:
    """The folder of a tiny model name, else ``source`` unchanged (hub id or folder).

    ``tiny-v1`` / ``tiny-v2``: a tiny random checkpoint (seed 0, see ``tiny.build_tiny_model``),
    built offline into ``<save_path>/<name>`` once and reused after; ``save_path`` is then required.

    Example
    -------
    >>> resolve_model_source("facebook/hf-seamless-m4t-medium")
    'facebook/hf-seamless-m4t-medium'
    >>> import tempfile
    >>> folder = resolve_model_source("tiny-v1", tempfile.mkdtemp())
    >>> folder.endswith("tiny-v1"), resolve_model_source("tiny-v1", Path(folder).parent) == folder
    (True, True)
    """
    source = str(source)
    if source in TINY_MODELS:
        return str(build_tiny_once(source, save_path))
    return source


def build_tiny_once(name: str, save_path: str | Path | None) -> Path:
    """``<save_path>/<name>``, built first if it holds no checkpoint (written aside, then renamed)."""
    if save_path is None:
        raise ValueError(f"model source {name!r} is built offline into save_path: give one")
    folder = Path(save_path) / name
    if (folder / "config.json").is_file():
        return folder
    from ..tiny import build_tiny_model  # transformers' model classes: only when a tiny model is asked for

    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        build_tiny_model(scratch, TINY_MODELS[name])
        scratch.rename(folder)  # a concurrent builder may have won: its identical copy is kept
    except OSError:
        if not (folder / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def check_model_source(source: str) -> None:
    """Raise ``FileNotFoundError`` when ``source`` is meant as a local folder that is not a checkpoint.

    Local: it exists, is absolute, starts with ``.`` or ``~``, or has more than one ``/`` (hub ids
    are ``owner/name``); transformers would call a missing folder an invalid "repo id".

    Example
    -------
    >>> check_model_source("facebook/hf-seamless-m4t-medium")  # a hub id: left to transformers
    >>> try:
    ...     check_model_source("/nowhere/m4t")
    ... except FileNotFoundError as error:
    ...     print(str(error).split(" (")[0])
    model folder /nowhere/m4t does not exist
    """
    path = Path(source).expanduser()
    if not (path.exists() or source.startswith((".", "~", "/")) or source.count("/") > 1):
        return  # a hub id
    if not path.is_dir():
        raise FileNotFoundError(
            f"model folder {source} does not exist (a local path, not a Hugging Face hub id "
            "like facebook/hf-seamless-m4t-medium)"
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"model folder {source} has no config.json: not a SeamlessM4T checkpoint folder"
        )
