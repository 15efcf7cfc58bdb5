"""Tell a local checkpoint folder from a hub id before transformers does (its errors mislead)."""

from __future__ import annotations

from pathlib import Path

#: Models shipped inside the package, loadable offline by name as ``model_source``.
BUNDLED_MODELS = {"mini": Path(__file__).resolve().parents[1] / "resources" / "mini_m4t"}


def resolve_model_source(source: str | Path) -> str:
    """The folder of a bundled model name (``mini``), else ``source`` unchanged.

    Example
    -------
    >>> resolve_model_source("mini").endswith("mini_m4t")
    True
    >>> resolve_model_source("facebook/hf-seamless-m4t-medium")
    'facebook/hf-seamless-m4t-medium'
    """
    source = str(source)
    return str(BUNDLED_MODELS[source]) if source in BUNDLED_MODELS else source


def check_model_source(source: str) -> None:
    """Raise ``FileNotFoundError`` when ``source`` is meant as a local folder that is not a checkpoint.

    A source is taken as local when it exists, is absolute, starts with
    ``.`` or ``~``, or has more than one ``/`` (hub ids are ``owner/name``).
    Otherwise transformers would report a missing folder as an invalid
    "repo id".

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
    local = path.exists() or source.startswith((".", "~", "/")) or source.count("/") > 1
    if not local:
        return
    if not path.is_dir():
        raise FileNotFoundError(
            f"model folder {source} does not exist (a local path, not a Hugging Face hub id "
            "like facebook/hf-seamless-m4t-medium)"
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"model folder {source} has no config.json: not a SeamlessM4T checkpoint folder"
        )
