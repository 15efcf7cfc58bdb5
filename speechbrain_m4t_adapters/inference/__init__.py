"""Inference: transcribe audio with SeamlessM4T and saved adapters.

* :class:`M4TAdaptedASR`: SpeechBrain-style interface (``transcribe_file``,
  ``transcribe_files``, ``transcribe_batch``, ``from_hparams``, ``from_model``).
* :mod:`.evaluate`: transcribe and score an ASR manifest.
* :mod:`.publish`: a hub-ready folder (``hyperparams.yaml`` + model card) from saved adapters.
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Imported on first use: ``m4t-adapters inspect`` reads .inspection alone and must not import torch.
_LAZY = {
    "HPARAMS_TEMPLATE": ".asr",
    "M4TAdaptedASR": ".asr",
    "evaluate_manifest": ".evaluate",
    "AUDIO_SUFFIXES": ".inputs",
    "AudioInput": ".inputs",
    "collect_inputs": ".inputs",
    "describe_adapters": ".inspection",
    "format_description": ".inspection",
    "AdapterProfile": ".profiles",
    "AdapterProfiles": ".profiles",
    "publish_adapters": ".publish",
    "Transcription": ".results",
    "failure_report": ".results",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
