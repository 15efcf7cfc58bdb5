"""Named adapter sets on a SeamlessM4T model: attach, choose which run, train, save.

Any number of sets (e.g. "odia_text_decoder", "bengali_length_adaptor") can be attached; the
*active* ones run, in activation order. Only parameters of active, trainable sets get
``requires_grad``; the base model and everything else stay frozen.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import product

import torch
from torch import nn

from .base import AdapterConfig
from .hosting import ADAPTERS_ATTR, ensure_host

#: What a set or profile name may hold (it becomes a module key and a file-name part).
NAME_PATTERN = r"[A-Za-z0-9_\-]+"


def any_trainable(*modules: nn.Module | None) -> bool:
    """Whether any parameter of ``modules`` (None skipped) requires grad."""
    return any(p.requires_grad for m in modules if m is not None for p in m.parameters())


@dataclass
class AdapterSet:
    """Bookkeeping for one named set: its config, host module paths, flags."""

    name: str
    config: AdapterConfig
    targets: list[str] = field(default_factory=list)
    trainable: bool = True
    source: str | None = None  # folder it was loaded from (None: created here)
    merged: bool = False  # folded into the base weights: its modules are skipped


class AdapterSets:
    """Manage named adapter sets on ``model`` (a SeamlessM4T ``PreTrainedModel``).

    Arguments
    ---------
    model : nn.Module
        The model whose modules receive adapters.
    hidden_size : int
        Width d of the hidden states (``config.hidden_size``).
    dtype : torch.dtype
        dtype of new adapter parameters (full precision even when the base is bf16).

    Example
    -------
    >>> from speechbrain_m4t_adapters.adapters import BottleneckAdapter, BottleneckConfig
    >>> stack = nn.Module()
    >>> stack.text_decoder = nn.Module()
    >>> stack.text_decoder.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
    >>> sets = AdapterSets(stack, hidden_size=8)
    >>> _ = sets.add("dec", BottleneckConfig(bottleneck=2, targets=["text_decoder"]))
    >>> sets.num_parameters("dec") == 3 * BottleneckAdapter.num_parameters(8, 2)
    True
    >>> sets.active
    ['dec']
    """

    def __init__(self, model: nn.Module, hidden_size: int, dtype=torch.float32):
        self.model = model
        self.hidden_size = hidden_size
        self.dtype = dtype
        self.sets: dict[str, AdapterSet] = {}
        self.active: list[str] = []

    def add(self, name: str, config: AdapterConfig, activate=True, trainable=True):
        """Create set ``name`` from ``config`` and (by default) activate it."""
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(f"adapter set name {name!r}: use letters, digits, '_' or '-'")
        if name in self.sets:
            raise ValueError(f"adapter set {name!r} already exists")
        adapter_set = AdapterSet(name, config, trainable=trainable)
        adapter_set.targets = self._attach(name, config)
        self.sets[name] = adapter_set
        self.set_active(self.active + [name] if activate else self.active)
        return adapter_set

    def _attach(self, name: str, config: AdapterConfig) -> list[str]:
        """Host the modules ``config`` builds; returns their paths."""
        device = next(self.model.parameters()).device
        built = config.build(self.model, self.hidden_size)
        for path, module in built.items():
            host = ensure_host(self.model.get_submodule(path))
            host[name] = module.to(device, self.dtype)
        return list(built)

    def set_active(self, names: Iterable[str]) -> None:
        """Make exactly ``names`` active, in this order."""
        names = list(names)
        self.check_known(names)
        self._check_compatible(names)
        self.active = names
        self.refresh()

    def check_known(self, names: Iterable[str]) -> None:
        """Raise ``KeyError`` naming every set in ``names`` that is not attached."""
        if unknown := [n for n in names if n not in self.sets]:
            known = sorted(self.sets)
            raise KeyError(f"unknown adapter set(s) {unknown}; attached: {known}")

    def _check_compatible(self, names: list[str]) -> None:
        """Refuse two active copies of one module, or adapters inside a copy."""
        owner: dict[str, str] = {}  # replaced path -> set
        for name in names:
            if self.sets[name].config.role == "replace":
                for path in self.sets[name].targets:
                    if path in owner:
                        raise ValueError(f"sets {owner[path]!r} and {name!r} both replace {path!r}")
                    owner[path] = name
        for name in names:
            for path, other in product(self.sets[name].targets, owner):
                if owner[other] != name and path.startswith(other + "."):
                    raise ValueError(
                        f"set {name!r} adapts {path!r}, inside {other!r} which set "
                        f"{owner[other]!r} replaces: they cannot be active together"
                    )

    def refresh(self) -> None:
        """Push the active order to every host and set ``requires_grad``."""
        running = [n for n in self.active if not self.sets[n].merged]
        for adapter_set in self.sets.values():
            if adapter_set.config.role in ("after", "replace"):
                for path in adapter_set.targets:
                    self._order_host(self.model.get_submodule(path), running)
        for name, adapter_set in self.sets.items():
            for module in self.modules_of(name).values():
                module.requires_grad_(adapter_set.trainable and name in running)

    def _order_host(self, host: nn.Module, running: list[str]) -> None:
        """Which of ``host``'s adapters run: active ``after`` sets, in order,
        behind the first active ``replace`` set's copy (if any)."""
        here = [n for n in self.active if n in getattr(host, ADAPTERS_ATTR)]
        roles = {n: self.sets[n].config.role for n in here}
        host._sb_post = [n for n in here if roles[n] == "after" and n in running]
        replacements = [n for n in here if roles[n] == "replace"]
        host._sb_replacement = replacements[0] if replacements else None

    def modules_of(self, name: str) -> dict[str, nn.Module]:
        """Host path -> adapter module of set ``name``."""
        self.check_known([name])
        hosts = {path: self.model.get_submodule(path) for path in self.sets[name].targets}
        return {path: getattr(host, ADAPTERS_ATTR)[name] for path, host in hosts.items()}

    def parameters(self, name: str) -> Iterator[nn.Parameter]:
        """Parameters of set ``name``."""
        for module in self.modules_of(name).values():
            yield from module.parameters()

    def num_parameters(self, name: str) -> int:
        """Number of parameters in set ``name``."""
        return sum(p.numel() for p in self.parameters(name))

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
        missing = sorted(set(own) - set(state))[:5]
        unexpected = sorted(set(state) - set(own))[:5]
        if missing or unexpected:
            raise ValueError(
                f"adapter set {name!r}: weights do not match its config "
                f"(missing {missing}, unexpected {unexpected}; first 5)"
            )
        for key, value in state.items():
            if own[key].shape != value.shape:
                raise ValueError(
                    f"adapter set {name!r}: {key} has shape {list(value.shape)}, "
                    f"expected {list(own[key].shape)}"
                )
        with torch.no_grad():
            for key, value in state.items():
                own[key].copy_(value)


__all__ = ["AdapterSet", "AdapterSets", "any_trainable"]
