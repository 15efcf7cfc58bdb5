"""Inference: transcribe audio with SeamlessM4T and saved adapters.

* :class:`M4TAdaptedASR`: SpeechBrain-style interface (``transcribe_file``,
  ``transcribe_files``, ``transcribe_batch``, ``from_hparams``, ``from_model``).
* :mod:`.chunking`: silence-aligned cutting of long recordings.
* :mod:`.evaluate`: transcribe and score an ASR manifest.
"""

from .asr import HPARAMS_TEMPLATE, M4TAdaptedASR, pad_waveforms
from .chunking import chunk_bounds, join_texts, split_audio
from .evaluate import evaluate_manifest
from .inputs import AUDIO_SUFFIXES, AudioInput, collect_inputs
from .inspection import describe_adapters, format_description
from .profiles import AdapterProfile, AdapterProfiles
from .results import Transcription, failure_report

__all__ = [
    "AUDIO_SUFFIXES",
    "HPARAMS_TEMPLATE",
    "AdapterProfile",
    "AdapterProfiles",
    "AudioInput",
    "M4TAdaptedASR",
    "Transcription",
    "chunk_bounds",
    "collect_inputs",
    "describe_adapters",
    "evaluate_manifest",
    "failure_report",
    "format_description",
    "join_texts",
    "pad_waveforms",
    "split_audio",
]
