"""Named adapter sets on a SeamlessM4T model: add, activate, stack, train, remove.

A *set* is one adaptation (e.g. "odia_text_decoder": decoder bottlenecks
trained on text, or "bengali_length_adaptor": a fine-tuned length adaptor). Any
number of sets can be attached; the *active* ones run, in activation order
(e.g. text-trained decoder adapters + speech-trained encoder adapters).
Only parameters of active sets marked trainable have ``requires_grad``; the
base model and everything else stay frozen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from .config import COMPONENTS, LAYER_STACKS, AdapterConfig, BottleneckConfig, FinetuneConfig, LoRAConfig
from .hosting import ADAPTERS_ATTR, ensure_host, is_host, plain_copy, release_host
from .modules import BottleneckAdapter, LoRA


def select_layers(selection: str | int | list[int], num_layers: int) -> list[int]:
    """Resolve a layer selection to sorted indices.

    Arguments
    ---------
    selection : "all", int, list of int, or "a-b"
        Negative indices count from the end; "a-b" is inclusive.
    num_layers : int
        Size of the stack.

    Returns
    -------
    list of int

    Example
    -------
    >>> select_layers("all", 4), select_layers([0, -1], 4), select_layers("1-2", 4)
    ([0, 1, 2, 3], [0, 3], [1, 2])
    """
    if selection == "all":
        chosen = list(range(num_layers))
    elif isinstance(selection, int):
        chosen = [selection]
    elif isinstance(selection, str):
        match = re.fullmatch(r"\s*(-?\d+)\s*-\s*(-?\d+)\s*", selection)
        if not match:
            raise ValueError(f"layer selection {selection!r}: use 'all', a list of ints or 'a-b'")
        start, end = (int(g) % num_layers if int(g) < 0 else int(g) for g in match.groups())
        chosen = list(range(start, end + 1))
    else:
        chosen = [int(i) for i in selection]
    resolved = []
    for i in chosen:
        j = i + num_layers if i < 0 else i
        if not 0 <= j < num_layers:
            raise ValueError(f"layer index {i} out of range for a stack of {num_layers} layers")
        resolved.append(j)
    return sorted(set(resolved))


@dataclass
class AdapterSet:
    """Bookkeeping for one named set: its config, host module paths, flags."""

    name: str
    config: AdapterConfig
    targets: list[str] = field(default_factory=list)
    trainable: bool = True
    source: str | None = None  # folder it was loaded from (None: created here)
    # LoRA folded into the base weights (see adapters.merging): its modules are skipped.
    merged: bool = False


class AdapterSets:
    """Manage named adapter sets on ``model`` (a SeamlessM4T ``PreTrainedModel``).

    Arguments
    ---------
    model : nn.Module
        The model whose modules receive adapters.
    hidden_size : int
        Width d of the hidden states (``config.hidden_size``).
    dtype : torch.dtype
        dtype of new adapter parameters (kept in full precision even when the
        base is bf16).

    Example
    -------
    >>> from speechbrain_m4t_adapters.adapters import BottleneckConfig
    >>> stack = nn.Module()
    >>> stack.text_decoder = nn.Module()
    >>> stack.text_decoder.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
    >>> sets = AdapterSets(stack, hidden_size=8)
    >>> _ = sets.add("dec", BottleneckConfig(bottleneck=2, placement=["text_decoder"]))
    >>> sets.num_parameters("dec") == 3 * BottleneckAdapter.num_parameters(8, 2)
    True
    >>> sets.active
    ['dec']
    """

    def __init__(self, model: nn.Module, hidden_size: int, dtype: torch.dtype = torch.float32) -> None:
        self.model = model
        self.hidden_size = hidden_size
        self.dtype = dtype
        self.sets: dict[str, AdapterSet] = {}
        self.active: list[str] = []

    # ------------------------------------------------------------------ building
    def add(
        self,
        name: str,
        config: AdapterConfig,
        activate: bool = True,
        trainable: bool = True,
    ) -> AdapterSet:
        """Create set ``name`` from ``config`` and (by default) activate it."""
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
            raise ValueError(f"adapter set name {name!r}: use letters, digits, '_' or '-'")
        if name in self.sets:
            raise ValueError(f"adapter set {name!r} already exists; remove it first")
        device = next(self.model.parameters()).device
        modules = self._build(config)
        adapter_set = AdapterSet(name=name, config=config, trainable=trainable)
        for path, module in modules.items():
            host = self.model.get_submodule(path)
            ensure_host(host)[name] = module.to(device=device, dtype=self.dtype)
            adapter_set.targets.append(path)
        self.sets[name] = adapter_set
        if activate:
            self.activate(name)
        else:
            self._refresh()
        return adapter_set

    def _build(self, config: AdapterConfig) -> dict[str, nn.Module]:
        if isinstance(config, BottleneckConfig):
            modules = {}
            for placement in config.placement:
                stack_path = LAYER_STACKS[placement]
                stack = self._get(stack_path, f"placement {placement!r}")
                for i in select_layers(config.layers, len(stack)):
                    modules[f"{stack_path}.{i}"] = BottleneckAdapter(
                        self.hidden_size,
                        config.bottleneck,
                        activation=config.activation,
                        layer_norm=config.layer_norm,
                        scale=config.scale,
                        dropout=config.dropout,
                    )
            return modules
        if isinstance(config, LoRAConfig):
            modules = {}
            for name, module in self._base_modules():
                if isinstance(module, (nn.Linear, nn.Conv1d)) and any(
                    re.fullmatch(pattern, name) for pattern in config.target_modules
                ):
                    modules[name] = LoRA(module, config.rank, config.alpha, config.dropout)
            if not modules:
                raise ValueError(
                    f"LoRA target_modules {config.target_modules} match no Linear/Conv1d module; "
                    "names look like 'text_decoder.layers.0.self_attn.q_proj' or "
                    "'speech_encoder.encoder.layers.0.self_attn.linear_q'"
                )
            return modules
        if isinstance(config, FinetuneConfig):
            modules = {}
            for component in config.components:
                for path in self._expand(COMPONENTS.get(component, [component]), f"component {component!r}"):
                    module = self._get(path, f"component {component!r}")
                    self._check_untied(path, module)
                    modules[path] = plain_copy(module)
            return modules
        raise TypeError(f"unsupported adapter config {type(config).__name__}")

    def _get(self, path: str, what: str) -> nn.Module:
        try:
            module = self.model.get_submodule(path)
        except AttributeError as error:
            raise ValueError(f"{what}: this model has no module {path!r}") from error
        if module is None:
            raise ValueError(f"{what}: module {path!r} is disabled in this model's config")
        return module

    def _expand(self, patterns: list[str], what: str) -> list[str]:
        """``a.b.*`` -> ``a.b.0``, ``a.b.1``, ... for every element of the list ``a.b``."""
        paths = []
        for pattern in patterns:
            if pattern.endswith(".*"):
                stack = self._get(pattern[:-2], what)
                paths += [f"{pattern[:-2]}.{i}" for i in range(len(stack))]
            else:
                paths.append(pattern)
        return paths

    def _check_untied(self, path: str, module: nn.Module) -> None:
        inside = {id(p) for p in module.parameters()}
        for name, p in self.model.named_parameters(remove_duplicate=False):
            if id(p) in inside and not name.startswith(path + "."):
                raise ValueError(
                    f"cannot fine-tune a copy of {path!r}: its weights are tied to {name!r} outside it; "
                    "name its untied sub-modules instead (e.g. 'text_decoder' = its layers and final norm)"
                )

    def _base_modules(self) -> Iterator[tuple[str, nn.Module]]:
        for name, module in self.model.named_modules():
            if ADAPTERS_ATTR not in name.split("."):
                yield name, module

    # --------------------------------------------------------------- activation
    def activate(self, *names: str) -> None:
        """Activate sets (appended after those already active, in this order)."""
        self._check_known(names)
        new_active = self.active + [n for n in names if n not in self.active]
        self._check_compatible(new_active)
        self.active = new_active
        self._refresh()

    def deactivate(self, *names: str) -> None:
        """Deactivate sets (they stay attached and can be re-activated)."""
        self._check_known(names)
        self._check_unmerged(names, "deactivate")
        self.active = [n for n in self.active if n not in names]
        self._refresh()

    def set_active(self, names: Iterable[str]) -> None:
        """Make exactly ``names`` active, in this order."""
        names = list(names)
        self._check_known(names)
        self._check_unmerged([n for n in self.active if n not in names], "deactivate")
        self._check_compatible(names)
        self.active = names
        self._refresh()

    def set_trainable(self, name: str, trainable: bool = True) -> None:
        """Mark a set trainable (gets gradients while active) or frozen."""
        self._check_known([name])
        self.sets[name].trainable = trainable
        self._refresh()

    def remove(self, name: str) -> None:
        """Detach a set and free its modules."""
        self._check_known([name])
        self._check_unmerged([name], "remove")
        for path in self.sets[name].targets:
            host = self.model.get_submodule(path)
            del getattr(host, ADAPTERS_ATTR)[name]
            release_host(host)
        del self.sets[name]
        self.active = [n for n in self.active if n != name]
        self._refresh()

    def _check_known(self, names: Iterable[str]) -> None:
        unknown = [n for n in names if n not in self.sets]
        if unknown:
            raise KeyError(f"unknown adapter set(s) {unknown}; attached: {sorted(self.sets)}")

    def _check_unmerged(self, names: Iterable[str], action: str) -> None:
        merged = [n for n in names if self.sets[n].merged]
        if merged:
            raise ValueError(
                f"cannot {action} adapter set(s) {merged}: they are merged into the base weights; "
                "unmerge them first (adapters.merging.unmerge_lora)"
            )

    def _check_compatible(self, names: list[str]) -> None:
        replaced: dict[str, str] = {}
        for name in names:
            if isinstance(self.sets[name].config, FinetuneConfig):
                for path in self.sets[name].targets:
                    if path in replaced:
                        raise ValueError(
                            f"sets {replaced[path]!r} and {name!r} both replace {path!r}; activate one"
                        )
                    replaced[path] = name
        for name in names:
            for path in self.sets[name].targets:
                for rpath, owner in replaced.items():
                    if owner != name and path.startswith(rpath + "."):
                        raise ValueError(
                            f"set {name!r} adapts {path!r}, inside {rpath!r} which set {owner!r} "
                            "replaces by a trained copy; they cannot be active together"
                        )

    def _refresh(self) -> None:
        """Push the active order to every host and set ``requires_grad``."""
        hosts = {path for s in self.sets.values() for path in s.targets}
        for path in hosts:
            host = self.model.get_submodule(path)
            adapters = getattr(host, ADAPTERS_ATTR)
            order = [n for n in self.active if n in adapters]
            host._sb_post = [
                n
                for n in order
                if not isinstance(self.sets[n].config, FinetuneConfig) and not self.sets[n].merged
            ]
            replacements = [n for n in order if isinstance(self.sets[n].config, FinetuneConfig)]
            host._sb_replacement = replacements[0] if replacements else None
        for name in self.sets:
            flag = self.sets[name].trainable and name in self.active and not self.sets[name].merged
            for p in self.parameters(name):
                p.requires_grad_(flag)

    # ---------------------------------------------------------------- parameters
    def modules_of(self, name: str) -> dict[str, nn.Module]:
        """Host path -> adapter module of set ``name``."""
        self._check_known([name])
        return {
            path: getattr(self.model.get_submodule(path), ADAPTERS_ATTR)[name]
            for path in self.sets[name].targets
        }

    def parameters(self, name: str) -> Iterator[nn.Parameter]:
        """Parameters of set ``name``."""
        for module in self.modules_of(name).values():
            yield from module.parameters()

    def num_parameters(self, name: str) -> int:
        """Number of parameters in set ``name``."""
        return sum(p.numel() for p in self.parameters(name))

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters of active, trainable sets (what an optimizer should get)."""
        return [
            p
            for n in self.active
            if self.sets[n].trainable and not self.sets[n].merged
            for p in self.parameters(n)
        ]

    def state_dict(self, name: str) -> dict[str, torch.Tensor]:
        """Weights of one set, keyed ``<host path>.<parameter name>``."""
        return {
            f"{path}.{key}": value
            for path, module in self.modules_of(name).items()
            for key, value in module.state_dict().items()
        }

    def load_state_dict(self, name: str, state: dict[str, torch.Tensor]) -> None:
        """Load weights written by :meth:`state_dict` (strict: names and shapes must match)."""
        own = self.state_dict(name)
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"adapter set {name!r}: weights do not match its config "
                f"(missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''})"
            )
        for key, value in state.items():
            if own[key].shape != value.shape:
                raise ValueError(
                    f"adapter set {name!r}: {key} has shape {tuple(value.shape)}, "
                    f"expected {tuple(own[key].shape)}"
                )
        with torch.no_grad():
            for key, value in state.items():
                own[key].copy_(value)

    def report(self) -> list[dict]:
        """One row per set: name, kind, active, trainable, parameter count, hosts."""
        return [
            {
                "name": name,
                "kind": s.config.kind,
                "active": name in self.active,
                "trainable": s.trainable and name in self.active,
                "parameters": self.num_parameters(name),
                "modules": len(s.targets),
            }
            for name, s in self.sets.items()
        ]


def base_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Named parameters of the base model, excluding every adapter."""
    for name, p in model.named_parameters():
        if ADAPTERS_ATTR not in name.split("."):
            yield name, p


__all__ = ["AdapterSet", "AdapterSets", "base_parameters", "is_host", "select_layers"]
