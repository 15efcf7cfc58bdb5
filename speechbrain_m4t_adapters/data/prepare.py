"""Data preparation: corpus folders -> validated ASR manifest CSV.

Every ``prepare_*`` function takes ``save_csv`` and one :class:`PrepareOptions` (``options=``, or its
fields as keywords: ``hours=5, seed=1``), lists the candidate utterances of its corpus layout and
hands them to :func:`prepare_manifest`: an existing ``save_csv`` is reused (``overwrite=False``, as in
SpeechBrain recipes), else each candidate is validated, the ``hours`` subset drawn (:func:`select_hours`;
unselected entries are not errors; the duration limits apply to what it drew) and the manifest
(:mod:`.manifest`) and ``<stem>.skipped.tsv`` written. It returns a :class:`~.manifest.SkipReport`.

Checks, in order (the first failing one gives the reason): ``bad_row`` (malformed listing line, a row
labelled another language than the given one, segment times invalid or outside the audio),
``duplicate_id``, ``missing_audio`` / ``corrupt_audio`` / ``empty_audio`` / ``truncated_audio`` /
``nonfinite_audio`` (no file, unreadable header or with ``verify_decode=True`` undecodable, 0 samples, a
WAV shorter than its header declares, a NaN/inf sample with ``verify_decode``), ``empty_transcript``
(whitespace runs become one space) and ``too_short`` / ``too_long`` (outside the duration limits).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..progress import progress_bar
from .audio import AudioError, PathLike, audio_info, load_audio
from .indicvoices_layouts import SEGMENT_END_TOLERANCE, draw_subsets  # shared with the IndicVoices recipe
from .languages import lookup_language, to_iso639_3
from .manifest import AsrEntry, SkipReport, prepare_once, write_asr_manifest

logger = logging.getLogger(__name__)

_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of a non-UTF-8 byte
_RESPIN_FOLDERS = {"ben": "bn", "mai": "mt"}
FLEURS_COLUMNS = tuple("id file_name raw_transcription transcription phonemes num_samples gender".split())


@dataclass(frozen=True)
class PrepareOptions:
    """Settings shared by every ASR preparer.

    Durations are seconds (``max_duration=None``: no limit); ``hours`` keeps a seeded subset
    (:func:`select_hours`) after leaving out the first ``skip_hours`` of the same order (a disjoint
    held-out set); ``seed`` also seeds whatever else a preparer draws; ``overwrite`` prepares an
    existing manifest again; ``verify_decode`` fully decodes each file instead of reading its header.

    Example
    -------
    >>> PrepareOptions.from_settings(None, {"hours": 5}, "prepare_x").hours
    5
    >>> PrepareOptions.from_settings(None, {"hour": 5}, "prepare_x")
    Traceback (most recent call last):
    ...
    TypeError: prepare_x() got unexpected keyword arguments ['hour']
    """

    min_duration: float = 0.0
    max_duration: float | None = None
    hours: float | None = None
    skip_hours: float = 0.0
    seed: int = 1234
    overwrite: bool = False
    verify_decode: bool = False

    @classmethod
    def from_settings(
        cls, options: PrepareOptions | None, settings: Mapping[str, Any], caller: str
    ) -> PrepareOptions:
        """``options`` (default: the defaults) with the keyword ``settings`` of ``caller`` applied."""
        if unknown := sorted(set(settings) - set(OPTION_NAMES)):
            raise TypeError(f"{caller}() got unexpected keyword arguments {unknown}")
        return dataclasses.replace(options or cls(), **settings)


#: Field names of :class:`PrepareOptions` (keyword arguments of every ASR preparer).
OPTION_NAMES = tuple(field.name for field in dataclasses.fields(PrepareOptions))


@dataclass
class Candidate:
    """An utterance of a corpus listing before validation: ``origin`` is its ``file:line``,
    ``error`` pre-marks a malformed listing entry as ``bad_row``."""

    id: str
    wav: Path | None
    transcript: str | None
    origin: str
    start: float | None = None
    stop: float | None = None
    language: str | None = None
    error: str | None = None


def bad_row(utt: str, origin: str, error: str) -> Candidate:
    """A malformed listing entry: :func:`validate` reports it as ``bad_row`` with ``error``."""
    return Candidate(utt, None, None, origin, error=error)


class _Skip(Exception):
    """A failed check: ``reason`` is the skip reason, the message its detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason = reason


def clean_transcript(text: str | None) -> str:
    """Collapse whitespace runs to single spaces and strip the ends.

    Example
    -------
    >>> clean_transcript("  ଭଲ\\t ଅଛି\\n")
    'ଭଲ ଅଛି'
    """
    return " ".join((text or "").split())


def _checked_entry(
    cand: Candidate, language: str | None, seen: set[str], checked: dict[Path, float], options: PrepareOptions
) -> AsrEntry:
    """The manifest row of a candidate that passes every check (``language``: else the candidate's)."""
    if cand.error:
        raise _Skip("bad_row", cand.error)
    own, given = (lookup_language(x) if x else None for x in (cand.language, language))
    if own and given and own != given:  # labelled another known language: skipped, not relabelled
        raise _Skip("bad_row", f"language {cand.language!r}, not {language!r}")
    if cand.id in seen:
        raise _Skip("duplicate_id")
    seen.add(cand.id)
    wav = Path(cand.wav).resolve()
    if wav not in checked:  # cached once every check passed: segments of a bad file all fail
        seconds, rate, _ = audio_info(wav)  # also checks that a WAV is complete
        if options.verify_decode:
            load_audio(wav, target_sr=rate)
        checked[wav] = seconds
    file_duration = checked[wav]
    start, stop, duration = None, None, file_duration  # (None, None): the whole file
    if cand.start is not None or cand.stop is not None:
        start, stop = cand.start or 0.0, file_duration if cand.stop is None else cand.stop
        if not 0 <= start < stop <= file_duration + SEGMENT_END_TOLERANCE:  # also False for NaN
            raise _Skip("bad_row", f"segment [{start}, {stop}] s of a {file_duration:.3f} s file")
        stop = min(stop, file_duration)
        duration = stop - start
    text = clean_transcript(cand.transcript)
    if not text:
        raise _Skip("empty_transcript")
    if outside := _outside_limits(duration, options):
        raise _Skip(*outside)
    if not (language := language or cand.language):
        raise ValueError(f"{cand.origin}: no language given for {cand.id!r}")
    return AsrEntry(cand.id, duration, str(wav), to_iso639_3(language), text, start, stop)


def _outside_limits(duration: float, options: PrepareOptions) -> tuple[str, str] | None:
    """``(reason, detail)`` when ``duration`` (s) is outside the options' limits, else None."""
    if duration < options.min_duration:
        return "too_short", f"{duration:.3f} s"
    if options.max_duration is not None and duration > options.max_duration:
        return "too_long", f"{duration:.3f} s > {options.max_duration} s"
    return None


def without_limits(options: PrepareOptions) -> PrepareOptions:
    """``options`` without duration limits, to draw an ``hours`` subset from every usable row (the
    limits then apply to what it drew): rows the limits drop must not change the visiting order, or
    a held-out set (``skip_hours``, drawn without training limits) overlaps the training subset."""
    return dataclasses.replace(options, min_duration=0.0, max_duration=None)


def validate(
    candidates: Iterable[Candidate],
    language: str | None,
    report: SkipReport,
    options: PrepareOptions | None = None,
    origins: dict[str, str] | None = None,
) -> list[AsrEntry]:
    """The entries that pass the checks of the module docstring; counts and skips go to ``report``;
    ``language`` labels every row (else each ``Candidate.language``; one labelled another known
    language is a ``bad_row``); ``origins`` (if given) receives each kept entry's ``file:line``."""
    options = options or PrepareOptions()
    kept: list[AsrEntry] = []
    seen: set[str] = set()
    checked: dict[Path, float] = {}
    for cand in progress_bar(candidates, desc="preparing", unit="utt", leave=False):
        try:
            kept.append(_checked_entry(cand, language, seen, checked, options))
            if origins is not None:
                origins[cand.id] = cand.origin
            report.keep()
        except (_Skip, AudioError) as skip:
            report.skip(cand.id, skip.reason, cand.origin, str(skip))
    return kept


def select_hours(
    rows: Sequence[AsrEntry],
    hours: float,
    seed: int = 1234,
    speakers: Sequence[str | None] | None = None,
    skip_hours: float = 0.0,
) -> list[AsrEntry]:
    """Draw a seeded subset of ``rows`` (anything with a ``duration`` in s) of at most ``hours``.

    Drawn by :func:`~.indicvoices_layouts.draw_subsets` (in input order); ``skip_hours`` first fills
    (and leaves out) that budget: ``skip_hours=5, hours=0.5`` is disjoint from ``hours=5``.

    Example
    -------
    >>> rows = [AsrEntry(f"u{i}", 600.0, "/x.wav", "ory", "t") for i in range(10)]
    >>> picked = select_hours(rows, hours=0.5, seed=3)
    >>> len(picked), picked == select_hours(rows, hours=0.5, seed=3)
    (3, True)
    >>> held_out = select_hours(rows, hours=0.5, seed=3, skip_hours=0.5)
    >>> len(held_out), set(r.id for r in held_out) & set(r.id for r in picked)
    (3, set())
    """
    if speakers is not None and len(speakers) != len(rows):
        raise ValueError(f"{len(speakers)} speaker labels for {len(rows)} rows")
    taken = draw_subsets([row.duration for row in rows], [skip_hours, hours], seed, speakers)[1]
    return [rows[i] for i in taken]


def log_selection(name: str, chosen: Sequence[AsrEntry], total: int, options: PrepareOptions) -> None:
    """Log how much of ``total`` valid rows the ``hours`` subset kept."""
    held = f", {options.skip_hours:.2f} h held out first" if options.skip_hours else ""
    hours = sum(r.duration for r in chosen) / 3600
    message = "%s: selected %d of %d valid rows (%.2f h <= %.2f h%s, seed %d)"
    logger.info(message, name, len(chosen), total, hours, options.hours, held, options.seed)


def prepare_manifest(
    name: str,
    save_csv: PathLike,
    options: PrepareOptions,
    list_candidates: Callable[[SkipReport], Iterable[Candidate]],
    language: str | None = None,
) -> SkipReport:
    """The skeleton of every ASR preparer (module docstring); ``name`` labels the report and logs.

    ``list_candidates(report)`` runs only when the manifest is prepared and may record skips of its
    own (``missing_transcript``); ``language`` labels every row (else each candidate's own)."""

    def write(report: SkipReport) -> None:
        """Validate, draw the subset (then apply the duration limits to it), write the manifest."""
        if options.hours is None:
            rows = validate(list_candidates(report), language, report, options)
        else:
            origins: dict[str, str] = {}
            usable = validate(list_candidates(report), language, report, without_limits(options), origins)
            rows = []
            for entry in select_hours(usable, options.hours, options.seed, skip_hours=options.skip_hours):
                if outside := _outside_limits(entry.duration, options):
                    report.skip(entry.id, outside[0], origins[entry.id], outside[1])
                else:
                    rows.append(entry)
            log_selection(name, rows, len(usable), options)
            report.kept = len(rows)
        write_asr_manifest(rows, save_csv)

    return prepare_once(name, save_csv, options.overwrite, write)


class Undecodable(list):
    """A listing line that is not UTF-8: an empty row whose ``error`` names the first bad byte."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def undecodable_error(text: str) -> str | None:
    """Where ``text`` (read with ``errors='surrogateescape'``) is not UTF-8, or None.

    Example
    -------
    >>> undecodable_error(b"ok \\xff no".decode("utf-8", "surrogateescape"))
    'not UTF-8: byte 0xff at column 4'
    """
    if (found := _ESCAPED_BYTE.search(text)) is None:  # one C-level scan: listings hold millions of lines
        return None
    return f"not UTF-8: byte 0x{ord(found.group()) - 0xDC00:02x} at column {found.start() + 1}"


def read_rows(path: Path, delimiter: str, skip_blank: bool = True) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, row)`` from a CSV/TSV (quotes kept verbatim in TSV); blank lines are
    skipped unless ``skip_blank=False`` (then empty rows), a line that is not UTF-8 is an empty
    :class:`Undecodable` row (a bad row of its own, not the end of the file)."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        line = 1
        for row in reader:
            error = undecodable_error(delimiter.join(row))
            if error:
                yield line, Undecodable(error)
            elif row or not skip_blank:
                yield line, row
            line = reader.line_num + 1


def id_text_candidates(
    listing: Path, expected: str, audio: Callable[[str], Path | None], text: Callable[[str], str] = str
) -> Iterator[Candidate]:
    """Candidates of a headerless ``ID<TAB>text`` listing; ``audio(ID)`` gives each one's file. A line
    without exactly two fields, or with an empty ID, is a bad row ``expected '<expected>'``."""
    for line, row in read_rows(listing, "\t"):
        origin = f"{listing}:{line}"
        if len(row) != 2 or not row[0].strip():
            yield bad_row(row[0] if row else "", origin, getattr(row, "error", f"expected {expected!r}"))
            continue
        utt = row[0].strip()
        yield Candidate(utt, audio(utt), text(row[1]), origin)


def _header_rows(
    listing: Path, delimiter: str, needed: Sequence[str]
) -> tuple[list[str], dict[str, int], Iterator[tuple[int, list[str]]]]:
    """Header, the index of each ``needed`` column and the remaining rows of a listing."""
    rows = read_rows(listing, delimiter)
    first = next(rows, None)
    header = [h.strip() for h in first[1]] if first else []
    if missing := [c for c in needed if c not in header]:
        raise ValueError(f"{listing}:1: missing columns {missing} in header {header}")
    return header, {c: header.index(c) for c in needed}, rows


def _listing(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def prepare_respin(
    data_folder: PathLike,
    lang: str,
    save_csv: PathLike,
    audio_format: str = "wav",
    options: PrepareOptions | None = None,
    **settings: Any,
) -> SkipReport:
    """Prepare RESPIN-S1.0 (IISc SPIRE Lab) ``bn`` (Bengali) or ``mt`` (Maithili) samples::

        <data_folder>/<bn|mt>/transcripts.tsv      utt_id<TAB>transcript
        <data_folder>/<bn|mt>/<audio_format>/<utt_id>.<audio_format>   (wav or mp3)

    ``data_folder`` may also be the language folder itself. Audio files without a transcript line
    are reported as ``missing_transcript``."""
    opts = PrepareOptions.from_settings(options, settings, "prepare_respin")
    iso = to_iso639_3(lang)

    def candidates(report: SkipReport) -> list[Candidate]:
        """The transcript lines; untranscribed audio goes to ``report``."""
        root = Path(data_folder)
        folder = root / _RESPIN_FOLDERS.get(iso, lang)
        if not folder.is_dir() and (root / "transcripts.tsv").is_file():
            folder = root
        audio_dir = folder / audio_format
        listing = _listing(folder / "transcripts.tsv", "RESPIN transcripts")
        found = list(
            id_text_candidates(listing, "utt_id<TAB>transcript", lambda u: audio_dir / f"{u}.{audio_format}")
        )
        listed = {c.id for c in found if not c.error}
        for extra in sorted(p for p in audio_dir.glob(f"*.{audio_format}") if p.stem not in listed):
            report.skip(extra.stem, "missing_transcript", str(extra))
        return found

    return prepare_manifest(f"respin/{iso}", save_csv, opts, candidates, iso)


def prepare_fleurs(
    lang_dir: PathLike,
    split: str,
    save_csv: PathLike,
    language: str | None = None,
    text_field: str = "transcription",
    options: PrepareOptions | None = None,
    **settings: Any,
) -> SkipReport:
    """Prepare a FLEURS language folder (``google/fleurs`` layout, e.g. ``.../fleurs/or_in``)::

        <lang_dir>/<split>.tsv            no header, the 7 columns of FLEURS_COLUMNS
        <lang_dir>/audio/<split>/<file_name>

    ``lang_dir``'s name gives the language unless ``language`` is given; ``text_field`` is
    ``transcription`` (FLEURS-normalised) or ``raw_transcription``. The manifest ID is the file name
    without extension (FLEURS ``id`` is a sentence id shared by several speakers)."""
    opts = PrepareOptions.from_settings(options, settings, "prepare_fleurs")
    lang_dir = Path(lang_dir)
    iso = to_iso639_3(language or lang_dir.name)

    def candidates(report: SkipReport) -> Iterator[Candidate]:
        """One candidate per listing row."""
        if text_field not in ("transcription", "raw_transcription"):
            raise ValueError(f"text_field must be a FLEURS text column, got {text_field!r}")
        col = FLEURS_COLUMNS.index(text_field)
        listing = _listing(lang_dir / f"{split}.tsv", "FLEURS listing")
        for line, row in read_rows(listing, "\t"):
            origin = f"{listing}:{line}"
            if len(row) != len(FLEURS_COLUMNS) or not row[1].strip():
                error = getattr(row, "error", f"expected {len(FLEURS_COLUMNS)} columns, got {len(row)}")
                yield bad_row(row[0] if row else "", origin, error)
                continue
            file_name = row[1].strip()
            yield Candidate(Path(file_name).stem, lang_dir / "audio" / split / file_name, row[col], origin)

    return prepare_manifest(f"fleurs/{iso}/{split}", save_csv, opts, candidates, iso)


def prepare_common_voice(
    cv_dir: PathLike,
    split: str,
    save_csv: PathLike,
    language: str | None = None,
    options: PrepareOptions | None = None,
    **settings: Any,
) -> SkipReport:
    """Prepare a Mozilla Common Voice language folder (e.g. ``.../cv-corpus-17.0/or``)::

        <cv_dir>/<split>.tsv    header with at least ``path`` and ``sentence`` (client_id, locale, ...)
        <cv_dir>/clips/<path>   usually mp3

    The language is ``language``, else the ``locale`` column, else ``cv_dir``'s name. Quotes in
    sentences are kept verbatim (no CSV quote handling, as Common Voice writes it). The manifest ID
    is the clip name without extension."""
    opts = PrepareOptions.from_settings(options, settings, "prepare_common_voice")
    cv_dir = Path(cv_dir)

    def candidates(report: SkipReport) -> Iterator[Candidate]:
        """One candidate per listing row."""
        listing = _listing(cv_dir / f"{split}.tsv", "Common Voice listing")
        header, idx, rows = _header_rows(listing, "\t", ("path", "sentence"))
        i_path = idx["path"]
        i_locale = header.index("locale") if "locale" in header else None
        for line, row in rows:
            origin = f"{listing}:{line}"
            if len(row) != len(header) or not row[i_path].strip():
                error = getattr(row, "error", f"expected {len(header)} columns, got {len(row)}")
                yield bad_row(row[i_path] if len(row) > i_path else "", origin, error)
                continue
            clip = row[i_path].strip()
            locale = row[i_locale] if i_locale is not None else cv_dir.name
            text = row[idx["sentence"]]
            yield Candidate(Path(clip).stem, cv_dir / "clips" / clip, text, origin, language=locale)

    return prepare_manifest(f"common_voice/{cv_dir.name}/{split}", save_csv, opts, candidates, language)


def prepare_generic(
    listing: PathLike,
    save_csv: PathLike,
    language: str | None = None,
    path_column: str = "path",
    text_column: str = "text",
    id_column: str | None = None,
    language_column: str | None = None,
    options: PrepareOptions | None = None,
    **settings: Any,
) -> SkipReport:
    """Prepare any CSV/TSV ``listing`` with a header naming an audio path and a text column.

    ``.tsv``/``.tab`` files are tab-separated (quotes kept verbatim), others standard CSV. Relative
    audio paths are resolved against the listing's folder. The ID is ``id_column`` if given, else
    the audio file name without extension; ``language`` (else ``language_column``) labels rows."""
    opts = PrepareOptions.from_settings(options, settings, "prepare_generic")
    listing = Path(listing)

    def candidates(report: SkipReport) -> Iterator[Candidate]:
        """One candidate per listing row."""
        if language is None and language_column is None:
            raise ValueError("give language or language_column")
        delimiter = "\t" if listing.suffix.lower() in (".tsv", ".tab") else ","
        needed = [c for c in (path_column, text_column, id_column, language_column) if c]
        header, idx, rows = _header_rows(listing, delimiter, needed)
        for line, row in rows:
            origin = f"{listing}:{line}"
            if len(row) != len(header) or not row[idx[path_column]].strip():
                error = getattr(row, "error", f"expected {len(header)} fields with a path")
                yield bad_row(f"{listing.name}:{line}", origin, error)
                continue
            wav = listing.parent / row[idx[path_column]].strip()  # an absolute path stays as it is
            utt = row[idx[id_column]].strip() if id_column else wav.stem
            lang = row[idx[language_column]] if language_column else None
            yield Candidate(utt, wav, row[idx[text_column]], origin, language=lang)

    return prepare_manifest(f"generic/{listing.name}", save_csv, opts, candidates, language)
