"""Transcribe an ASR manifest and score it like the recipes do.

Writes into ``output_dir``:

* ``hyp_<name>.tsv``: ``ID, language, reference, hypothesis, error`` per row;
* ``wer_<test set>.txt`` and ``wer_<test set>_cer.txt``: SpeechBrain-style
  alignments (:func:`~speechbrain_m4t_adapters.evaluation.metrics.write_alignments`);
* ``summary.json`` (:func:`~speechbrain_m4t_adapters.evaluation.summary.write_summary`).

A manifest in one language is one test set called ``name``; a multilingual
one gives one test set per language, ``<name>_<lang>``. Rows whose audio
fails are left out of the scores and counted as ``failed`` in the metrics.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..adapters.sets import base_parameters
from ..data.manifest import read_asr_manifest
from ..evaluation.metrics import compute_error_rates, write_alignments
from ..evaluation.summary import SUMMARY_FILENAME, write_summary
from .asr import AdapterSelection, M4TAdaptedASR
from .results import Transcription, failure_report


def write_hypotheses(path: str | os.PathLike, results: Sequence[Transcription]) -> Path:
    """Write ``ID, language, reference, hypothesis, error`` as TSV (one line per row)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["ID", "language", "reference", "hypothesis", "error"])
        for r in results:
            row = [r.id, r.lang or "", r.reference or "", r.text or "", r.error or ""]
            writer.writerow([" ".join(str(v).split()) for v in row])
    return path


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

    ``name`` is the test set's (default: the manifest's stem without ``test_``, as training names
    it); ``experiment`` the summary's (default: the ``experiment`` in the used adapters'
    ``adapters.json``, else their profile names, or ``base``). ``lang``, ``adapters``, ``progress``
    and ``transcribe_kwargs`` go to :meth:`M4TAdaptedASR.transcribe_files`; ``extra`` is added to
    the summary's ``extra``. Returns the summary written (``extra.failed`` lists the failed rows);
    raises RuntimeError listing why if every row failed (nothing to score).
    """
    manifest = Path(manifest)
    # Training writes test set <name> as test_<name>.csv: the same set gets the same row in `report`
    name = name or manifest.stem.removeprefix("test_")
    output_dir = Path(output_dir)
    entries = read_asr_manifest(manifest)
    results = asr.transcribe_files(
        entries, lang=lang, adapters=adapters, progress=progress, **transcribe_kwargs
    )
    write_hypotheses(output_dir / f"hyp_{name}.tsv", results)
    scored = [r for r in results if r.ok]
    if not scored:
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
    adapter_params = sum(asr.m4t.adapters.num_parameters(s) for s in used_sets)
    base_params = sum(p.numel() for _, p in base_parameters(asr.m4t.model))
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
        trainable_params=adapter_params,
        total_params=base_params,
        train_time_s=None,
        extra=details,
    )
