"""Exchange LoRA sets with Hugging Face PEFT folders.

PEFT stores a LoRA adapter as ``adapter_config.json`` (``peft_type: LORA``,
``r``, ``lora_alpha``, ``target_modules``, ...) and
``adapter_model.safetensors`` with keys
``base_model.model.<module path>.lora_{A,B}.weight``. Our LoRA sets use the
same module paths as transformers' SeamlessM4T models (adapters are hosted
without renaming anything) and the same A/B shapes and ``alpha / r`` scaling,
including on the length adaptor's Conv1d layers. So an exported set loads
with ``PeftModel.from_pretrained(SeamlessM4Tv2ForSpeechToText...)`` and gives
the same outputs, and a PEFT folder loads back as a named set. peft itself is
not needed for either direction.

Only what both sides compute identically is exchanged: plain LoRA (no DoRA,
no LoRA bias, no trained biases, no ``modules_to_save``), one rank per set.
rsLoRA folders (scaling ``alpha / sqrt(r)``) import with an equivalent alpha.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .config import LoRAConfig
from .sets import AdapterSet, AdapterSets

PEFT_CONFIG_NAME = "adapter_config.json"
PEFT_WEIGHTS_NAME = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<path>.+)\.lora_(?P<ab>[AB])(?:\.[A-Za-z0-9_\-]+)?\.weight$")
# Options whose non-default values change what a PEFT LoRA computes.
_UNSUPPORTED = {
    "use_dora": (False, None),
    "bias": ("none", None),
    "lora_bias": (False, None),
    "fan_in_fan_out": (False, None),
    "modules_to_save": (None, ()),
    "rank_pattern": (None, ()),
    "alpha_pattern": (None, ()),
    "trainable_token_indices": (None, ()),
}


def _empty(value: Any) -> Any:
    return () if isinstance(value, (list, dict)) and not value else value


def export_peft(
    sets: AdapterSets,
    name: str,
    folder: str | Path,
    base_model: str = "",
    revision: str | None = None,
) -> Path:
    """Write LoRA set ``name`` as a PEFT LoRA folder.

    Arguments
    ---------
    sets : AdapterSets
        The model's sets.
    name : str
        A LoRA set (merged or not).
    folder : str or Path
        Output folder (created).
    base_model : str
        ``base_model_name_or_path`` recorded for PEFT (hub id or folder).
    revision : str, optional
        Hub revision of the base model.

    Returns
    -------
    Path of the folder.

    Example
    -------
    >>> import tempfile
    >>> from torch import nn
    >>> model = nn.Module()
    >>> model.proj = nn.Linear(4, 4)
    >>> sets = AdapterSets(model, hidden_size=4)
    >>> _ = sets.add("lora", LoRAConfig(target_modules=["proj"], rank=2, alpha=4.0))
    >>> folder = export_peft(sets, "lora", tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir())
    ['adapter_config.json', 'adapter_model.safetensors']
    >>> json.loads((folder / PEFT_CONFIG_NAME).read_text())["target_modules"]
    ['proj']
    """
    sets._check_known([name])
    config = sets.sets[name].config
    if not isinstance(config, LoRAConfig):
        raise ValueError(f"adapter set {name!r} is {config.kind}; only LoRA sets export to PEFT")
    for path, lora in sets.modules_of(name).items():
        if not lora.channels_last and tuple(lora.lora_A.dilation) != (1,):
            raise ValueError(
                f"{path}: PEFT's Conv1d LoRA has no dilation; this host has {lora.lora_A.dilation}"
            )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        PEFT_PREFIX + key: value.detach().to("cpu").contiguous()
        for key, value in sets.state_dict(name).items()
    }
    peft_config = {
        "peft_type": "LORA",
        # None: a plain PeftModel; SEQ_2_SEQ_LM breaks SeamlessM4T*ForSpeechToText's forward.
        "task_type": None,
        "base_model_name_or_path": base_model or None,
        "revision": revision,
        "r": config.rank,
        "lora_alpha": config.alpha,
        "lora_dropout": config.dropout,
        # Exact module paths: PEFT matches a list entry against the full name or a dotted suffix.
        "target_modules": list(sets.sets[name].targets),
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
        "fan_in_fan_out": False,
        "init_lora_weights": True,
        "modules_to_save": None,
        "inference_mode": True,
    }
    save_file(tensors, str(folder / PEFT_WEIGHTS_NAME), metadata={"format": "pt"})
    (folder / PEFT_CONFIG_NAME).write_text(json.dumps(peft_config, indent=2), encoding="utf-8")
    return folder


def read_peft_lora(folder: str | Path) -> tuple[LoRAConfig, dict[str, torch.Tensor]]:
    """Read a PEFT LoRA folder as our config plus weights keyed ``<path>.lora_{A,B}.weight``.

    Raises a ``ValueError`` naming the file and field for anything our LoRA
    would compute differently.
    """
    folder = Path(folder)
    config_path = folder / PEFT_CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: no PEFT adapter config in {folder}")
    try:
        peft_config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{config_path}: not valid JSON ({error})") from error
    if peft_config.get("peft_type") != "LORA":
        raise ValueError(f"{config_path}: peft_type is {peft_config.get('peft_type')!r}; only LORA imports")
    for key, defaults in _UNSUPPORTED.items():
        if _empty(peft_config.get(key, defaults[0])) not in defaults:
            raise ValueError(f"{config_path}: {key}={peft_config[key]!r} is not supported (plain LoRA only)")
    weights_path = folder / PEFT_WEIGHTS_NAME
    if not weights_path.is_file():
        raise FileNotFoundError(f"{weights_path}: missing (only safetensors PEFT folders import)")
    state: dict[str, torch.Tensor] = {}
    for key, value in load_file(str(weights_path)).items():
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"{weights_path}: tensor {key!r} is not a LoRA A/B weight")
        state[f"{match['path']}.lora_{match['ab']}.weight"] = value
    paths = sorted({k.rsplit(".lora_", 1)[0] for k in state})
    if not paths:
        raise ValueError(f"{weights_path}: holds no LoRA weights")
    ranks = {int(state[f"{p}.lora_A.weight"].shape[0]) for p in paths if f"{p}.lora_A.weight" in state}
    if len(ranks) != 1:
        raise ValueError(f"{weights_path}: modules have different ranks {sorted(ranks)}; one rank per set")
    rank = ranks.pop()
    alpha = float(peft_config.get("lora_alpha", 8))
    if peft_config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # alpha' / r == alpha / sqrt(r)
    config = LoRAConfig(
        target_modules=[re.escape(p) for p in paths],
        rank=rank,
        alpha=alpha,
        dropout=float(peft_config.get("lora_dropout", 0.0)),
    )
    return config, state


def import_peft(
    sets: AdapterSets, folder: str | Path, name: str, activate: bool = True, trainable: bool = False
) -> AdapterSet:
    """Attach the PEFT LoRA folder ``folder`` as set ``name``.

    Arguments
    ---------
    sets : AdapterSets
        The model's sets.
    folder : str or Path
        Holds ``adapter_config.json`` and ``adapter_model.safetensors``.
    name : str
        Name of the new set.
    activate : bool
        Activate it.
    trainable : bool
        Mark it trainable (default frozen).

    Returns
    -------
    The new :class:`AdapterSet`.

    Example
    -------
    >>> import tempfile
    >>> from torch import nn
    >>> model = nn.Module()
    >>> model.proj = nn.Linear(4, 4)
    >>> sets = AdapterSets(model, hidden_size=4)
    >>> _ = sets.add("a", LoRAConfig(target_modules=["proj"], rank=2))
    >>> folder = export_peft(sets, "a", tempfile.mkdtemp())
    >>> import_peft(sets, folder, "b").config.rank
    2
    """
    config, state = read_peft_lora(folder)
    adapter_set = sets.add(name, config, activate=False, trainable=trainable)
    try:
        expected = sorted({k.rsplit(".lora_", 1)[0] for k in state})
        if sorted(adapter_set.targets) != expected:
            missing = sorted(set(expected) - set(adapter_set.targets))
            raise ValueError(
                f"{folder}: LoRA modules {missing[:5]} are not Linear/Conv1d modules of this model"
            )
        sets.load_state_dict(name, state)
    except ValueError:
        sets.remove(name)
        raise
    if activate:
        sets.activate(name)
    return adapter_set


__all__ = ["PEFT_CONFIG_NAME", "PEFT_WEIGHTS_NAME", "export_peft", "import_peft", "read_peft_lora"]
