"""Inference: transcribe audio with SeamlessM4T and saved adapters.

* :class:`M4TAdaptedASR`: SpeechBrain-style interface (``transcribe_file``,
  ``transcribe_files``, ``transcribe_batch``, ``from_hparams``, ``from_model``).
* :mod:`.chunking`: silence-aligned cutting of long recordings.
* :mod:`.evaluate`: transcribe and score an ASR manifest.
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Names are imported on first use (PEP 562): reading one light submodule, as
# ``m4t-adapters inspect`` does, must not import torch and transformers.
_LAZY = {
    "HPARAMS_TEMPLATE": ".asr",
    "M4TAdaptedASR": ".asr",
    "pad_waveforms": ".asr",
    "chunk_bounds": ".chunking",
    "join_texts": ".chunking",
    "split_audio": ".chunking",
    "evaluate_manifest": ".evaluate",
    "AUDIO_SUFFIXES": ".inputs",
    "AudioInput": ".inputs",
    "collect_inputs": ".inputs",
    "describe_adapters": ".inspection",
    "format_description": ".inspection",
    "AdapterProfile": ".profiles",
    "AdapterProfiles": ".profiles",
    "Transcription": ".results",
    "failure_report": ".results",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
