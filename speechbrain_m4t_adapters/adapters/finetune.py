"""Trainable copies of whole components (the paper's length-adaptor and full fine-tuning rows)."""

from dataclasses import dataclass, field
from typing import ClassVar

from torch import nn

from .base import COMPONENTS, AdapterConfig, find_module
from .hosting import plain_copy


@dataclass
class FinetuneConfig(AdapterConfig):
    """Train whole components outright (e.g. the length adaptor, 46M params).

    While the set is active, its trainable copy of each component computes instead of the
    untouched original. Full fine-tuning (the paper's reference) is ``targets: [speech_encoder]`` etc.

    Arguments
    ---------
    targets : list of str
        Names from ``COMPONENTS`` (``length_adaptor``, ``speech_encoder``, ``conformer``, ``text_encoder``,
        ``text_decoder``) or module paths (``text_decoder.layers.*`` = every decoder layer). A module
        whose weights are tied to weights outside it (token embeddings) cannot be copied.

    Example
    -------
    >>> FinetuneConfig(targets=["length_adaptor"]).targets
    ['length_adaptor']
    """

    kind: ClassVar[str] = "finetune"
    role: ClassVar[str] = "replace"
    targets: list[str] = field(default_factory=lambda: ["length_adaptor"])

    def build(self, model: nn.Module, hidden_size: int) -> dict[str, nn.Module]:
        """A plain (adapter-free) copy of every target module."""
        modules = {}
        for target in self.targets:
            what = f"component {target!r}"
            for path in _expand(model, COMPONENTS.get(target, [target]), what):
                module = find_module(model, path, what)
                _check_untied(model, path, module)
                modules[path] = plain_copy(module)
        return modules


def _expand(model: nn.Module, patterns: list[str], what: str) -> list[str]:
    """``a.b.*`` -> ``a.b.0``, ``a.b.1``, ... (every element of the list
    ``a.b``); other paths as given."""
    paths = []
    for pattern in patterns:
        stack = pattern.removesuffix(".*")
        if stack == pattern:
            paths.append(pattern)
        else:
            size = len(find_module(model, stack, what))
            paths += [f"{stack}.{i}" for i in range(size)]
    return paths


def _check_untied(model: nn.Module, path: str, module: nn.Module) -> None:
    inside = {id(p) for p in module.parameters()}
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in inside and not name.startswith(path + "."):
            raise ValueError(
                f"cannot fine-tune a copy of {path!r}: its weights are tied to "
                f"{name!r} outside it; name its untied sub-modules instead "
                "(e.g. 'text_decoder' = its layers and final norm)"
            )
