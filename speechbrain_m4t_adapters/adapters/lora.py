"""LoRA through PEFT: named sets on PEFT's LoRA layers, merging, and PEFT folders in and out.

PEFT computes and merges ``(alpha / r) * B(A(x))``; its layers wrap each target Linear/Conv1d in
place (the target's weight becomes ``<path>.base_layer.weight``). Several named sets share one
PEFT layer; a set's weights are saved as ``<path>.lora_{A,B}.weight`` and exchanged with PEFT
folders that ``PeftModel.from_pretrained`` on transformers' SeamlessM4T loads with equal outputs.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from peft import LoraConfig as PeftLoraConfig
from peft.tuners.lora.layer import LoraLayer, dispatch_default
from safetensors.torch import load_file
from torch import nn

from .base import AdapterConfig
from .integrity import read_json
from .io import write_safetensors

if TYPE_CHECKING:  # pragma: no cover
    from .sets import AdapterSet
    from .switching import SwitchableAdapterSets

PEFT_CONFIG_NAME = "adapter_config.json"
PEFT_WEIGHTS_NAME = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<path>.+)\.lora_(?P<ab>[AB])(?:\.[A-Za-z0-9_\-]+)?\.weight$")
# PEFT options whose non-default values compute something our sets cannot hold.
_UNSUPPORTED = {"use_dora": False, "bias": "none", "lora_bias": False, "fan_in_fan_out": False}
_UNSUPPORTED |= dict.fromkeys(("modules_to_save", "rank_pattern", "alpha_pattern", "trainable_token_indices"))


@dataclass
class LoRAConfig(AdapterConfig):
    """Low-rank updates on chosen Linear / Conv1d modules, computed by PEFT.

    Arguments
    ---------
    targets : list of str
        Regular expressions matched (``re.fullmatch``) against module names, e.g.
        ``text_decoder\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj`` or
        ``speech_encoder\\.adapter\\.layers\\.0\\.(residual|self_attn)_conv`` (the length adaptor).
    rank : int
        Rank r of the update.
    alpha : float
        Scale numerator (the update is multiplied by alpha / r).
    dropout : float
        Dropout on the LoRA input, training only.

    Example
    -------
    >>> LoRAConfig(targets=[r"text_decoder\\.layers\\.\\d+\\.ffn\\.fc1"], rank=4).rank
    4
    """

    kind: ClassVar[str] = "lora"
    role: ClassVar[str] = "inject"
    targets: list[str] = field(default_factory=list)
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rank < 1:
            raise ValueError(f"rank must be >= 1, got {self.rank}")

    def peft_config(self, paths: list[str] | None = None) -> PeftLoraConfig:
        """The PEFT ``LoraConfig`` computing this set (``paths``: exact target modules)."""
        targets = paths or list(self.targets)  # PEFT's default init: B = 0, the update starts at zero
        return PeftLoraConfig(
            r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=targets
        )

    def inject(self, model: nn.Module, name: str, dtype: torch.dtype) -> list[str]:
        """Wrap every matching module in a PEFT LoRA layer (or add ``name`` to one); returns the paths."""
        paths = [path for path, module in model.named_modules() if self._matches(path, module)]
        if not paths:
            raise ValueError(
                f"LoRA targets {self.targets} match no Linear/Conv1d module; names look like "
                "'text_decoder.layers.0.self_attn.q_proj' or "
                "'speech_encoder.encoder.layers.0.self_attn.linear_q'"
            )
        config = self.peft_config(paths)
        for path in paths:
            target = model.get_submodule(path)
            if isinstance(target, LoraLayer):
                target.update_layer(name, self.rank, lora_alpha=self.alpha, config=config)
            else:
                target = dispatch_default(target, name, config, r=self.rank, lora_alpha=self.alpha)
                model.set_submodule(path, target)
            for module in (target.lora_A[name], target.lora_B[name]):
                module.to(dtype=dtype)
        return paths

    def injected_modules(self, model: nn.Module, name: str, paths: list[str]) -> dict[str, nn.ModuleDict]:
        """Path -> ``{lora_A, lora_B}`` of set ``name`` (its state dict reads ``lora_A.weight``, ...)."""
        layers = {path: model.get_submodule(path) for path in paths}
        return {
            p: nn.ModuleDict({"lora_A": x.lora_A[name], "lora_B": x.lora_B[name]}) for p, x in layers.items()
        }

    def eject(self, model: nn.Module, name: str, paths: list[str]) -> None:
        """Delete set ``name`` from its PEFT layers; a layer left empty gives its base module back."""
        for path in paths:
            layer = model.get_submodule(path)
            layer.delete_adapter(name)
            if not layer.lora_A:
                model.set_submodule(path, layer.get_base_layer())

    def run_only(self, model: nn.Module, paths: set[str], running: list[str]) -> None:
        """Make exactly the ``running`` sets run in each PEFT layer at ``paths``."""
        for path in paths:
            layer = model.get_submodule(path)
            layer.set_adapter([n for n in running if n in layer.lora_A])

    def _matches(self, path: str, module: nn.Module) -> bool:
        parts = path.split(".")
        if "sb_adapters" in parts or "base_layer" in parts or parts[-1].startswith("lora_"):
            return False  # not a base module
        base = module.get_base_layer() if isinstance(module, LoraLayer) else module
        if not isinstance(base, nn.Linear | nn.Conv1d):
            return False
        if not any(re.fullmatch(pattern, path) for pattern in self.targets):
            return False
        if isinstance(base, nn.Conv1d) and (base.groups != 1 or tuple(base.dilation) != (1,)):
            raise ValueError(f"{path}: LoRA on a grouped or dilated Conv1d is not supported")
        return True


def merge_lora(sets: SwitchableAdapterSets, name: str) -> None:
    """Fold active LoRA set ``name`` into its targets' weights (PEFT's merge); its modules are skipped.

    The set stays attached (to save or export), gets no gradients and must be unmerged before it is
    deactivated or removed.

    Example
    -------
    >>> from speechbrain_m4t_adapters.adapters import SwitchableAdapterSets
    >>> model = nn.Sequential(nn.Linear(6, 6))
    >>> sets = SwitchableAdapterSets(model, hidden_size=6)
    >>> _ = sets.add("lora", LoRAConfig(targets=["0"], rank=2))
    >>> _ = nn.init.normal_(sets.modules_of("lora")["0"].lora_B.weight)
    >>> x = torch.randn(3, 6)
    >>> before = model(x)
    >>> merge_lora(sets, "lora")
    >>> torch.allclose(model(x), before, atol=1e-5), sets.sets["lora"].merged
    (True, True)
    >>> unmerge_lora(sets, "lora")
    >>> torch.allclose(model(x), before, atol=1e-5), sets.sets["lora"].merged
    (True, False)
    """
    adapter_set = _lora_set(sets, name)
    if adapter_set.merged:
        raise ValueError(f"adapter set {name!r} is already merged")
    if name not in sets.active:
        raise ValueError(f"adapter set {name!r} is not active; activate it before merging")
    for path in adapter_set.targets:
        sets.model.get_submodule(path).merge(adapter_names=[name])
    adapter_set.merged = True
    sets.refresh()


def unmerge_lora(sets: SwitchableAdapterSets, name: str) -> None:
    """Take a merged LoRA set's update out of the weights again (other merged sets stay merged)."""
    adapter_set = _lora_set(sets, name)
    if not adapter_set.merged:
        raise ValueError(f"adapter set {name!r} is not merged")
    for path in adapter_set.targets:
        layer = sets.model.get_submodule(path)
        others = [n for n in layer.merged_adapters if n != name]
        layer.unmerge()  # PEFT unmerges every merged set of a layer ...
        if others:
            layer.merge(adapter_names=others)  # ... so the others go back in
    adapter_set.merged = False
    sets.refresh()


def _lora_set(sets: SwitchableAdapterSets, name: str) -> AdapterSet:
    sets.check_known([name])
    adapter_set = sets.sets[name]
    if not isinstance(adapter_set.config, LoRAConfig):
        raise ValueError(f"adapter set {name!r} is {adapter_set.config.kind}, only LoRA sets can be merged")
    return adapter_set


def export_peft(
    sets: SwitchableAdapterSets, name: str, folder: str | Path, base_model: str = "", revision=None
) -> Path:
    """Write LoRA set ``name`` as a PEFT LoRA folder (``PeftModel.from_pretrained`` loads it).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_m4t_adapters.adapters import SwitchableAdapterSets
    >>> model = nn.Module()
    >>> model.proj = nn.Linear(4, 4)
    >>> sets = SwitchableAdapterSets(model, hidden_size=4)
    >>> _ = sets.add("lora", LoRAConfig(targets=["proj"], rank=2, alpha=4.0))
    >>> folder = export_peft(sets, "lora", tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir())
    ['adapter_config.json', 'adapter_model.safetensors']
    >>> json.loads((folder / PEFT_CONFIG_NAME).read_text())["target_modules"]
    ['proj']
    >>> import_peft(sets, folder, "again").config.rank  # and back, as a second set
    2
    """
    adapter_set = _lora_set(sets, name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {PEFT_PREFIX + k: v.detach().cpu().contiguous() for k, v in sets.state_dict(name).items()}
    write_safetensors(tensors, folder / PEFT_WEIGHTS_NAME)
    config = adapter_set.config.peft_config(list(adapter_set.targets)).to_dict()
    # task_type None: a plain PeftModel (SEQ_2_SEQ_LM breaks SeamlessM4T*ForSpeechToText's forward).
    config.update(base_model_name_or_path=base_model or None, revision=revision, inference_mode=True)
    config["target_modules"] = list(adapter_set.targets)
    (folder / PEFT_CONFIG_NAME).write_text(json.dumps(config, indent=2, default=list), encoding="utf-8")
    return folder


def read_peft_lora(folder: str | Path) -> tuple[LoRAConfig, dict[str, torch.Tensor]]:
    """A PEFT LoRA folder as our config plus weights keyed ``<path>.lora_{A,B}.weight``.

    Anything our sets would compute differently is a ``ValueError`` naming the file and field;
    the rank is the config's ``r`` (weights of another rank are an error naming the tensor).
    """
    folder = Path(folder)
    peft_config = _read_peft_config(folder / PEFT_CONFIG_NAME)
    weights_path = folder / PEFT_WEIGHTS_NAME
    if not weights_path.is_file():
        raise FileNotFoundError(f"{weights_path}: missing (only safetensors PEFT folders import)")
    state: dict[str, torch.Tensor] = {}
    for key, value in load_file(str(weights_path)).items():
        if (match := _KEY.match(key)) is None:
            raise ValueError(f"{weights_path}: tensor {key!r} is not a LoRA A/B weight")
        state[f"{match['path']}.lora_{match['ab']}.weight"] = value
    paths = sorted({k.rsplit(".lora_", 1)[0] for k in state})
    if not paths:
        raise ValueError(f"{weights_path}: holds no LoRA weights")
    rank = int(peft_config.get("r", 8))
    for key, value in state.items():  # the config's r, not the weights', decides: they must agree
        if (found := value.shape[0 if ".lora_A." in key else 1]) != rank:
            raise ValueError(
                f"{weights_path}: {key} has shape {list(value.shape)} (rank {found}), "
                f"but r is {rank} in {folder / PEFT_CONFIG_NAME}"
            )
    alpha = float(peft_config.get("lora_alpha", 8))
    if peft_config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # alpha' / r == alpha / sqrt(r)
    dropout = float(peft_config.get("lora_dropout", 0.0))
    return LoRAConfig(targets=[re.escape(p) for p in paths], rank=rank, alpha=alpha, dropout=dropout), state


def _read_peft_config(path: Path) -> dict[str, Any]:
    config = read_json(path, f"no PEFT adapter config in {path.parent}")
    if config.get("peft_type") != "LORA":
        raise ValueError(f"{path}: peft_type is {config.get('peft_type')!r}; only LORA imports")
    for key, default in _UNSUPPORTED.items():
        if (value := config.get(key, default)) not in (default, None, [], {}, ()):
            raise ValueError(f"{path}: {key}={value!r} is not supported (plain LoRA only)")
    return config


def import_peft(
    sets: SwitchableAdapterSets, folder: str | Path, name: str, activate: bool = True, trainable=False
):
    """Attach the PEFT LoRA folder ``folder`` as set ``name`` (frozen unless ``trainable``; see
    :func:`export_peft` for an example)."""
    config, state = read_peft_lora(folder)
    adapter_set = sets.add(name, config, activate=False, trainable=trainable)
    try:
        # The targets are the saved paths (escaped) that this model has as Linear/Conv1d modules.
        if missing := sorted({k.rsplit(".lora_", 1)[0] for k in state} - set(adapter_set.targets)):
            raise ValueError(
                f"{folder}: LoRA modules {missing[:5]} are not Linear/Conv1d modules of this model"
            )
        sets.load_state_dict(name, state)
    except ValueError as error:
        sets.remove(name)
        raise ValueError(f"{Path(folder) / PEFT_CONFIG_NAME}: {error}") from error
    if activate:
        sets.activate(name)
    return adapter_set
