"""Data preparation for low-resource ASR and text-only adaptation: audio loading (:mod:`.audio`),
manifests and skip reports (:mod:`.manifest`), corpus preparers (:mod:`.prepare`: RESPIN, FLEURS,
Common Voice, generic listings; :mod:`.indicvoices`; :mod:`.parquet`: parquet/Arrow tables) and text
pairs (:mod:`.text`: translated transcripts, FLORES-200, parallel text)."""

from ..lazy import lazy_exports

# Imported on first use: reading a manifest must not import torch (:mod:`.audio` does).
_LAZY = {
    name: module
    for module, names in {
        ".audio": "AudioError audio_info load_audio",
        ".indicvoices": "prepare_indicvoices",
        ".languages": "to_iso639_3",
        ".manifest": "ASR_HEADER TEXT_HEADER AsrEntry ManifestError SkipReport TextPair read_asr_manifest "
        "read_skipped read_text_manifest skipped_path write_asr_manifest write_text_manifest",
        ".parquet": "prepare_parquet",
        ".prepare": "prepare_common_voice prepare_fleurs prepare_generic prepare_respin select_hours",
        ".text": "AlignmentError aligned_file_pairs flores_pairs parallel_tsv_pairs "
        "translated_transcript_pairs",
    }.items()
    for name in names.split()
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
