"""WER and CER with SpeechBrain's :class:`~speechbrain.utils.metric_stats.ErrorRateStats`.

* **WER**: words are the whitespace-separated tokens of the (normalised)
  text.
* **CER**: computed as SpeechBrain recipes do with
  ``ErrorRateStats(split_tokens=True)``: the word list is joined with the
  space token ``"_"`` and split into characters, so word boundaries count as
  characters (a missing space is one deletion) while leading/trailing and
  repeated spaces do not. Characters are Unicode code points after NFC, so
  an Indic vowel sign or virama is a character of its own.
  Normalisation turns ``_`` into a space, so it cannot clash with the
  boundary token.

Rates are percentages (``100 * edits / reference tokens``), summed over all
utterances (not averaged per utterance). An utterance with an empty
reference contributes its insertions to the numerator and nothing to the
denominator.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from speechbrain.utils.metric_stats import ErrorRateStats

from .normalize import normalize_text


def _error_stats(
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    normalize: bool,
    lang: str | None,
) -> tuple[ErrorRateStats, ErrorRateStats]:
    if not (len(ids) == len(refs) == len(hyps)):
        raise ValueError(f"ids, refs and hyps differ in length: {len(ids)}, {len(refs)}, {len(hyps)}")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    prep = (lambda t: normalize_text(t, lang)) if normalize else (lambda t: t)
    ref_words = [prep(r).split() for r in refs]
    hyp_words = [prep(h).split() for h in hyps]
    wer = ErrorRateStats()
    cer = ErrorRateStats(split_tokens=True)
    wer.append(list(ids), hyp_words, ref_words)
    cer.append(list(ids), hyp_words, ref_words)
    return wer, cer


def compute_error_rates(
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    normalize: bool = True,
    lang: str | None = None,
) -> dict:
    """Corpus-level WER and CER plus edit counts.

    Arguments
    ---------
    ids : sequence of str
        Unique utterance ids.
    refs, hyps : sequence of str
        Reference and hypothesis transcripts, aligned with ``ids``.
    normalize : bool
        Apply :func:`~.normalize.normalize_text` to both sides first.
    lang : str, optional
        Passed to the normaliser.

    Returns
    -------
    dict
        ``wer``, ``cer`` (percent, rounded to 2 decimals);
        ``word_insertions``, ``word_deletions``, ``word_substitutions``,
        ``ref_words``; ``char_insertions``, ``char_deletions``,
        ``char_substitutions``, ``ref_chars``; ``num_utterances``;
        ``ser`` (sentence error rate, percent).

    Example
    -------
    >>> m = compute_error_rates(["u1"], ["ଆମେ ଭଲ ଅଛୁ।"], ["ଆମେ ଅଛୁ"])
    >>> m["wer"], m["word_deletions"], m["ref_words"]
    (33.33, 1, 3)
    """
    wer, cer = _error_stats(ids, refs, hyps, normalize, lang)
    w, c = wer.summarize(), cer.summarize()
    return {
        "wer": round(w["WER"], 2),
        "cer": round(c["WER"], 2),
        "ser": round(w["SER"], 2),
        "num_utterances": len(ids),
        "ref_words": w["num_scored_tokens"],
        "word_insertions": w["insertions"],
        "word_deletions": w["deletions"],
        "word_substitutions": w["substitutions"],
        "ref_chars": c["num_scored_tokens"],
        "char_insertions": c["insertions"],
        "char_deletions": c["deletions"],
        "char_substitutions": c["substitutions"],
    }


def write_alignments(
    path: str | Path,
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    normalize: bool = True,
    lang: str | None = None,
    cer_path: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write per-utterance alignments in SpeechBrain's ``wer.txt`` format.

    Each file starts with the corpus summary followed by one block per
    utterance (id, error counts, aligned REF/HYP tokens), as written by
    ``ErrorRateStats.write_stats``.

    Arguments
    ---------
    path : path-like
        Word-level alignment file (e.g. ``wer_test.txt``).
    ids, refs, hyps, normalize, lang
        As in :func:`compute_error_rates`.
    cer_path : path-like, optional
        Character-level alignment file; default ``<path stem>_cer<suffix>``
        next to ``path``.

    Returns
    -------
    tuple of Path
        ``(wer_file, cer_file)``.
    """
    path = Path(path)
    cer_file = Path(cer_path) if cer_path else path.with_name(f"{path.stem}_cer{path.suffix}")
    wer, cer = _error_stats(ids, refs, hyps, normalize, lang)
    for stats, out in ((wer, path), (cer, cer_file)):
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            stats.write_stats(f)
    return path, cer_file
