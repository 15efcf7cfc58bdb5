"""speechbrain-m4t-adapters: parameter-efficient adaptation of SeamlessM4T for low-resource ASR.

Top-level names are imported lazily: ``m4t-adapters --help`` and light utilities need not import torch."""

import logging
from typing import TYPE_CHECKING

from .lazy import lazy_exports
from .version import __version__

# SpeechBrain's train logger warns on import that it cannot save figures (no torchvision): none of ours does.
logging.getLogger("speechbrain.utils.train_logger").addFilter(
    lambda record: "cannot save figures" not in record.getMessage()
)

_LAZY = {"SeamlessM4T": ".lobe", "SeamlessM4TFbank": ".model", "M4TAdaptedASR": ".inference"}

if TYPE_CHECKING:  # pragma: no cover
    from .inference import M4TAdaptedASR
    from .lobe import SeamlessM4T
    from .model import SeamlessM4TFbank

__all__ = ["M4TAdaptedASR", "SeamlessM4T", "SeamlessM4TFbank", "__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
