"""Text corpora for text-only adaptation (``source -> target`` pairs).

The *target* is always the language being adapted (Odia), the source the other side (English). Each
builder writes the text-pair manifest ``save_csv`` (:mod:`.manifest`, ISO 639-3 languages) and
``<manifest stem>.skipped.tsv`` (an existing ``save_csv`` is reused unless ``overwrite=True``) and
returns a :class:`~.manifest.SkipReport`. Pairs with a side that is empty after stripping
(``empty_source``/``empty_target``), not UTF-8 (``bad_row``) or over ``max_chars`` characters (YAML
``max_text_chars``: ``too_long``) are skipped with their ``file:line``. Text is otherwise verbatim:
only line terminators are removed (upstream quirks such as the CSV-style quoting of some FLORES
``ben_Beng`` lines are kept).
"""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from .audio import PathLike
from .languages import FLORES_CODES, to_iso639_3
from .manifest import (
    SkipReport,
    TextPair,
    prepare_once,
    read_asr_manifest,
    read_text_manifest,
    write_text_manifest,
)
from .prepare import Candidate, id_text_candidates, read_rows, undecodable_error
from .synthetic import BUNDLED_FLORES

logger = logging.getLogger(__name__)

#: ``(id, source, target, origin)`` of one pair before the empty-side checks.
RawPair = tuple[str, str, str, str]
#: ``list_pairs(report) -> (pairs, src_lang, tgt_lang)`` of a builder.
_Lister = Callable[[SkipReport], tuple[Iterable[RawPair], str, str]]


class AlignmentError(ValueError):
    """Two files that must be aligned line by line have different lengths."""


def _build_pairs(
    name: str, save_csv: PathLike, overwrite: bool, list_pairs: _Lister, max_chars: int | None
) -> SkipReport:
    """The skeleton of every builder: the pairs of ``list_pairs`` checked, then written."""

    def write(report: SkipReport) -> None:
        """Drop bad pairs, write the rest."""
        pairs, src_lang, tgt_lang = list_pairs(report)
        rows = []
        for pid, source, target, origin in pairs:
            longest = max(len(source), len(target))
            if error := undecodable_error(source) or undecodable_error(target):
                report.skip(pid, "bad_row", origin, error)
            elif max_chars and longest > max_chars:
                report.skip(pid, "too_long", origin, f"{longest} characters (max_text_chars: {max_chars})")
            elif not source.strip():
                report.skip(pid, "empty_source", origin)
            elif not target.strip():
                report.skip(pid, "empty_target", origin)
            else:
                rows.append(TextPair(pid, src_lang, tgt_lang, source, target))
                report.keep()
        write_text_manifest(rows, save_csv)

    return prepare_once(name, save_csv, overwrite, write, read_text_manifest)


def machine_translations_path(asr_manifest: PathLike, src_lang: str) -> Path:
    """Where machine translations of a manifest's transcripts are kept (cached apart per manifest):
    ``train.csv -> train.mt.eng.tsv``."""
    return Path(asr_manifest).with_suffix(f".mt.{to_iso639_3(src_lang)}.tsv")


def translated_transcript_pairs(
    asr_manifest: PathLike,
    translations_file: PathLike | None,
    save_csv: PathLike,
    src_lang: str = "eng",
    overwrite: bool = False,
    translation: Mapping | None = None,
    max_chars: int | None = None,
) -> SkipReport:
    """Build the paper's "translated transcript" pairs, IDs those of ``asr_manifest``.

    Each row's transcript is the TARGET (its ``language``), its translation (in ``src_lang``) the
    SOURCE. ``translations_file``: a headerless ``ID<TAB>translation`` TSV (malformed lines are
    ``bad_row``, ids without a translation ``missing_translation``, unknown ids are counted in the
    log), or None: the base model translates (:mod:`.translate`; ``translation``: the ``translation:``
    block of ``hparams/base.yaml``, ``model_source`` plus search settings) into
    :func:`machine_translations_path`, reused (also with ``overwrite=True``) while its spec is unchanged."""
    name = f"translated_transcripts/{Path(asr_manifest).stem}"

    def pairs(report: SkipReport) -> tuple[list[RawPair], str, str]:
        """Each manifest row with its translation."""
        source_file = translations_file
        if source_file is None:
            from .translate import translate_with  # loads torch/transformers only when needed

            made = machine_translations_path(asr_manifest, src_lang)
            source_file = translate_with(asr_manifest, made, src_lang, translation).path
        translations: dict[str, Candidate] = {}  # ID -> its line (transcript: the translation)
        for cand in id_text_candidates(Path(source_file), "ID<TAB>translation", lambda _: None):
            if cand.error:
                report.skip(cand.id, "bad_row", cand.origin, cand.error)
            else:
                translations[cand.id] = cand
        entries = read_asr_manifest(asr_manifest)
        found = []
        for n, entry in enumerate(entries, start=2):
            if (line := translations.get(entry.id)) is None:
                report.skip(entry.id, "missing_translation", f"{asr_manifest}:{n}")
            else:
                found.append((entry.id, line.transcript, entry.transcript, line.origin))
        if unused := len(set(translations) - {e.id for e in entries}):
            logger.info("%s: %d translations have no manifest row", name, unused)
        tgt_langs = {e.language for e in entries}
        if len(tgt_langs) > 1:
            raise ValueError(f"{asr_manifest}: mixed languages {sorted(tgt_langs)}")
        return found, to_iso639_3(src_lang), tgt_langs.pop() if tgt_langs else ""

    return _build_pairs(name, save_csv, overwrite, pairs, max_chars)


def flores_pairs(
    flores_dir: PathLike | None,
    save_csv: PathLike,
    src: str = "eng_Latn",
    tgt: str = "ory_Orya",
    splits: Sequence[str] = ("dev",),
    sentences: Sequence[int] | None = None,
    normalize: bool = False,
    overwrite: bool = False,
    max_chars: int | None = None,
) -> SkipReport:
    """Pairs of FLORES-200 files ``<flores_dir>/<split>/<lang>.<split>``, IDs ``flores_<split>_<line:04d>``.

    ``flores_dir`` holds ``dev/`` and/or ``devtest/`` (None: the bundled dev files of eng, ben, ory,
    mai); ``src``/``tgt``: FLORES-200 (``ory_Orya``) or ISO 639-3 (``ory``) codes; ``splits`` are
    concatenated; ``sentences=[start, stop]`` keeps 0-based lines ``start <= index < stop`` of each;
    ``normalize`` normalises both sides as for scoring (as the mini model was pretrained).
    :class:`AlignmentError` if a split's files differ in length.

    Example
    -------
    >>> import tempfile
    >>> csv = Path(tempfile.mkdtemp()) / "pairs.csv"
    >>> flores_pairs(None, csv, src="eng", tgt="ory", sentences=[0, 10], normalize=True).kept
    10
    """
    from ..evaluation.normalize import normalize_text

    src, tgt = (FLORES_CODES.get(code, code) for code in (src, tgt))

    def pairs(report: SkipReport) -> tuple[list[RawPair], str, str]:
        """The chosen lines of every split."""
        src_iso, tgt_iso = to_iso639_3(src), to_iso639_3(tgt)
        root = Path(flores_dir) if flores_dir is not None else BUNDLED_FLORES
        start, stop = sentences if sentences is not None else (0, None)
        if start < 0 or (stop is not None and stop < start):  # IDs and origins count from start
            raise ValueError(f"sentences must be [start, stop] with 0 <= start <= stop, got {sentences}")
        found = []
        for split in splits:
            tgt_path = root / split / f"{tgt}.{split}"
            lines = _aligned(root / split / f"{src}.{split}", tgt_path)[start:stop]
            for n, (s, t) in enumerate(lines, start=start + 1):
                if normalize:
                    s, t = normalize_text(s, src_iso), normalize_text(t, tgt_iso)
                found.append((f"flores_{split}_{n:04d}", s, t, f"{tgt_path}:{n}"))
        return found, src_iso, tgt_iso

    return _build_pairs(f"flores/{src}-{tgt}", save_csv, overwrite, pairs, max_chars)


def _aligned(src_file: PathLike, tgt_file: PathLike) -> list[tuple[str, str]]:
    lines = []
    for path in (src_file, tgt_file):  # bytes that are not UTF-8 stay visible to undecodable_error
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            lines.append([line.rstrip("\r\n") for line in f])
    src_lines, tgt_lines = lines
    if len(src_lines) != len(tgt_lines):
        raise AlignmentError(
            f"line counts differ: {src_file} has {len(src_lines)} lines, {tgt_file} has {len(tgt_lines)}"
        )
    return list(zip(src_lines, tgt_lines))


def aligned_file_pairs(
    src_file: PathLike,
    tgt_file: PathLike,
    save_csv: PathLike,
    src_lang: str,
    tgt_lang: str,
    overwrite: bool = False,
    max_chars: int | None = None,
) -> SkipReport:
    """Build pairs from two line-aligned UTF-8 files, IDs ``<tgt_file stem>_<line:06d>``.

    :class:`AlignmentError` (naming both files and their line counts) if their lengths differ."""
    stem = Path(tgt_file).stem

    def pairs(report: SkipReport) -> tuple[list[RawPair], str, str]:
        """Line ``n`` of one file with line ``n`` of the other."""
        lines = enumerate(_aligned(src_file, tgt_file), start=1)
        found = [(f"{stem}_{n:06d}", s, t, f"{tgt_file}:{n}") for n, (s, t) in lines]
        return found, to_iso639_3(src_lang), to_iso639_3(tgt_lang)

    return _build_pairs(f"aligned/{Path(tgt_file).name}", save_csv, overwrite, pairs, max_chars)


def parallel_tsv_pairs(
    tsv_file: PathLike,
    save_csv: PathLike,
    src_lang: str,
    tgt_lang: str,
    overwrite: bool = False,
    max_chars: int | None = None,
) -> SkipReport:
    """Build pairs from a headerless ``source<TAB>target`` TSV, IDs ``<file stem>_<line:06d>``.

    Quotes are kept verbatim; lines without exactly one tab are ``bad_row``."""
    stem = Path(tsv_file).stem

    def pairs(report: SkipReport) -> tuple[list[RawPair], str, str]:
        """One pair per well-formed line."""
        found = []
        for line, row in read_rows(Path(tsv_file), "\t", skip_blank=False):
            pid, origin = f"{stem}_{line:06d}", f"{tsv_file}:{line}"
            if len(row) != 2:
                error = getattr(row, "error", f"expected 2 fields, got {len(row)}")
                report.skip(pid, "bad_row", origin, error)
                continue
            found.append((pid, row[0], row[1], origin))
        return found, to_iso639_3(src_lang), to_iso639_3(tgt_lang)

    return _build_pairs(f"parallel/{Path(tsv_file).name}", save_csv, overwrite, pairs, max_chars)
