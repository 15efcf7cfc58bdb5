"""Damage and mix-up checks for saved adapters (no torch).

``weights_sha256`` in ``adapters.json`` is checked before the weights load (a truncated or
swapped file is an error); ``base_identity`` (hub id and revision, or a local folder's digest)
names the base the adapters were trained on: another base of the same architecture loads with a
warning naming both (another architecture stays an error: ``base_fingerprint``).
"""

import hashlib
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from .base import COMPONENTS, LAYER_STACKS

logger = logging.getLogger(__name__)

#: File names of a saved adapter folder (also exported by :mod:`.io`).
WEIGHTS_NAME = "adapters.safetensors"
METADATA_NAME = "adapters.json"
#: Newest ``format_version`` this package reads.
FORMAT_VERSION = 1
ADDRESSING = ("regex", "stacks", "components")
#: Kind -> how its ``targets`` name modules (see :func:`target_regexes`) and the
#: ``(tensor name suffix, dimension, config field)`` shapes its config implies: recorded in
#: ``adapters.json`` so ``inspect`` checks a saved set from the file headers alone.
KIND_RULES: dict[str, tuple[str, tuple[tuple[str, int, str], ...]]] = {
    "bottleneck": ("stacks", (("down.weight", 0, "bottleneck"), ("up.weight", 1, "bottleneck"))),
    "finetune": ("components", ()),
    "lora": ("regex", (("lora_A.weight", 0, "rank"), ("lora_B.weight", 1, "rank"))),
}

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

    ``config`` (a ``transformers.PretrainedConfig``: ``_name_or_path``, ``_commit_hash``) ->
    ``{"source": <hub id>, "revision": <commit>}``, or ``{"source": <folder>, "digest": <hex>}``.

    Example
    -------
    >>> class Config:
    ...     _name_or_path, _commit_hash = "facebook/hf-seamless-m4t-medium", "8f0e"
    >>> base_identity(Config())
    {'source': 'facebook/hf-seamless-m4t-medium', 'revision': '8f0e'}
    """
    source = str(getattr(config, "_name_or_path", "") or "")
    if source and (folder := Path(source)).is_dir():
        return {"source": str(folder.resolve()), "digest": _folder_digest(folder)}
    return {"source": source, "revision": str(getattr(config, "_commit_hash", None) or "unknown")}


def check_weights_checksum(path: Path, metadata: dict) -> None:
    """``ValueError`` naming both checksums if ``path`` differs from ``metadata``'s (none recorded: ok)."""
    expected = metadata.get("weights_sha256")
    if expected and (actual := file_sha256(path)) != expected:
        raise ValueError(
            f"{path}: damaged or replaced: its SHA-256 is {actual}, but adapters.json records "
            f"{expected} (re-copy the folder, or re-save the adapters)"
        )


def warn_if_other_base(metadata: dict, identity: dict[str, str], where: str | os.PathLike) -> bool:
    """Log a warning naming both bases (and return True) when the adapters were saved on another one.

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
    return a["digest"] == b["digest"] if "digest" in a and "digest" in b else a == b


def _describe(identity: dict[str, str]) -> str:
    extra = ", ".join(f"{k} {v}" for k, v in identity.items() if k != "source")
    return f"{identity.get('source', '?')} ({extra})"


def safetensors_index(path: str | os.PathLike) -> dict[str, list[int]]:
    """Tensor name -> shape from a safetensors header (no data, no torch).

    A header that is not valid or a file too short for its tensors is a ``ValueError``.

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


def read_json(path: Path, missing: str) -> Any:
    """JSON document in ``path``: ``FileNotFoundError`` ``<path>: <missing>``, ``ValueError`` if invalid."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {missing}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    """Read ``adapters.json`` and check its structure field by field (no torch needed).

    No file is a ``FileNotFoundError``; invalid JSON or a wrong field a ``ValueError`` naming both.

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
    metadata = read_json(path, f"no adapter metadata (expected {METADATA_NAME} in {folder})")

    def need(ok: bool, message: str) -> None:
        """Raise ``message`` (naming the file) unless ``ok``."""
        if not ok:
            raise ValueError(f"{path}: {message}")

    need(isinstance(metadata, dict), f"top level must be a mapping, not {type(metadata).__name__}")
    for key in ("format_version", "base_fingerprint", "sets"):
        need(key in metadata, f"field {key!r} is missing")
    version = metadata["format_version"]
    need(_is_int(version), "field 'format_version' must be an integer")
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
        need(_is_int(info.get("num_parameters")), f"{where}.num_parameters must be an integer")
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

    Compares the weights with ``adapters.json`` without loading a tensor: size against header,
    SHA-256, the sets and modules tensor names belong to, parameter counts, config-implied shapes.

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
    weights, meta_path = folder / WEIGHTS_NAME, folder / METADATA_NAME
    if not weights.is_file():
        return [f"{weights}: missing"]
    problems = []
    if "weights_sha256" not in metadata:
        problems.append(f"{meta_path}: no weights_sha256 recorded (saved by an older version)")
    try:
        check_weights_checksum(weights, metadata)
    except ValueError as error:
        problems.append(str(error))
    try:
        index = safetensors_index(weights)
    except (OSError, ValueError) as error:
        return problems + [str(error)]
    sets = metadata["sets"]
    problems += [f"{meta_path}: {problem}" for problem in _placement_problems(sets)]
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
        if problem := _shape_problem(info, tensor, shape):
            problems.append(f"{weights}: tensor {key!r} {problem}")
    return problems + [
        f"{weights}: set {n!r} holds {counts[n]} parameters, {METADATA_NAME} says {info['num_parameters']}"
        for n, info in sets.items()
        if counts[n] != info["num_parameters"]
    ]


def target_regexes(addressing: str, targets: list[str]) -> list[str]:
    """Full-match regexes of the module paths a set's ``targets`` name (torch-free), by ``addressing``:
    ``stacks`` (:data:`LAYER_STACKS` layers), ``components`` (:data:`COMPONENTS` names or paths,
    ``a.*`` = every element of ``a``) or ``regex`` (the targets already are).

    Example
    -------
    >>> print(*target_regexes("stacks", ["text_decoder"]), *target_regexes("components", ["length_adaptor"]))
    text_decoder\\.layers\\.\\d+ speech_encoder\\.adapter
    """
    if addressing == "regex":
        return list(targets)
    if addressing == "stacks":
        return [re.escape(LAYER_STACKS.get(t, t)) + r"\.\d+" for t in targets]
    if addressing != "components":
        raise ValueError(f"unknown target addressing {addressing!r}")
    paths = [path for t in targets for path in COMPONENTS.get(t, [t])]
    return [re.escape(p[:-2]) + r"\.\d+" if p.endswith(".*") else re.escape(p) for p in paths]


def _placement_problems(sets: dict[str, dict]) -> list[str]:
    """Modules of a set that its config's ``targets`` do not name (an edited config, or other weights)."""
    problems = []
    for name, info in sets.items():
        targets = info["config"].get("targets")
        if "addressing" not in info or not isinstance(targets, list):  # older folders: nothing to compare
            continue
        regexes = target_regexes(info["addressing"], [str(t) for t in targets])
        if stray := [m for m in info["modules"] if not any(re.fullmatch(r, m) for r in regexes)]:
            problems.append(
                f"set {name!r} has modules {stray[:3]}{' ...' if len(stray) > 3 else ''} that its config's "
                f"targets {targets} do not name: the config and the weights disagree"
            )
    return problems


def _shape_problem(info: dict, tensor: str, shape: list[int]) -> str | None:
    """What a tensor's shape contradicts in its set's config, by the kind's recorded shape rules."""
    for suffix, dim, key in info.get("shape_rules", []):
        value = info["config"].get(key)
        if tensor.endswith(suffix) and isinstance(value, int) and len(shape) > dim and shape[dim] != value:
            return f"has shape {shape}, but the config's {key} is {value}"
    return None
