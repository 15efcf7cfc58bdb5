"""SeamlessM4T as a SpeechBrain lobe with pluggable adapters: loading, features, encoding, decoding,
generation, and the adapter kinds (bottleneck adapters after layers, trainable copies of components).

These modules import only each other and the adapter kinds: the smallest core that adapts
SeamlessM4T within a SpeechBrain recipe.
"""

from ..adapters.base import AdapterConfig
from ..adapters.bottleneck import BottleneckAdapter, BottleneckConfig
from ..adapters.finetune import FinetuneConfig
from ..adapters.sets import AdapterSets
from .features import SeamlessM4TFbank
from .languages import LanguageMap
from .lobe import SeamlessM4T
from .speech_text_model import SeamlessM4TSpeechTextModel, SeamlessM4Tv2SpeechTextModel

__all__ = [
    "AdapterConfig",
    "AdapterSets",
    "BottleneckAdapter",
    "BottleneckConfig",
    "FinetuneConfig",
    "LanguageMap",
    "SeamlessM4T",
    "SeamlessM4TFbank",
    "SeamlessM4TSpeechTextModel",
    "SeamlessM4Tv2SpeechTextModel",
]
