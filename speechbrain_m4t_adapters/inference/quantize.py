"""Int8 dynamic quantisation (``torch.ao.quantization.quantize_dynamic``) of the base's ``nn.Linear``
layers for CPU inference; adapters (under ``sb_adapters``, swapped LoRA hosts) stay float and still
switch on and off. Speed and accuracy: ``benchmarks/bench_cpu_inference.py``."""

import warnings

import torch
from torch import nn

from ..adapters.hosting import ADAPTERS_ATTR

#: ``quantize`` values and the parts of the model each one quantises.
SCOPES = {"int8": ("speech_encoder", "text_decoder", "lm_head"), "int8-encoder": ("speech_encoder",)}


def quantizable_linears(model: nn.Module, parts: tuple[str, ...]) -> list[str]:
    """Names of the plain ``nn.Linear`` layers of the base inside ``parts``.

    Example
    -------
    >>> net = nn.ModuleDict({"speech_encoder": nn.Sequential(nn.Linear(4, 4), nn.ReLU())})
    >>> quantizable_linears(net, ("speech_encoder",))
    ['speech_encoder.0']
    """
    names = []
    for name, module in model.named_modules():
        inside = any(name == part or name.startswith(part + ".") for part in parts)
        if inside and type(module) is nn.Linear and ADAPTERS_ATTR not in name.split("."):
            names.append(name)
    return names


def quantize_base(model: nn.Module, scope: str = "int8") -> int:
    """Quantise the base's linear layers in place for CPU inference; returns how many.

    Arguments
    ---------
    model : nn.Module
        The transformers SeamlessM4T model (``SeamlessM4T.model``), on CPU, float32.
    scope : str
        A key of :data:`SCOPES`.

    Example
    -------
    >>> net = nn.ModuleDict({"speech_encoder": nn.Sequential(nn.Linear(4, 4))})
    >>> quantize_base(net), type(net["speech_encoder"][0]).__name__
    (1, 'Linear')
    """
    if scope not in SCOPES:
        raise ValueError(f"quantize: {scope!r} is not one of {sorted(SCOPES)}")
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in model.parameters()):
        raise ValueError("quantize: int8 dynamic quantisation needs a float32 model on CPU")
    names = quantizable_linears(model, SCOPES[scope])
    with warnings.catch_warnings():  # torch.ao's deprecation notice, raised on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        quantize_dynamic(model, dict.fromkeys(names, default_dynamic_qconfig), inplace=True)
    return len(names)


def quantize_lobe(m4t: nn.Module, scope: str = "int8") -> int:
    """:func:`quantize_base` on a :class:`~speechbrain_m4t_adapters.SeamlessM4T` lobe, and
    float32 features; returns how many linear layers were quantised.

    Example
    -------
    >>> from speechbrain_m4t_adapters.model.features import SeamlessM4TFbank
    >>> lobe = nn.Module()  # stands in for the lobe: its ``model`` and ``fbank``
    >>> lobe.model, lobe.fbank = nn.ModuleDict({"speech_encoder": nn.Linear(4, 4)}), SeamlessM4TFbank()
    >>> quantize_lobe(lobe, "int8-encoder"), lobe.fbank.precision
    (1, torch.float32)
    """
    count = quantize_base(m4t.model, scope)
    m4t.fbank.precision = torch.float32
    return count
