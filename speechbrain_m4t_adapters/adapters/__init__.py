"""Pluggable adapters for SeamlessM4T: configs, layers, named sets, files."""

from .config import COMPONENTS, LAYER_STACKS, AdapterConfig, BottleneckConfig, FinetuneConfig, LoRAConfig
from .io import AdapterMismatchError, base_fingerprint, load_adapters, read_metadata, save_adapters
from .merging import merge_lora, unmerge_lora
from .modules import BottleneckAdapter, LoRA
from .peft_interop import export_peft, import_peft
from .sets import AdapterSet, AdapterSets, base_parameters, select_layers

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
