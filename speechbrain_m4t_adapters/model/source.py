"""Tell a local checkpoint folder from a hub id before transformers does (its errors mislead)."""

from pathlib import Path


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
