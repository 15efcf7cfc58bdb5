"""speechbrain-m4t-adapters: parameter-efficient adaptation of SeamlessM4T for low-resource ASR.

Top-level names are imported lazily so that ``m4t-adapters --help`` and
light utilities do not pay for importing torch/transformers/speechbrain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

_LAZY = {
    "SeamlessM4T": ".model",
    "SeamlessM4TFbank": ".model",
    "M4TAdaptedASR": ".inference",
}

if TYPE_CHECKING:  # pragma: no cover
    from .inference import M4TAdaptedASR
    from .model import SeamlessM4T, SeamlessM4TFbank

__all__ = ["M4TAdaptedASR", "SeamlessM4T", "SeamlessM4TFbank", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
