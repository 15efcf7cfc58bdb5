"""WER and CER with SpeechBrain's :class:`~speechbrain.utils.metric_stats.ErrorRateStats`.

WER counts the whitespace-separated words of the (normalised) text. CER is computed as SpeechBrain
recipes do (``ErrorRateStats(split_tokens=True)``): the words are joined with the space token
``"_"`` (normalisation turns ``_`` into a space, so no clash) and split into code points after
NFC, so a missing space is one deletion while repeated spaces do not count. Rates are percentages
(``100 * edits / reference tokens``) summed over all utterances, not averaged; an empty reference
adds its insertions to the numerator and nothing to the denominator.
"""

from collections.abc import Sequence
from pathlib import Path

from speechbrain.utils.metric_stats import ErrorRateStats

from .normalize import get_normalizer


def normalizer_name(normalize: bool | str) -> str:
    """``True`` -> "default", ``False`` -> "none", a name -> itself."""
    return normalize if isinstance(normalize, str) else "default" if normalize else "none"


def _error_stats(
    ids: Sequence[str], refs: Sequence[str], hyps: Sequence[str], normalize: bool | str, lang: str | None
) -> tuple[ErrorRateStats, ErrorRateStats]:
    if not (len(ids) == len(refs) == len(hyps)):
        raise ValueError(f"ids, refs and hyps differ in length: {len(ids)}, {len(refs)}, {len(hyps)}")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    normalizer = get_normalizer(normalizer_name(normalize))
    ref_words = [normalizer(r, lang).split() for r in refs]
    hyp_words = [normalizer(h, lang).split() for h in hyps]
    wer, cer = ErrorRateStats(), ErrorRateStats(split_tokens=True)
    for stats in (wer, cer):
        stats.append(list(ids), hyp_words, ref_words)
    return wer, cer


def compute_error_rates(
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    normalize: bool | str = True,
    lang: str | None = None,
) -> dict:
    """Corpus-level WER, CER and SER (percent, 2 decimals) plus edit counts of unique ``ids``.

    ``normalize`` is applied to both sides first (with ``lang``): True = "default"
    (:func:`~.normalize.normalize_text`), False = "none", or a name in
    :data:`~.normalize.NORMALIZERS` (e.g. "vistaar"); the result names it (``normalizer``).

    Example
    -------
    >>> m = compute_error_rates(["u1"], ["ଆମେ ଭଲ ଅଛୁ।"], ["ଆମେ ଅଛୁ"])
    >>> m["wer"], m["word_deletions"], m["ref_words"]
    (33.33, 1, 3)
    """
    w, c = (stats.summarize() for stats in _error_stats(ids, refs, hyps, normalize, lang))
    result = {"wer": round(w["WER"], 2), "cer": round(c["WER"], 2), "ser": round(w["SER"], 2)}
    result["num_utterances"] = len(ids)
    for unit, counts in (("word", w), ("char", c)):
        result[f"ref_{unit}s"] = counts["num_scored_tokens"]
        for edit in ("insertions", "deletions", "substitutions"):
            result[f"{unit}_{edit}"] = counts[edit]
    result["normalizer"] = normalizer_name(normalize)
    return result


def write_alignments(
    path: str | Path,
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    normalize: bool | str = True,
    lang: str | None = None,
    cer_path: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write word (``path``) and character alignments in SpeechBrain's ``wer.txt`` format.

    ``ErrorRateStats.write_stats`` writes the corpus summary, then one block per utterance.
    ``cer_path`` defaults to ``<path stem>_cer<suffix>`` next to ``path``; the other arguments
    are those of :func:`compute_error_rates`. Returns ``(wer_file, cer_file)``."""
    path = Path(path)
    cer_file = Path(cer_path) if cer_path else path.with_name(f"{path.stem}_cer{path.suffix}")
    wer, cer = _error_stats(ids, refs, hyps, normalize, lang)
    for stats, out in ((wer, path), (cer, cer_file)):
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            stats.write_stats(f)
    return path, cer_file


def scores_by_normalizer(
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    langs: Sequence[str | None],
    names: Sequence[str],
) -> dict:
    """WER/CER under further named normalisers (each utterance with its own language), as
    ``{"wer_<name>": ..., "cer_<name>": ...}`` so a summary row says which normaliser gave each.

    Example
    -------
    >>> scores_by_normalizer(["u"], ["Hello, World"], ["hello world"], ["eng"], ["none", "default"])
    {'wer_none': 100.0, 'cer_none': 25.0, 'wer_default': 0.0, 'cer_default': 0.0}
    """
    out = {}
    for name in names:
        normalizer = get_normalizer(name)
        n_refs = [normalizer(r, lang) for r, lang in zip(refs, langs)]
        n_hyps = [normalizer(h, lang) for h, lang in zip(hyps, langs)]
        scored = compute_error_rates(ids, n_refs, n_hyps, normalize="none")
        out |= {f"wer_{name}": scored["wer"], f"cer_{name}": scored["cer"]}
    return out
