"""Pluggable adapters for SeamlessM4T: kinds, named sets, files.

Glossary
--------
adapter kind
    One way to adapt, one module each: ``bottleneck`` (after layers), ``finetune`` (a trainable
    copy of a component), ``lora`` (low-rank updates computed by PEFT). A kind is a subclass of
    :class:`AdapterConfig`; defining one registers it (see :mod:`.base`).
adapter set
    One named adaptation built from a kind's config (e.g. ``odia_encoder``); a model holds any
    number, attached to ``m4t.adapters`` (:class:`AdapterSets`), active or not, trainable or frozen.
targets
    Where a set goes, in every kind: stack names (bottleneck), component names or module paths
    (finetune), module-name regular expressions (LoRA).
length adaptor
    The strided layer between the speech encoder and the decoder; transformers names it
    ``speech_encoder.adapter``, which is the only place that word means it.
adapter folder
    ``adapters.safetensors`` + ``adapters.json`` written by :func:`save_adapters`.
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Imported on first use: ``m4t-adapters inspect`` reads .integrity alone and must not import torch.
_LAZY = {
    "COMPONENTS": ".base",
    "KINDS": ".base",
    "LAYER_STACKS": ".base",
    "AdapterConfig": ".base",
    "select_layers": ".base",
    "BottleneckAdapter": ".bottleneck",
    "BottleneckConfig": ".bottleneck",
    "FinetuneConfig": ".finetune",
    "LoRAConfig": ".lora",
    "export_peft": ".lora",
    "import_peft": ".lora",
    "merge_lora": ".lora",
    "unmerge_lora": ".lora",
    "AdapterMismatchError": ".io",
    "base_fingerprint": ".io",
    "load_adapters": ".io",
    "read_metadata": ".io",
    "save_adapters": ".io",
    "AdapterSet": ".sets",
    "AdapterSets": ".sets",
    "base_parameters": ".sets",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
