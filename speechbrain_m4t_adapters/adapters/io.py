"""Save and load adapter sets alone: safetensors weights + JSON metadata.

A saved folder holds::

    adapters.safetensors   weights, keyed "<set>/<host module path>.<param>"
    adapters.json          format version, package version, base model id,
                           base architecture fingerprint, base checkpoint
                           identity, SHA-256 of the weights file, and per set
                           its config, parameter count and host modules

Only adapter weights are written, never base weights (a fine-tuning set's
weights are its trained copy of the component).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..version import __version__
from .config import AdapterConfig
from .integrity import (  # noqa: F401  (names of this module since the first release)
    FORMAT_VERSION,
    METADATA_NAME,
    WEIGHTS_NAME,
    base_identity,
    check_weights_checksum,
    file_sha256,
    warn_if_other_base,
)
from .sets import AdapterSets, base_parameters


class AdapterMismatchError(ValueError):
    """Adapters were saved for a base model with another architecture."""


def require_finite(tensors: dict[str, torch.Tensor], where: str | Path) -> None:
    """Refuse to save weights holding NaN or infinity (a diverged run), naming them.

    Example
    -------
    >>> require_finite({"a/w": torch.zeros(2)}, "out")
    >>> require_finite({"a/w": torch.tensor([0.0, float("nan")])}, "out")
    Traceback (most recent call last):
    ValueError: out: not saved: non-finite values in 1 adapter tensor(s): a/w (1 of 2 values)
    """
    bad = {k: int((~torch.isfinite(v)).sum()) for k, v in tensors.items() if v.is_floating_point()}
    bad = {k: (n, tensors[k].numel()) for k, n in bad.items() if n}
    if bad:
        names = ", ".join(f"{k} ({n} of {total} values)" for k, (n, total) in list(bad.items())[:5])
        raise ValueError(f"{where}: not saved: non-finite values in {len(bad)} adapter tensor(s): {names}")


def base_fingerprint(model: nn.Module) -> str:
    """Hash of the base architecture: every base parameter's name and shape.

    Two checkpoints of the same architecture (e.g. fine-tuned weights) share
    a fingerprint; any change of width, depth, vocabulary or version differs.

    Example
    -------
    >>> a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    >>> base_fingerprint(a) == base_fingerprint(b) != base_fingerprint(nn.Linear(4, 2))
    True
    """
    digest = hashlib.sha256()
    for name, p in sorted(base_parameters(model)):
        digest.update(f"{name}:{tuple(p.shape)};".encode())
    return digest.hexdigest()[:16]


def save_adapters(
    sets: AdapterSets,
    folder: str | Path,
    names: list[str] | None = None,
    base_model: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write sets ``names`` (default: all) to ``folder``.

    Arguments
    ---------
    sets : AdapterSets
        The sets attached to a model.
    folder : str or Path
        Output folder (created).
    names : list of str, optional
        Which sets; default all attached.
    base_model : str
        Hub id or path of the base model, recorded for users.
    extra : dict, optional
        More metadata to store (e.g. training language).

    Returns
    -------
    Path of the folder.
    """
    names = list(sets.sets) if names is None else list(names)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    meta_sets = {}
    for name in names:
        for key, value in sets.state_dict(name).items():
            tensors[f"{name}/{key}"] = value.detach().to("cpu").contiguous()
        meta_sets[name] = {
            "config": sets.sets[name].config.to_dict(),
            "num_parameters": sets.num_parameters(name),
            "modules": sets.sets[name].targets,
        }
    require_finite(tensors, folder)
    metadata = {
        "format_version": FORMAT_VERSION,
        "package": "speechbrain-m4t-adapters",
        "package_version": __version__,
        "base_model": base_model,
        "model_type": getattr(getattr(sets.model, "config", None), "model_type", None),
        "base_fingerprint": base_fingerprint(sets.model),
        "base_identity": base_identity(getattr(sets.model, "config", None)),
        "sets": meta_sets,
        **(extra or {}),
    }
    # Write to temporary names first so a killed run never leaves a half file.
    tmp_weights = folder / (WEIGHTS_NAME + ".tmp")
    tmp_meta = folder / (METADATA_NAME + ".tmp")
    save_file(tensors, str(tmp_weights), metadata={"format": "pt"})
    metadata["weights_sha256"] = file_sha256(tmp_weights)  # checked on load: damage is an error
    tmp_meta.write_text(json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp_weights.replace(folder / WEIGHTS_NAME)
    tmp_meta.replace(folder / METADATA_NAME)
    return folder


def read_metadata(folder: str | Path) -> dict[str, Any]:
    """Read and validate ``adapters.json`` of a saved folder."""
    path = Path(folder) / METADATA_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no adapter metadata (expected {METADATA_NAME} in {folder})")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    for key in ("format_version", "base_fingerprint", "sets"):
        if key not in metadata:
            raise ValueError(f"{path}: field {key!r} is missing")
    if metadata["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {metadata['format_version']} is newer than this package "
            f"supports ({FORMAT_VERSION}); upgrade speechbrain-m4t-adapters"
        )
    return metadata


def load_adapters(
    sets: AdapterSets,
    folder: str | Path,
    names: list[str] | None = None,
    activate: bool = True,
    trainable: bool = False,
    check_fingerprint: bool = True,
) -> list[str]:
    """Attach sets saved in ``folder`` to the model managed by ``sets``.

    A set of the same name that is already attached with an equal config
    receives the weights in place (this is how training resumes); a
    different config is an error.

    Arguments
    ---------
    sets : AdapterSets
        Target model's sets.
    folder : str or Path
        A folder written by :func:`save_adapters`.
    names : list of str, optional
        Which sets to load; default all in the folder.
    activate : bool
        Activate the loaded sets (in file order).
    trainable : bool
        Mark them trainable (default frozen, for inference or stacking).
    check_fingerprint : bool
        Refuse adapters saved for another base architecture.

    Returns
    -------
    The names loaded.
    """
    metadata = read_metadata(folder)
    if check_fingerprint:
        expected = base_fingerprint(sets.model)
        if metadata["base_fingerprint"] != expected:
            raise AdapterMismatchError(
                f"{Path(folder) / METADATA_NAME}: adapters were saved for base model "
                f"{metadata.get('base_model') or '?'} ({metadata.get('model_type')}, fingerprint "
                f"{metadata['base_fingerprint']}), but this model's architecture has fingerprint "
                f"{expected}; load them onto the base they were trained on"
            )
    available = list(metadata["sets"])
    names = available if names is None else list(names)
    missing = [n for n in names if n not in metadata["sets"]]
    if missing:
        raise KeyError(f"{folder}: no adapter set(s) {missing}; it holds {available}")
    check_weights_checksum(folder, metadata, WEIGHTS_NAME)
    warn_if_other_base(metadata, base_identity(getattr(sets.model, "config", None)), folder)
    tensors = load_file(str(Path(folder) / WEIGHTS_NAME))
    for name in names:
        config = AdapterConfig.from_dict(metadata["sets"][name]["config"])
        if name in sets.sets:
            if sets.sets[name].config != config:
                raise ValueError(
                    f"{folder}: set {name!r} is already attached with another config "
                    f"({sets.sets[name].config} vs {config}); remove it first"
                )
        else:
            sets.add(name, config, activate=False, trainable=trainable)
        prefix = f"{name}/"
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        sets.load_state_dict(name, state)
        sets.set_trainable(name, trainable)
    if activate:
        sets.activate(*names)
    return names


def save_checkpoint_state(sets: AdapterSets, path: str | Path) -> None:
    """Save every set's weights and flags in one file (SpeechBrain Checkpointer hook)."""
    state = {"weights": {}, "active": list(sets.active), "trainable": {}}
    for name, s in sets.sets.items():
        state["weights"][name] = {k: v.detach().cpu() for k, v in sets.state_dict(name).items()}
        state["trainable"][name] = s.trainable
    flat = {f"{n}/{k}": v for n, weights in state["weights"].items() for k, v in weights.items()}
    require_finite(flat, path)
    torch.save(state, path)


def load_checkpoint_state(sets: AdapterSets, path: str | Path) -> None:
    """Restore what :func:`save_checkpoint_state` wrote into the same sets."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    unknown = sorted(set(state["weights"]) - set(sets.sets))
    if unknown:
        raise ValueError(
            f"{path}: checkpoint holds adapter set(s) {unknown} that this model does not have "
            f"(attached: {sorted(sets.sets)}); build the same sets before recovering"
        )
    for name, weights in state["weights"].items():
        sets.load_state_dict(name, weights)
        sets.sets[name].trainable = state["trainable"][name]
    sets.set_active([n for n in state["active"] if n in sets.sets])
