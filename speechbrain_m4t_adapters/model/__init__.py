"""The SeamlessM4T model lobe: loading, features, encoding, decoding, generation."""

from .features import SeamlessM4TFbank
from .languages import LanguageMap
from .lobe import SeamlessM4T
from .speech_text_model import SeamlessM4TSpeechTextModel, SeamlessM4Tv2SpeechTextModel

__all__ = [
    "LanguageMap",
    "SeamlessM4T",
    "SeamlessM4TFbank",
    "SeamlessM4TSpeechTextModel",
    "SeamlessM4Tv2SpeechTextModel",
]
