"""Parameter counts of adapter sets and of the base model they adapt (what runs log and budgets check)."""

from collections.abc import Iterator

from torch import nn

from .hosting import ADAPTERS_ATTR
from .sets import AdapterSets

#: Parts of a parameter name that belong to an adapter (ours or PEFT's LoRA), not to the base model.
_LORA_PARTS = ("lora_A", "lora_B", "lora_magnitude_vector", "lora_embedding_A", "lora_embedding_B")
_ADAPTER_PARTS = {ADAPTERS_ATTR, *_LORA_PARTS}


def parameter_report(sets: AdapterSets) -> dict:
    """Trainable vs total parameter counts, overall and per set (the one count runs log)."""
    base = [p for _, p in base_parameters(sets.model)]
    base_total = sum(p.numel() for p in base)
    base_trainable = sum(p.numel() for p in base if p.requires_grad)
    rows = [  # one per set
        {
            "name": name,
            "kind": s.config.kind,
            "active": name in sets.active,
            "trainable": s.trainable and name in sets.active,
            "parameters": sets.num_parameters(name),
            "modules": len(s.targets),
        }
        for name, s in sets.sets.items()
    ]
    trainable = base_trainable + sum(s["parameters"] for s in rows if s["trainable"])
    total = base_total + sum(s["parameters"] for s in rows)  # every parameter, as SpeechBrain counts
    return {
        "base_parameters": base_total,
        "base_trainable": base_trainable,
        "total_parameters": total,
        "adapter_sets": rows,
        "trainable_parameters": trainable,
        "trainable_percent": 100.0 * trainable / total,
        "percent_of_base": 100.0 * trainable / base_total,
    }


def base_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Named parameters of the base model under their checkpoint names, excluding every adapter.

    (A PEFT LoRA target holds its own weight as ``<path>.base_layer.weight``: named ``<path>.weight``.)
    """
    for name, p in model.named_parameters():
        parts = name.split(".")
        if not any(part in _ADAPTER_PARTS for part in parts):
            yield ".".join(part for part in parts if part != "base_layer"), p
