"""Data preparation for low-resource ASR and text-only adaptation.

* :mod:`.audio`: robust audio loading (:func:`load_audio`, :func:`audio_info`).
* :mod:`.manifest`: ASR / text-pair manifest CSVs and :class:`SkipReport`.
* :mod:`.prepare`: RESPIN, FLEURS, Common Voice and generic listings.
* :mod:`.indicvoices`: AI4Bharat IndicVoices layouts (incl. the hub parquet release).
* :mod:`.parquet`: parquet/Arrow tables with a column map (hub datasets, ``datasets`` folders).
* :mod:`.text`: text pairs (translated transcripts, FLORES-200, parallel text).
"""

from .audio import AudioError, audio_info, load_audio
from .indicvoices import prepare_indicvoices
from .languages import to_iso639_3
from .manifest import (
    ASR_HEADER,
    TEXT_HEADER,
    AsrEntry,
    ManifestError,
    SkipReport,
    TextPair,
    read_asr_manifest,
    read_skipped,
    read_text_manifest,
    skipped_path,
    write_asr_manifest,
    write_text_manifest,
)
from .parquet import prepare_parquet
from .prepare import (
    prepare_common_voice,
    prepare_fleurs,
    prepare_generic,
    prepare_respin,
    select_hours,
)
from .text import (
    AlignmentError,
    aligned_file_pairs,
    flores_pairs,
    parallel_tsv_pairs,
    translated_transcript_pairs,
)

__all__ = [
    "ASR_HEADER",
    "TEXT_HEADER",
    "AlignmentError",
    "AsrEntry",
    "AudioError",
    "ManifestError",
    "SkipReport",
    "TextPair",
    "aligned_file_pairs",
    "audio_info",
    "flores_pairs",
    "load_audio",
    "parallel_tsv_pairs",
    "prepare_common_voice",
    "prepare_fleurs",
    "prepare_generic",
    "prepare_indicvoices",
    "prepare_parquet",
    "prepare_respin",
    "read_asr_manifest",
    "read_skipped",
    "read_text_manifest",
    "select_hours",
    "skipped_path",
    "to_iso639_3",
    "translated_transcript_pairs",
    "write_asr_manifest",
    "write_text_manifest",
]
