"""speechbrain-m4t-adapters: parameter-efficient adaptation of SeamlessM4T for low-resource ASR."""

from .model import SeamlessM4T, SeamlessM4TFbank
from .version import __version__

__all__ = ["SeamlessM4T", "SeamlessM4TFbank", "__version__"]
