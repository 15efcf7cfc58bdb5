"""The plugin's adapter sets: the contributed :class:`~.sets.AdapterSets` plus sets switched one by one
(activate, deactivate), removed, kinds that wrap their targets themselves (``inject``: LoRA through
PEFT) and merged sets (``lora.merge_lora``)."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from .base import AdapterConfig
from .hosting import ADAPTERS_ATTR, release_host
from .sets import AdapterSets


class SwitchableAdapterSets(AdapterSets):
    """:class:`~.sets.AdapterSets` that also switches and removes sets and hosts ``inject`` kinds.

    Example
    -------
    >>> from speechbrain_m4t_adapters.adapters import FinetuneConfig
    >>> sets = SwitchableAdapterSets(nn.Sequential(nn.Linear(4, 4)), hidden_size=4)
    >>> _ = sets.add("copy", FinetuneConfig(targets=["0"]))
    >>> sets.deactivate("copy")
    >>> sets.active, sets.remove("copy"), sets.sets
    ([], None, {})
    """

    def _attach(self, name: str, config: AdapterConfig) -> list[str]:
        if config.role == "inject":  # the kind wraps its targets itself (LoRA: PEFT layers)
            return config.inject(self.model, name, self.dtype)
        return super()._attach(name, config)

    def activate(self, *names: str) -> None:
        """Activate sets (appended after those already active, in this order)."""
        self.check_known(names)
        self.set_active(self.active + [n for n in names if n not in self.active])

    def deactivate(self, *names: str) -> None:
        """Deactivate sets (they stay attached and can be re-activated)."""
        self.check_known(names)
        self.set_active([n for n in self.active if n not in names])

    def set_active(self, names: Iterable[str]) -> None:
        """Make exactly ``names`` active, in this order (a merged set cannot be deactivated)."""
        names = list(names)
        self.check_known(names)
        self._check_unmerged([n for n in self.active if n not in names], "deactivate")
        super().set_active(names)

    def remove(self, name: str) -> None:
        """Detach a set and free its modules."""
        self.check_known([name])
        self._check_unmerged([name], "remove")
        adapter_set = self.sets.pop(name)
        if adapter_set.config.role == "inject":
            adapter_set.config.eject(self.model, name, adapter_set.targets)
        else:
            for path in adapter_set.targets:
                host = self.model.get_submodule(path)
                del getattr(host, ADAPTERS_ATTR)[name]
                release_host(host)
        self.active = [n for n in self.active if n != name]
        self.refresh()

    def _check_unmerged(self, names: Iterable[str], action: str) -> None:
        if merged := [n for n in names if self.sets[n].merged]:
            raise ValueError(
                f"cannot {action} adapter set(s) {merged}: they are merged into the base weights; "
                "unmerge them first (adapters.lora.unmerge_lora)"
            )

    def refresh(self) -> None:
        """Which sets run in each injected layer (one call per kind), then the core's refresh, whose
        ``requires_grad`` has the last word (PEFT's ``set_adapter`` sets it too)."""
        running = [n for n in self.active if not self.sets[n].merged]
        injected: dict[type, tuple[AdapterConfig, set[str]]] = {}
        for adapter_set in self.sets.values():
            if adapter_set.config.role == "inject":
                config = adapter_set.config
                injected.setdefault(type(config), (config, set()))[1].update(adapter_set.targets)
        for config, paths in injected.values():
            config.run_only(self.model, paths, running)
        super().refresh()

    def modules_of(self, name: str) -> dict[str, nn.Module]:
        """Path -> adapter module of set ``name`` (an injected kind's own modules)."""
        self.check_known([name])
        config, paths = self.sets[name].config, self.sets[name].targets
        if config.role == "inject":
            return config.injected_modules(self.model, name, paths)
        return super().modules_of(name)
