"""Damage and mix-up checks for saved adapters (standard library only, no torch).

* ``weights_sha256`` in ``adapters.json``: the SHA-256 of
  ``adapters.safetensors``, checked before the weights are loaded, so a
  truncated copy or a weights file from another folder is an error;
* ``base_identity``: which base checkpoint the adapters were trained on, the
  hub id and revision (commit) or, for a local folder, a digest of its
  config, weights index and the ends of its weight files. Loading onto a base
  with another identity but the same architecture is allowed with a warning
  naming both (another architecture stays an error: ``base_fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from .base import target_regexes

logger = logging.getLogger(__name__)

#: File names of a saved adapter folder (also exported by :mod:`.io`).
WEIGHTS_NAME = "adapters.safetensors"
METADATA_NAME = "adapters.json"
#: Newest ``format_version`` this package reads.
FORMAT_VERSION = 1
ADDRESSING = ("regex", "stacks", "components")

_CHUNK = 1 << 20
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks.

    Example
    -------
    >>> import tempfile
    >>> path = tempfile.mktemp()
    >>> _ = open(path, "wb").write(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_digest(folder: Path) -> str:
    """Cheap digest of a local checkpoint: config, weights index, and each weight file's size and ends."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / name).is_file():
            digest.update(name.encode() + (folder / name).read_bytes())
    for path in sorted(p for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES and p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(_CHUNK))
            handle.seek(max(0, size - _CHUNK))
            digest.update(handle.read(_CHUNK))
    return digest.hexdigest()[:16]


def base_identity(config: Any) -> dict[str, str]:
    """Identity of the base checkpoint a Hugging Face ``config`` was loaded from.

    Arguments
    ---------
    config : transformers.PretrainedConfig
        The loaded model's config (``_name_or_path``, ``_commit_hash``).

    Returns
    -------
    dict
        ``{"source": <hub id>, "revision": <commit>}`` for a hub model,
        ``{"source": <folder>, "digest": <hex>}`` for a local folder.

    Example
    -------
    >>> class Config:
    ...     _name_or_path, _commit_hash = "facebook/hf-seamless-m4t-medium", "8f0e"
    >>> base_identity(Config())
    {'source': 'facebook/hf-seamless-m4t-medium', 'revision': '8f0e'}
    """
    source = str(getattr(config, "_name_or_path", "") or "")
    folder = Path(source) if source else None
    if folder is not None and folder.is_dir():
        return {"source": str(folder.resolve()), "digest": _folder_digest(folder)}
    return {"source": source, "revision": str(getattr(config, "_commit_hash", None) or "unknown")}


def check_weights_checksum(folder: str | os.PathLike, metadata: dict, weights_name: str) -> None:
    """Raise if the weights file differs from the SHA-256 recorded in ``metadata``.

    Folders saved before checksums were recorded (no ``weights_sha256``) pass.

    Raises
    ------
    ValueError
        Naming the file, the recorded and the actual checksum.
    """
    expected = metadata.get("weights_sha256")
    path = Path(folder) / weights_name
    if not expected or not path.is_file():
        return
    actual = file_sha256(path)
    if actual != expected:
        raise ValueError(
            f"{path}: damaged or replaced: its SHA-256 is {actual}, but adapters.json records "
            f"{expected} (re-copy the folder, or re-save the adapters)"
        )


def warn_if_other_base(metadata: dict, identity: dict[str, str], where: str | os.PathLike) -> bool:
    """Log a warning naming both bases when the adapters were saved on another checkpoint.

    Returns True when a warning was given.

    Example
    -------
    >>> warn_if_other_base({"base_identity": {"source": "a", "revision": "1"}},
    ...                    {"source": "a", "revision": "1"}, "x")
    False
    """
    saved = metadata.get("base_identity")
    if not isinstance(saved, dict) or _same_base(saved, identity):
        return False
    logger.warning(
        "%s: these adapters were trained on base %s but are being loaded onto base %s "
        "(same architecture, other weights: results may differ from the trained ones)",
        where,
        _describe(saved),
        _describe(identity),
    )
    return True


def _same_base(a: dict, b: dict) -> bool:
    """Local folders match by content digest (a moved copy is the same base); hub ids by id and revision."""
    if "digest" in a and "digest" in b:
        return a["digest"] == b["digest"]
    return a == b


def _describe(identity: dict[str, str]) -> str:
    extra = ", ".join(f"{k} {v}" for k, v in identity.items() if k != "source")
    return f"{identity.get('source', '?')} ({extra})"


def safetensors_index(path: str | os.PathLike) -> dict[str, list[int]]:
    """Tensor name -> shape from a safetensors header (``safetensors.safe_open``; no data, no torch).

    Raises
    ------
    ValueError
        A header that is not valid or a file too short for the tensors it declares.

    Example
    -------
    >>> import tempfile, numpy
    >>> from safetensors.numpy import save_file
    >>> path = tempfile.mktemp()
    >>> save_file({"a/w": numpy.zeros(2, dtype="float32")}, path)
    >>> safetensors_index(path)
    {'a/w': [2]}
    """
    size = Path(path).stat().st_size
    try:
        with safe_open(str(path), framework="numpy") as handle:
            return {name: list(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except SafetensorError as error:
        damage = "truncated: tensors need more than" if "incomplete" in str(error).lower() else "unreadable:"
        raise ValueError(f"{path}: {damage} the {size} bytes it holds ({error})") from error


def load_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    """Read ``adapters.json`` and check its structure field by field (no torch needed).

    Raises
    ------
    FileNotFoundError
        No ``adapters.json`` in ``folder``.
    ValueError
        Invalid JSON or a field of the wrong structure; the message names the
        file and the field.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / METADATA_NAME).write_text('{"format_version": 1, "base_fingerprint": "x", "sets": []}')
    >>> try:
    ...     load_metadata(folder)
    ... except ValueError as error:
    ...     print(str(error).split(": ", 1)[1])
    field 'sets' must be a mapping of set name -> {config, num_parameters, modules}, not list
    """
    path = Path(folder) / METADATA_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no adapter metadata (expected {METADATA_NAME} in {folder})")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error

    def need(ok: bool, message: str) -> None:
        """Record ``message`` as a problem unless ``ok``."""
        if not ok:
            raise ValueError(f"{path}: {message}")

    need(isinstance(metadata, dict), f"top level must be a mapping, not {type(metadata).__name__}")
    for key in ("format_version", "base_fingerprint", "sets"):
        need(key in metadata, f"field {key!r} is missing")
    version = metadata["format_version"]
    need(
        isinstance(version, int) and not isinstance(version, bool),
        "field 'format_version' must be an integer",
    )
    need(
        version <= FORMAT_VERSION,
        f"format_version {version} is newer than this package supports ({FORMAT_VERSION}); "
        "upgrade speechbrain-m4t-adapters",
    )
    need(isinstance(metadata["base_fingerprint"], str), "field 'base_fingerprint' must be a string")
    sets = metadata["sets"]
    need(
        isinstance(sets, dict),
        "field 'sets' must be a mapping of set name -> {config, num_parameters, modules}, "
        f"not {type(sets).__name__}",
    )
    for name, info in sets.items():
        where = f"field 'sets.{name}'"
        need(isinstance(info, dict), f"{where} must be a mapping, not {type(info).__name__}")
        need(isinstance(info.get("config"), dict), f"{where}.config must be a mapping")
        need(isinstance(info["config"].get("kind"), str), f"{where}.config.kind must be a string")
        count = info.get("num_parameters")
        need(
            isinstance(count, int) and not isinstance(count, bool),
            f"{where}.num_parameters must be an integer",
        )
        modules = info.get("modules")
        need(
            isinstance(modules, list) and all(isinstance(m, str) for m in modules),
            f"{where}.modules must be a list of module paths",
        )
        rules = info.get("shape_rules", [])
        need(
            isinstance(rules, list)
            and all(isinstance(r, list) and [type(x) for x in r] == [str, int, str] for r in rules),
            f"{where}.shape_rules must be a list of [tensor suffix, dimension, config field]",
        )
        addressing = info.get("addressing", "regex")
        need(addressing in ADDRESSING, f"{where}.addressing must be one of {ADDRESSING}, not {addressing!r}")
    return metadata


def check_folder(folder: str | os.PathLike) -> list[str]:
    """Health check of a saved adapter folder; returns the problems found (empty: healthy).

    Compares ``adapters.safetensors`` with ``adapters.json`` without loading
    any tensor: the file's size against its safetensors header, its SHA-256,
    the sets and host modules its tensor names belong to, every set's
    parameter count, and the shapes the config implies (bottleneck width,
    LoRA rank).

    Example
    -------
    >>> import tempfile
    >>> problems = check_folder(tempfile.mkdtemp())
    >>> len(problems), "no adapter metadata" in problems[0]
    (1, True)
    """
    folder = Path(folder)
    try:
        metadata = load_metadata(folder)
    except (OSError, ValueError) as error:
        return [str(error)]
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        return [f"{weights}: missing"]
    problems = []
    try:
        check_weights_checksum(folder, metadata, WEIGHTS_NAME)
    except ValueError as error:
        problems.append(str(error))
    if "weights_sha256" not in metadata:
        problems.append(f"{folder / METADATA_NAME}: no weights_sha256 recorded (saved by an older version)")
    try:
        index = safetensors_index(weights)
    except (OSError, ValueError) as error:
        return problems + [str(error)]
    sets = metadata["sets"]
    problems += [f"{folder / METADATA_NAME}: {problem}" for problem in _placement_problems(sets)]
    counts = dict.fromkeys(sets, 0)
    for key, shape in index.items():
        set_name, _, tensor = key.partition("/")
        if set_name not in sets:
            problems.append(
                f"{weights}: tensor {key!r} belongs to no set of {METADATA_NAME} ({sorted(sets)})"
            )
            continue
        counts[set_name] += math.prod(shape)
        info = sets[set_name]
        if info["modules"] and not any(tensor.startswith(m + ".") or tensor == m for m in info["modules"]):
            problems.append(f"{weights}: tensor {key!r} is on no module listed for set {set_name!r}")
        problem = _shape_problem(info, tensor, shape)
        if problem:
            problems.append(f"{weights}: tensor {key!r} {problem}")
    for name, info in sets.items():
        if counts[name] != info["num_parameters"]:
            problems.append(
                f"{weights}: set {name!r} holds {counts[name]} parameters, "
                f"{METADATA_NAME} says {info['num_parameters']}"
            )
    return problems


def _placement_problems(sets: dict[str, dict]) -> list[str]:
    """Modules of a set that its config's ``targets`` do not name (an edited config, or other weights)."""
    problems = []
    for name, info in sets.items():
        targets = info["config"].get("targets")
        if "addressing" not in info or not isinstance(targets, list):  # older folders: nothing to compare
            continue
        regexes = target_regexes(info["addressing"], [str(t) for t in targets])
        stray = [m for m in info["modules"] if not any(re.fullmatch(r, m) for r in regexes)]
        if stray:
            problems.append(
                f"set {name!r} has modules {stray[:3]}{' ...' if len(stray) > 3 else ''} that its config's "
                f"targets {targets} do not name: the config and the weights disagree"
            )
    return problems


def _shape_problem(info: dict, tensor: str, shape: list[int]) -> str | None:
    """What a tensor's shape contradicts in its set's config, by the kind's recorded shape rules."""
    config = info["config"]
    for suffix, dim, key in info.get("shape_rules", []):
        value = config.get(key)
        if tensor.endswith(suffix) and isinstance(value, int) and len(shape) > dim and shape[dim] != value:
            return f"has shape {shape}, but the config's {key} is {value}"
    return None
