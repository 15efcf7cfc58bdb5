"""Pluggable adapters for SeamlessM4T: configs, layers, named sets, files."""

from __future__ import annotations

from ..lazy import lazy_exports

# Names are imported on first use (PEP 562): reading one light submodule, as
# ``m4t-adapters inspect`` does, must not import torch and transformers.
_LAZY = {
    "COMPONENTS": ".config",
    "LAYER_STACKS": ".config",
    "AdapterConfig": ".config",
    "BottleneckConfig": ".config",
    "FinetuneConfig": ".config",
    "LoRAConfig": ".config",
    "AdapterMismatchError": ".io",
    "base_fingerprint": ".io",
    "load_adapters": ".io",
    "read_metadata": ".io",
    "save_adapters": ".io",
    "BottleneckAdapter": ".modules",
    "LoRA": ".modules",
    "AdapterSet": ".sets",
    "AdapterSets": ".sets",
    "base_parameters": ".sets",
    "select_layers": ".sets",
    "merge_lora": ".merging",
    "unmerge_lora": ".merging",
    "export_peft": ".peft_interop",
    "import_peft": ".peft_interop",
}

__all__ = [
    "COMPONENTS",
    "LAYER_STACKS",
    "AdapterConfig",
    "AdapterMismatchError",
    "AdapterSet",
    "AdapterSets",
    "BottleneckAdapter",
    "BottleneckConfig",
    "FinetuneConfig",
    "LoRA",
    "LoRAConfig",
    "base_fingerprint",
    "base_parameters",
    "export_peft",
    "import_peft",
    "load_adapters",
    "merge_lora",
    "read_metadata",
    "save_adapters",
    "select_layers",
    "unmerge_lora",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
