"""Pluggable adapters for SeamlessM4T: configs, layers, named sets, files."""

from .config import COMPONENTS, LAYER_STACKS, AdapterConfig, BottleneckConfig, FinetuneConfig, LoRAConfig
from .io import AdapterMismatchError, base_fingerprint, load_adapters, read_metadata, save_adapters
from .modules import BottleneckAdapter, LoRA
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
    "load_adapters",
    "read_metadata",
    "save_adapters",
    "select_layers",
]
