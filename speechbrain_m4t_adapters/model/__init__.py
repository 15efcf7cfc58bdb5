"""SeamlessM4T as a SpeechBrain lobe with pluggable adapters (bottleneck adapters after layers,
trainable copies of components): the core contributed to SpeechBrain."""

from ..adapters.base import AdapterConfig
from ..adapters.bottleneck import BottleneckAdapter, BottleneckConfig
from ..adapters.finetune import FinetuneConfig
from ..adapters.sets import AdapterSets
from .features import SeamlessM4TFbank
from .languages import LanguageMap
from .lobe import SeamlessM4T
from .speech_text_model import SeamlessM4TSpeechTextModel, SeamlessM4Tv2SpeechTextModel
