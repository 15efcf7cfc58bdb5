"""Save and load adapter sets alone (never base weights): safetensors weights + JSON metadata.

A saved folder holds ``adapters.safetensors`` (keys ``<set>/<host module path>.<param>``) and
``adapters.json``: format and package versions, base model id, architecture fingerprint and
checkpoint identity, the weights' SHA-256, and per set its config, parameter count and modules.
"""

import dataclasses
import hashlib
import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..version import __version__
from .base import KINDS, AdapterConfig
from .counting import base_parameters
from .integrity import (
    FORMAT_VERSION,
    KIND_RULES,
    METADATA_NAME,
    WEIGHTS_NAME,
    base_identity,
    check_weights_checksum,
    file_sha256,
    load_metadata,
    warn_if_other_base,
)
from .sets import AdapterSets

__all__ = ["METADATA_NAME", "WEIGHTS_NAME", "AdapterMismatchError", "load_adapters", "save_adapters"]


#: Kinds this package defines -> their module (imported when a file names one not yet loaded).
BUILTIN_KINDS = {"bottleneck": ".bottleneck", "finetune": ".finetune", "lora": ".lora"}
#: Name of a set's ``targets`` field in files written before the field was unified.
_LEGACY_TARGET_FIELDS = ("placement", "target_modules", "components")


def config_to_dict(config: AdapterConfig) -> dict[str, Any]:
    """JSON-ready dict of an adapter config, with its ``kind`` discriminator."""
    return {"kind": config.kind, **dataclasses.asdict(config)}


def config_from_dict(data: dict[str, Any]) -> AdapterConfig:
    """Rebuild a config written by :func:`config_to_dict` (older field names are read too).

    Example
    -------
    >>> config_from_dict({"kind": "bottleneck", "placement": ["text_decoder"]}).targets
    ['text_decoder']
    """
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in KINDS and kind in BUILTIN_KINDS:
        importlib.import_module(BUILTIN_KINDS[kind], __package__)
    if kind not in KINDS:
        raise ValueError(f"unknown adapter kind {kind!r}; known: {sorted(KINDS)}")
    for legacy in _LEGACY_TARGET_FIELDS:
        if legacy in data:
            data["targets"] = data.pop(legacy)
    names = {f.name for f in dataclasses.fields(KINDS[kind])}
    if unknown := sorted(set(data) - names):
        raise ValueError(f"unknown field(s) {unknown} for adapter kind {kind!r}")
    return KINDS[kind](**data)


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
    counts = {k: int((~torch.isfinite(v)).sum()) for k, v in tensors.items() if v.is_floating_point()}
    if bad := {k: n for k, n in counts.items() if n}:
        names = ", ".join(f"{k} ({n} of {tensors[k].numel()} values)" for k, n in list(bad.items())[:5])
        raise ValueError(f"{where}: not saved: non-finite values in {len(bad)} adapter tensor(s): {names}")


def base_fingerprint(model: nn.Module) -> str:
    """Hash of the base architecture (every base parameter's name and shape): fine-tuned weights
    share it; any change of width, depth, vocabulary or version changes it.

    Example
    -------
    >>> a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    >>> base_fingerprint(a) == base_fingerprint(b) != base_fingerprint(nn.Linear(4, 2))
    True
    """
    text = "".join(f"{name}:{tuple(p.shape)};" for name, p in sorted(base_parameters(model)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_adapters(
    sets: AdapterSets,
    folder: str | Path,
    names: list[str] | None = None,
    base_model: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write sets ``names`` (default: all) to ``folder``; returns the folder.

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
    """
    names = list(sets.sets) if names is None else list(names)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    meta_sets = {}
    for name in names:
        for key, value in sets.state_dict(name).items():
            tensors[f"{name}/{key}"] = value.detach().to("cpu").contiguous()
        config = sets.sets[name].config
        addressing, shape_rules = KIND_RULES.get(config.kind, ("regex", ()))
        meta_sets[name] = {
            "config": config_to_dict(config),
            "num_parameters": sets.num_parameters(name),
            "modules": sets.sets[name].targets,
            "shape_rules": [list(rule) for rule in shape_rules],  # read by `inspect`, torch-free
            "addressing": addressing,  # how config.targets name modules (`inspect` checks them)
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
    tmp_weights, tmp_meta = (folder / f"{name}.tmp" for name in (WEIGHTS_NAME, METADATA_NAME))
    write_safetensors(tensors, tmp_weights)
    metadata["weights_sha256"] = file_sha256(tmp_weights)  # checked on load: damage is an error
    tmp_meta.write_text(json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp_weights.replace(folder / WEIGHTS_NAME)
    tmp_meta.replace(folder / METADATA_NAME)
    return folder


def write_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """``save_file`` giving ``path`` the mode a new file gets (safetensors writes 0600, not 0644)."""
    save_file(tensors, str(path), metadata={"format": "pt"})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


read_metadata = load_metadata  # the reader of adapters.json, under the name users know


def parse_folder_entry(entry: str | Path | Mapping[str, Any]) -> tuple[Path, dict[str, Any]]:
    """One ``pretrained_adapters`` entry -> (folder, options of :func:`load_adapters`).

    An entry is a folder, or a mapping ``{folder: ..., rename: {old: new}, prefix: ..., sets: [...]}``
    (YAML's way to load two folders that both hold a set of the same name).

    Example
    -------
    >>> parse_folder_entry({"folder": "a", "rename": {"encoder": "bn_encoder"}})
    (PosixPath('a'), {'rename': {'encoder': 'bn_encoder'}})
    """
    if isinstance(entry, (str, Path)):
        return Path(entry), {}
    if not isinstance(entry, Mapping) or "folder" not in entry:
        raise ValueError(
            f"pretrained adapters entry {entry!r}: give a folder, or a mapping with 'folder' "
            "(and optionally 'rename: {old: new}', 'prefix', 'sets')"
        )
    if unknown := sorted(set(entry) - {"folder", "rename", "prefix", "sets"}):
        raise ValueError(f"pretrained adapters entry {dict(entry)}: unknown key(s) {unknown}")
    options = {k: (dict(v) if k == "rename" else v) for k, v in entry.items() if k != "folder"}
    if "sets" in options:
        options["names"] = list(options.pop("sets"))
    return Path(entry["folder"]), options


def read_weights(folder: str | Path, metadata: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Read ``adapters.safetensors`` of a saved folder once its SHA-256 matches ``metadata``'s."""
    path = Path(folder) / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: adapter weights are missing")
    check_weights_checksum(path, metadata)
    try:
        return load_file(str(path), device="cpu")
    except Exception as error:  # safetensors raises several types for bad files
        raise ValueError(f"{path}: cannot read adapter weights ({error})") from error


def load_adapters(
    sets: AdapterSets,
    folder: str | Path,
    names: list[str] | None = None,
    activate: bool = True,
    trainable: bool = False,
    check_fingerprint: bool = True,
    rename: Mapping[str, str] | None = None,
    prefix: str = "",
    base_description: str | None = None,
) -> list[str]:
    """Attach sets saved in ``folder`` (by :func:`save_adapters`) to the model ``sets`` manages.

    ``names`` picks saved sets (default all, in file order), activated unless ``activate=False``
    and frozen unless ``trainable``. A name already attached is an error naming both folders: use
    ``rename`` (saved -> attached) or ``prefix``. Another base architecture is refused
    (``check_fingerprint``; ``base_description`` names the loaded base). All sets attach or none;
    returns the attached names.
    """
    folder = Path(folder)
    metadata = read_metadata(folder)
    if check_fingerprint and metadata["base_fingerprint"] != (expected := base_fingerprint(sets.model)):
        raise AdapterMismatchError(
            f"{folder / METADATA_NAME}: adapters were saved for base model "
            f"{metadata.get('base_model') or '?'} ({metadata.get('model_type')}, fingerprint "
            f"{metadata['base_fingerprint']}), but the loaded base {base_description or ''} has "
            f"architecture fingerprint {expected}; load them onto the base they were trained on"
        )
    available = list(metadata["sets"])
    names = available if names is None else list(names)
    if missing := [n for n in names if n not in metadata["sets"]]:
        raise KeyError(f"{folder}: no adapter set(s) {missing}; it holds {available}")
    rename = dict(rename or {})
    if unknown := sorted(set(rename) - set(names)):
        raise KeyError(f"{folder}: rename names set(s) {unknown} that are not loaded; it holds {available}")
    targets = {name: rename.get(name, prefix + name) for name in names}
    for name, target in targets.items():
        if target in sets.sets:
            earlier = sets.sets[target].source or "this experiment's own adapters"
            raise ValueError(
                f"adapter set {target!r} from {folder} is already attached (from {earlier}); "
                f"load it under another name, e.g. in YAML: pretrained_adapters: "
                f"[{{folder: {folder}, rename: {{{name}: <new name>}}}}]"
            )
    tensors = read_weights(folder, metadata)
    warn_if_other_base(metadata, base_identity(getattr(sets.model, "config", None)), folder)
    attached: list[str] = []
    try:
        for name, target in targets.items():
            config = config_from_dict(metadata["sets"][name]["config"])
            sets.add(target, config, activate=False, trainable=trainable).source = str(folder)
            attached.append(target)
            state = {k.removeprefix(f"{name}/"): v for k, v in tensors.items() if k.startswith(f"{name}/")}
            sets.load_state_dict(target, state)
    except Exception as error:
        for target in attached:
            sets.remove(target)
        raise ValueError(f"{folder}: cannot attach adapters ({error})") from error
    if activate:
        sets.activate(*attached)
    return attached
