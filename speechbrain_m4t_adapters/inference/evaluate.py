"""Transcribe an ASR manifest and score it like the recipes do.

Writes ``hyp_<name>.tsv`` (``ID, language, reference, hypothesis, error`` per row), the
SpeechBrain-style alignments ``wer_<test set>.txt`` and ``wer_<test set>_cer.txt`` and
``summary.json``. A one-language manifest is test set ``name``, a multilingual one gives
``<name>_<lang>`` per language; rows that fail are not scored but counted as ``failed``.
"""

import os
from pathlib import Path
from typing import Any

from ..adapters.counting import base_parameters
from ..data.manifest import read_asr_manifest
from ..evaluation.metrics import compute_error_rates, write_alignments
from ..evaluation.summary import SUMMARY_FILENAME, write_summary
from .asr import AdapterSelection, M4TAdaptedASR
from .results import failure_report, write_tsv


def evaluate_manifest(
    asr: M4TAdaptedASR,
    manifest: str | os.PathLike,
    output_dir: str | os.PathLike,
    name: str | None = None,
    experiment: str | None = None,
    lang: str | None = None,
    adapters: AdapterSelection = None,
    progress: bool = False,
    extra: dict[str, Any] | None = None,
    **transcribe_kwargs: Any,
) -> dict:
    """Transcribe every row of ``manifest`` (an ASR manifest CSV), compute WER/CER, write the files above.

    ``name`` names the test set (default: the manifest's stem without ``test_``, as in training),
    ``experiment`` the summary (default: the used adapters' ``experiment``, else their profile
    names, or ``base``); ``lang``, ``adapters``, ``progress`` and ``transcribe_kwargs`` go to
    :meth:`M4TAdaptedASR.transcribe_files`; ``extra`` is added to the summary's ``extra``. Returns
    the summary (``extra.failed``: the failed rows); RuntimeError if every row failed."""
    manifest, output_dir = Path(manifest), Path(output_dir)
    # Training writes test set <name> as test_<name>.csv: the same set gets the same row in `report`
    name = name or manifest.stem.removeprefix("test_")
    results = asr.transcribe_files(
        read_asr_manifest(manifest), lang=lang, adapters=adapters, progress=progress, **transcribe_kwargs
    )
    fields = ((r.id, r.lang, r.reference, r.text, r.error) for r in results)  # one line per row
    rows = ([" ".join(str(v or "").split()) for v in row] for row in fields)
    write_tsv(output_dir / f"hyp_{name}.tsv", ["ID", "language", "reference", "hypothesis", "error"], rows)
    if not (scored := [r for r in results if r.ok]):
        raise RuntimeError(f"{manifest}: nothing to score\n{failure_report(results)}")
    languages = sorted({r.lang for r in scored})
    test_sets = {}
    for code in languages:
        set_name = name if len(languages) == 1 else f"{name}_{code}"
        rows = [r for r in scored if r.lang == code]
        args = ([r.id for r in rows], [r.reference or "" for r in rows], [r.text or "" for r in rows])
        metrics = compute_error_rates(*args, normalize=True, lang=code)
        write_alignments(output_dir / f"wer_{set_name}.txt", *args, normalize=True, lang=code)
        failed = sum(1 for r in results if not r.ok and (r.lang or code) == code)
        test_sets[set_name] = {"language": code, **metrics, "failed": failed}
    used_sets = sorted({s for r in scored for s in r.adapters})
    profiles = [p.name for p in asr.adapter_profiles.values() if set(p.sets) & set(used_sets)]
    details = {
        "manifest": str(manifest),
        "adapter_profiles": {p: asr.adapter_profiles[p].folder for p in profiles},
        "adapter_sets": used_sets,
        "decoding": {  # every setting that changes the hypotheses (training records the same)
            "num_beams": transcribe_kwargs.get("num_beams") or asr.num_beams,
            "max_new_tokens": transcribe_kwargs.get("max_new_tokens") or asr.max_new_tokens,
            "max_chunk_seconds": transcribe_kwargs.get("max_chunk_seconds", asr.max_chunk_seconds),
        },
        "failed": {r.id: r.error for r in results if not r.ok},
        **(extra or {}),
    }
    # Named after the experiments that trained the adapters (saved in adapters.json), not their
    # folders (always "adapters"); counts as in training: adapter parameters of base parameters.
    trained = [asr.adapter_profiles[p].metadata.get("experiment") or p for p in profiles]
    return write_summary(
        output_dir / SUMMARY_FILENAME,
        experiment or "+".join(trained) or "base",
        test_sets,
        model_source=asr.m4t.source,
        trainable_params=sum(asr.m4t.adapters.num_parameters(s) for s in used_sets),
        total_params=sum(p.numel() for _, p in base_parameters(asr.m4t.model)),
        train_time_s=None,
        extra=details,
    )
