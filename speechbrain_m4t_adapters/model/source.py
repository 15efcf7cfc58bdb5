"""Tell a local checkpoint folder from a hub id before transformers does (its errors mislead);
resolve the names of a bundled model (``mini``) and of tiny random ones built offline (``tiny-v1``)."""

import logging
import shutil
import tempfile
from pathlib import Path

from ..adapters.integrity import file_sha256

logger = logging.getLogger(__name__)

#: Models shipped inside the package, loadable offline by name as ``model_source``.
BUNDLED_MODELS = {"mini": Path(__file__).resolve().parents[1] / "resources" / "mini_m4t"}

#: Names of tiny random checkpoints built into ``save_path`` on first use -> SeamlessM4T version.
TINY_MODELS = {"tiny-v1": "v1", "tiny-v2": "v2"}

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


def resolve_model_source(source: str | Path, save_path: str | Path | None = None) -> str:
    """The folder of a bundled or tiny model name, else ``source`` unchanged (hub id or folder).

    ``mini``: the bundled mini model (its files checked first). ``tiny-v1`` / ``tiny-v2``: a tiny
    random checkpoint (:func:`~speechbrain_m4t_adapters.tiny.build_tiny_model`, seed 0), built
    offline into ``<save_path>/<name>`` once and reused after; ``save_path`` is then required.

    Example
    -------
    >>> resolve_model_source("mini").endswith("mini_m4t")
    True
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
    if source not in BUNDLED_MODELS:
        return source
    verify_checksums(BUNDLED_MODELS[source], source)  # before any work: a damaged file fails here, named
    return str(BUNDLED_MODELS[source])


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
