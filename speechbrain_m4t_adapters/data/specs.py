"""Prepare datasets described in YAML: a mapping whose ``corpus`` (ASR) or ``kind`` (text pairs)
picks the preparation function, every other key being an argument of that function::

    datasets:
        train: {corpus: indicvoices, data_folder: /data/IndicVoices/odia, split: train, hours: 5}
        fleurs: {corpus: parquet, data_folder: /data/fleurs/or_in, split: test, language: ory,
                 columns: {audio: audio, text: transcription, id: id}}
    text_corpus: {kind: flores, flores_dir: /data/flores200, src: eng_Latn, tgt: ory_Orya}
"""

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path

from .indicvoices import prepare_indicvoices
from .manifest import SkipReport
from .parquet import prepare_parquet
from .prepare import OPTION_NAMES, prepare_common_voice, prepare_fleurs, prepare_generic, prepare_respin
from .synthetic import prepare_synthetic
from .text import aligned_file_pairs, flores_pairs, parallel_tsv_pairs, translated_transcript_pairs

Preparers = dict[str, Callable[..., SkipReport]]

ASR_CORPORA: Preparers = {
    "indicvoices": prepare_indicvoices,
    "respin": prepare_respin,
    "fleurs": prepare_fleurs,
    "common_voice": prepare_common_voice,
    "generic": prepare_generic,
    "parquet": prepare_parquet,
    "synthetic": prepare_synthetic,  # espeak-ng speech of FLORES dev phrases (mini-model experiments)
}
TEXT_KINDS: Preparers = {
    "translated_transcripts": translated_transcript_pairs,
    "flores": flores_pairs,
    "parallel_tsv": parallel_tsv_pairs,
    "aligned_files": aligned_file_pairs,
}


def _call(
    table: Preparers, selector: str, spec: Mapping, save_csv: str | Path, what: str, defaults: Mapping
) -> SkipReport:
    spec = dict(spec)
    name = spec.pop(selector, None)
    if name not in table:
        raise ValueError(f"{what}: {selector} {name!r} is not one of {sorted(table)}")
    func = table[name]
    accepted = set(inspect.signature(func).parameters)
    if "settings" in accepted:  # an ASR preparer: PrepareOptions' fields as keywords
        accepted = (accepted - {"options", "settings"}) | set(OPTION_NAMES)
    if unknown := sorted(set(spec) - accepted):
        raise ValueError(
            f"{what}: {sorted(unknown)} are not arguments of {func.__name__}; "
            f"it takes {sorted(accepted - {'save_csv'})}"
        )
    kwargs = {k: v for k, v in defaults.items() if k in accepted and v is not None}
    return func(save_csv=str(save_csv), **{**kwargs, **spec})


def prepare_asr_spec(spec: Mapping, save_csv: str | Path, what: str = "dataset", **defaults) -> SkipReport:
    """Write the ASR manifest ``save_csv`` for ``spec`` (``corpus`` + preparer arguments).

    ``defaults`` (e.g. ``max_duration``, ``seed``) fill arguments the spec does not set.

    Example
    -------
    >>> prepare_asr_spec({"corpus": "nope"}, "x.csv", what="train")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: train: corpus 'nope' is not one of ['common_voice', 'fleurs', ...]
    """
    return _call(ASR_CORPORA, "corpus", spec, save_csv, what, defaults)


def prepare_text_spec(
    spec: Mapping, save_csv: str | Path, what: str = "text corpus", **defaults
) -> SkipReport:
    """Write the text-pair manifest ``save_csv`` for ``spec`` (``kind`` + builder arguments)."""
    return _call(TEXT_KINDS, "kind", spec, save_csv, what, defaults)
