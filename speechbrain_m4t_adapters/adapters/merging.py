"""Fold LoRA sets into the base weights for inference, and take them out again.

A merged LoRA set costs nothing at run time: its update ``(alpha / r) * B A``
is added to the host's weight and its modules are skipped. The set stays
attached (it can still be saved or exported), gets no gradients while
merged, and must be unmerged before it is deactivated or removed.

Unmerging subtracts the same update, computed in float32, so on a float32
base the weights come back to within rounding (about 1e-7); on a bf16/fp16
base each merge/unmerge rounds the weights to that dtype.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import LoRAConfig
from .modules import LoRA
from .sets import AdapterSets


def lora_delta(lora: LoRA) -> torch.Tensor:
    """The weight update of one LoRA module (float32 or wider), shaped like its host's weight.

    Linear: ``scaling * B @ A`` (out, in). Conv1d: A is a (r, in, k) convolution
    and B a 1x1 convolution (out, r, 1), so the composite is one convolution with
    kernel ``scaling * sum_r B[o, r] A[r, i, t]`` (same stride and padding).

    Example
    -------
    >>> base = nn.Linear(4, 3)
    >>> lora = LoRA(base, rank=2)
    >>> _ = nn.init.normal_(lora.lora_B.weight)
    >>> x = torch.randn(5, 4)
    >>> merged = nn.functional.linear(x, base.weight + lora_delta(lora), base.bias)
    >>> torch.allclose(merged, lora(base(x), x), atol=1e-6)
    True
    """
    # At least float32 (bf16 adapters), float64 stays float64.
    dtype = torch.promote_types(lora.lora_A.weight.dtype, torch.float32)
    a = lora.lora_A.weight.detach().to(dtype)
    b = lora.lora_B.weight.detach().to(dtype)
    if lora.channels_last:
        return (b @ a) * lora.scaling
    return torch.einsum("or,rik->oik", b[..., 0], a) * lora.scaling


def _lora_modules(sets: AdapterSets, name: str) -> dict[str, LoRA]:
    sets._check_known([name])
    if not isinstance(sets.sets[name].config, LoRAConfig):
        raise ValueError(
            f"adapter set {name!r} is {sets.sets[name].config.kind}, only LoRA sets can be merged"
        )
    return sets.modules_of(name)


def _add_delta(sets: AdapterSets, name: str, sign: float) -> None:
    with torch.no_grad():
        for path, lora in _lora_modules(sets, name).items():
            weight: nn.Parameter = sets.model.get_submodule(path).weight
            delta = lora_delta(lora).to(weight.device)
            total = weight.to(torch.promote_types(weight.dtype, delta.dtype)) + sign * delta
            weight.copy_(total.to(weight.dtype))


def merge_lora(sets: AdapterSets, name: str) -> None:
    """Add LoRA set ``name``'s update to its hosts' weights and skip its modules.

    The set must be active (merging is how an active set runs faster).

    Arguments
    ---------
    sets : AdapterSets
        The model's sets.
    name : str
        A LoRA set.

    Example
    -------
    >>> from speechbrain_m4t_adapters.adapters import AdapterSets, LoRAConfig
    >>> model = nn.Sequential(nn.Linear(6, 6))
    >>> sets = AdapterSets(model, hidden_size=6)
    >>> _ = sets.add("lora", LoRAConfig(target_modules=["0"], rank=2))
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
    _lora_modules(sets, name)
    if sets.sets[name].merged:
        raise ValueError(f"adapter set {name!r} is already merged")
    if name not in sets.active:
        raise ValueError(f"adapter set {name!r} is not active; activate it before merging")
    _add_delta(sets, name, 1.0)
    sets.sets[name].merged = True
    sets._refresh()


def unmerge_lora(sets: AdapterSets, name: str) -> None:
    """Subtract a merged LoRA set's update again; its modules run as before."""
    _lora_modules(sets, name)
    if not sets.sets[name].merged:
        raise ValueError(f"adapter set {name!r} is not merged")
    _add_delta(sets, name, -1.0)
    sets.sets[name].merged = False
    sets._refresh()


def merged_sets(sets: AdapterSets) -> list[str]:
    """Names of the sets currently merged into the base weights."""
    return [n for n, s in sets.sets.items() if s.merged]


__all__ = ["lora_delta", "merge_lora", "merged_sets", "unmerge_lora"]
