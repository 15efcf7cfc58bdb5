"""Attach adapters to existing modules without changing their parameter names.

A module given ``after`` or ``replace`` adapters becomes a "host": its class is swapped for a
subclass whose ``forward`` runs the original (or a ``replace`` set's trainable copy), then each
active ``after`` adapter. Adapters live in the host's ``sb_adapters`` ``ModuleDict``, so base
checkpoint keys stay as in Hugging Face; host classes pickle by reference to the original class.
"""

import copy
from typing import Any

import torch
from torch import nn

ADAPTERS_ATTR = "sb_adapters"
_HOST_CLASSES: dict[type, type] = {}


def _float_dtype(module: nn.Module) -> torch.dtype | None:
    """dtype of the first floating parameter of ``module`` outside its own adapters."""
    for name, p in module.named_parameters():
        if p.is_floating_point() and not name.startswith(ADAPTERS_ATTR + "."):
            return p.dtype
    return None


def _cast(obj: Any, dtype: torch.dtype) -> Any:
    """Cast floating tensors inside (nested) args to ``dtype``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(dtype) if obj.is_floating_point() else obj
    if isinstance(obj, tuple | list):
        cast = [_cast(o, dtype) for o in obj]
        return tuple(cast) if isinstance(obj, tuple) else cast
    if isinstance(obj, dict):
        # ModelOutput and plain dicts: update values in place on a shallow copy.
        clone = copy.copy(obj)
        for key, value in obj.items():
            clone[key] = _cast(value, dtype)
        return clone
    return obj


def _first_tensor(args: tuple, kwargs: dict, floating=False) -> torch.Tensor | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and (value.is_floating_point() or not floating):
            return value
    return None


def _apply_post(adapter: nn.Module, out: Any, layer_input) -> Any:
    # transformers 5 layers return tensors; older ones returned tuples.
    if isinstance(out, tuple):
        return (adapter(out[0], layer_input),) + out[1:]
    return adapter(out, layer_input)


def _call_replacement(host: nn.Module, trained: nn.Module, args: tuple, kwargs: dict):
    """Run the trained copy in its own dtype; hand back the surrounding dtype."""
    dtype = _float_dtype(trained)
    reference = _first_tensor(args, kwargs, floating=True)
    outer = reference.dtype if reference is not None else _float_dtype(host)
    if dtype is None or outer is None or dtype == outer:
        return trained(*args, **kwargs)
    out = trained(*_cast(args, dtype), **_cast(kwargs, dtype))
    return _cast(out, outer)


def _host_forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    adapters = getattr(self, ADAPTERS_ATTR)
    if self._sb_replacement is not None:
        replacement = adapters[self._sb_replacement]
        out = _call_replacement(self, replacement, args, kwargs)
    else:
        out = type(self)._sb_base_class.forward(self, *args, **kwargs)
    layer_input = _first_tensor(args, kwargs)
    for name in self._sb_post:
        out = _apply_post(adapters[name], out, layer_input)
    return out


def _new_host(base_cls: type) -> nn.Module:
    """An empty instance of ``base_cls``'s host class (what unpickling starts from)."""
    return object.__new__(host_class(base_cls))


def _host_reduce(self: nn.Module, protocol: int) -> tuple:
    # The host class is made at run time; pickle names the original class instead.
    return (_new_host, (type(self)._sb_base_class,), self.__dict__)


def host_class(base_cls: type) -> type:
    """The hosting subclass of ``base_cls`` (created once and cached)."""
    if getattr(base_cls, "_sb_base_class", None) is not None:
        return base_cls
    if base_cls not in _HOST_CLASSES:
        attrs = {"forward": _host_forward, "__reduce_ex__": _host_reduce, "__module__": __name__}
        name = f"{base_cls.__name__}WithAdapters"
        _HOST_CLASSES[base_cls] = type(name, (base_cls,), {**attrs, "_sb_base_class": base_cls})
    return _HOST_CLASSES[base_cls]


def is_host(module: nn.Module) -> bool:
    """Whether ``module`` has been turned into an adapter host."""
    return getattr(type(module), "_sb_base_class", None) is not None


def ensure_host(module: nn.Module) -> nn.ModuleDict:
    """Turn ``module`` into a host (idempotent) and return its adapter dict."""
    if not is_host(module):
        module.__class__ = host_class(type(module))
        module.add_module(ADAPTERS_ATTR, nn.ModuleDict())
        module._sb_post = []
        module._sb_replacement = None
    return getattr(module, ADAPTERS_ATTR)


def _unhost(module: nn.Module) -> None:
    module.__class__ = type(module)._sb_base_class
    delattr(module, ADAPTERS_ATTR)
    del module._sb_post, module._sb_replacement


def release_host(module: nn.Module) -> None:
    """Give ``module`` its original class back once it holds no adapter."""
    if is_host(module) and len(getattr(module, ADAPTERS_ATTR)) == 0:
        _unhost(module)


def active_module(module: nn.Module) -> nn.Module:
    """The module that really computes ``module``'s output: its active trained copy, if any
    (code calling a module's sub-modules directly goes through this to honour fine-tuning sets)."""
    if is_host(module) and module._sb_replacement is not None:
        return getattr(module, ADAPTERS_ATTR)[module._sb_replacement]
    return module


def plain_copy(module: nn.Module) -> nn.Module:
    """Deep copy of ``module`` with every adapter host inside it stripped (adapters are never copied)."""
    memo: dict[int, Any] = {
        id(getattr(m, ADAPTERS_ATTR)): nn.ModuleDict() for m in module.modules() if is_host(m)
    }
    clone = copy.deepcopy(module, memo)
    for sub in list(clone.modules()):
        if is_host(sub):
            _unhost(sub)
    return clone
