"""Pluggable adapters for SeamlessM4T: kinds, named sets, files.

Glossary
--------
adapter kind
    A subclass of :class:`AdapterConfig` (defining one registers it): ``bottleneck`` (after layers),
    ``finetune`` (a trainable copy of a component), ``lora`` (low-rank updates computed by PEFT).
adapter set
    One named adaptation built from a kind's config (e.g. ``odia_encoder``), attached to
    ``m4t.adapters`` (:class:`AdapterSets`), active or not, trainable or frozen.
targets
    Where a set goes: stack names (bottleneck), components or module paths (finetune), module-name
    regular expressions (LoRA).
length adaptor
    The strided layer between speech encoder and decoder (transformers' ``speech_encoder.adapter``).
adapter folder
    ``adapters.safetensors`` + ``adapters.json`` written by :func:`save_adapters`.
"""

from ..lazy import lazy_exports

# Imported on first use: ``m4t-adapters inspect`` reads .integrity alone, without torch.
_LAZY = {
    name: module
    for module, names in {
        ".base": ("COMPONENTS", "KINDS", "LAYER_STACKS", "AdapterConfig", "select_layers"),
        ".bottleneck": ("BottleneckAdapter", "BottleneckConfig"),
        ".finetune": ("FinetuneConfig",),
        ".lora": ("LoRAConfig", "export_peft", "import_peft", "merge_lora", "unmerge_lora"),
        ".io": (
            "AdapterMismatchError",
            "base_fingerprint",
            "load_adapters",
            "read_metadata",
            "save_adapters",
        ),
        ".sets": ("AdapterSet", "AdapterSets"),
        ".switching": ("SwitchableAdapterSets",),
        ".counting": ("base_parameters", "parameter_report"),
    }.items()
    for name in names
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
