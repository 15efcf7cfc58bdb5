"""Models bundled with the plugin (``mini``), loadable offline by name as a model source.

A bundled model's files are checked against the SHA-256 list recorded when it was shipped before
any work, so a damaged install fails at once, naming the file and the repair.
"""

import logging
from pathlib import Path

from .adapters.integrity import file_sha256

logger = logging.getLogger(__name__)

#: Models shipped inside the package, loadable offline by name as ``model_source``.
BUNDLED_MODELS = {"mini": Path(__file__).resolve().parent / "resources" / "mini_m4t"}

#: sha256sum-format list of a bundled model's files, written when the model is exported.
CHECKSUMS_NAME = "SHA256SUMS"


class DamagedModelError(OSError):
    """A file of a bundled model differs from the checksum recorded when it was shipped."""


def record_checksums(folder: str | Path) -> Path:
    """Write ``<folder>/SHA256SUMS`` for every other file in it (``sha256sum -c`` reads it too)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS_NAME)
    record = folder / CHECKSUMS_NAME
    record.write_text("".join(f"{file_sha256(p)}  {p.name}\n" for p in files), encoding="utf-8")
    return record


def verify_checksums(folder: str | Path, name: str) -> None:
    """Raise :class:`DamagedModelError` naming the first missing or changed file of a bundled model."""
    folder = Path(folder)
    repair = (
        f"the bundled model {name!r} is damaged; repair the install (pip install --force-reinstall "
        "--no-deps speechbrain-m4t-adapters, or in a checkout: git checkout -- "
        f"{folder.relative_to(folder.parents[2]).as_posix()})"
    )
    record = folder / CHECKSUMS_NAME
    if not record.is_file():
        raise DamagedModelError(f"{record} is missing: {repair}")
    for line in record.read_text(encoding="utf-8").splitlines():
        expected, file_name = line.split(maxsplit=1)
        path = folder / file_name
        if not path.is_file():
            raise DamagedModelError(f"{path} is missing: {repair}")
        if file_sha256(path) != expected:
            raise DamagedModelError(f"{path} does not match its recorded SHA-256 ({record}): {repair}")


def portable_source(source: str | Path, saving: str | Path = "adapters") -> str:
    """What saved adapters record as their base: a bundled name or hub id as is, else an absolute path.

    A local folder cannot be found from a copied adapter folder: saving with one warns (naming ``saving``).

    Example
    -------
    >>> portable_source(resolve_model_source("mini")), portable_source("facebook/seamless-m4t-v2-large")
    ('mini', 'facebook/seamless-m4t-v2-large')
    """
    source = str(source)
    path = Path(source).expanduser()
    if not path.exists():
        return source  # a hub id
    resolved = path.resolve()
    for name, folder in BUNDLED_MODELS.items():
        if folder.resolve() == resolved:
            return name
    logger.warning(
        "%s: the base model is the local folder %s; the saved folder records that path, so a copy on "
        "another machine or on the hub cannot find its base (train from a hub id, or edit base_model)",
        saving,
        resolved,
    )
    return str(resolved)


def resolve_model_source(source: str | Path, save_path: str | Path | None = None) -> str:
    """The folder of a bundled name (its files checked first) or a tiny name, else ``source`` as is
    (a folder a smoke run builds later included: :func:`check_model_source` checks one before loading).

    Example
    -------
    >>> hub_id = "facebook/seamless-m4t-v2-large"
    >>> resolve_model_source("mini").endswith("mini_m4t"), resolve_model_source(hub_id) == hub_id
    (True, True)
    """
    source = str(source)
    if source not in BUNDLED_MODELS:
        from .tiny import TINY_MODELS, build_tiny_once  # transformers' model classes: when asked

        return str(build_tiny_once(source, save_path)) if source in TINY_MODELS else source
    verify_checksums(BUNDLED_MODELS[source], source)  # before any work: a damaged file fails here, named
    return str(BUNDLED_MODELS[source])


def check_model_source(source: str) -> None:
    """``FileNotFoundError`` when ``source`` is meant as a local folder (it exists, is absolute, starts with
    ``.`` or ``~``, or has more than one ``/``: hub ids are ``owner/name``) that is not a checkpoint:
    transformers would call a missing folder an invalid "repo id"."""
    path = Path(source).expanduser()
    if not (path.exists() or source.startswith((".", "~", "/")) or source.count("/") > 1):
        return  # a hub id
    if not path.is_dir():
        raise FileNotFoundError(
            f"model folder {source} does not exist (a local path, not a Hugging Face hub id "
            "like facebook/hf-seamless-m4t-medium)"
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model folder {source} has no config.json: not a SeamlessM4T checkpoint")
