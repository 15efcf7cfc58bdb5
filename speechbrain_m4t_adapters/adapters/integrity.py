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
import os
import struct
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

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


def safetensors_index(path: str | os.PathLike) -> dict[str, tuple[str, list[int]]]:
    """Tensor name -> (dtype, shape) from a safetensors header, without reading the data.

    Raises
    ------
    ValueError
        If the file is too short for its header or the header is not valid.

    Example
    -------
    >>> import tempfile, json, struct
    >>> path = tempfile.mktemp()
    >>> header = json.dumps({"a/w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    >>> _ = open(path, "wb").write(struct.pack("<Q", len(header)) + header + bytes(8))
    >>> safetensors_index(path)
    {'a/w': ('F32', [2])}
    """
    size = Path(path).stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: {size} bytes, too short for a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > size - 8:
            raise ValueError(f"{path}: header declares {length} bytes, the file holds {size - 8} after it")
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: unreadable safetensors header ({error})") from error
    if not isinstance(header, dict):
        raise ValueError(f"{path}: safetensors header is not a mapping")
    index = {}
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            index[name] = (str(info["dtype"]), [int(d) for d in info["shape"]])
            end = max(end, int(info["data_offsets"][1]))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ValueError(f"{path}: bad header entry for tensor {name!r} ({error})") from error
    if 8 + length + end > size:
        raise ValueError(f"{path}: truncated: tensors need {8 + length + end} bytes, the file holds {size}")
    return index
