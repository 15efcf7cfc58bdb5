"""Inference with SeamlessM4T and saved adapters: :class:`M4TAdaptedASR` (SpeechBrain-style),
:mod:`.evaluate` (score a manifest) and :mod:`.publish` (a hub-ready adapter folder)."""

from ..lazy import lazy_exports

# Imported on first use: ``m4t-adapters inspect`` reads .inspection alone and must not import torch.
_LAZY = {
    "M4TAdaptedASR": ".asr",
    **dict.fromkeys(["evaluate_manifest"], ".evaluate"),
    **dict.fromkeys(["AUDIO_SUFFIXES", "AudioInput", "collect_inputs"], ".inputs"),
    **dict.fromkeys(["describe_adapters", "format_description"], ".inspection"),
    **dict.fromkeys(["AdapterProfile", "AdapterProfiles"], ".profiles"),
    **dict.fromkeys(["HPARAMS_TEMPLATE", "publish_adapters"], ".publish"),
    **dict.fromkeys(["Transcription", "failure_report"], ".results"),
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
