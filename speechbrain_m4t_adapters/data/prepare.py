"""Data preparation: corpus folders -> validated ASR manifest CSV.

Every ``prepare_*`` function lists candidate utterances from a corpus layout,
validates each of them and writes the manifest (format in
:mod:`speechbrain_m4t_adapters.data.manifest`). It returns a
:class:`~speechbrain_m4t_adapters.data.manifest.SkipReport` and writes the
skipped ids to ``<manifest stem>.skipped.tsv`` next to the manifest.

Validation, in this order (the first failing check gives the reason):

1. ``bad_row``: malformed line in an input listing, or a segment whose
   times are invalid or outside the audio;
2. ``duplicate_id``: an id already seen in this manifest;
3. ``missing_audio`` / ``corrupt_audio`` / ``empty_audio`` /
   ``truncated_audio`` / ``nonfinite_audio``: the file does not exist, its
   header cannot be read (or, with ``verify_decode=True``, it cannot be
   decoded), it has 0 samples, it is a WAV holding fewer sample bytes than
   its header declares, or (with ``verify_decode=True``) a sample is NaN or
   infinite;
4. ``empty_transcript``: nothing left after stripping whitespace;
5. ``too_short`` / ``too_long``: duration outside
   ``[min_duration, max_duration]``.

Transcripts are kept verbatim except that runs of whitespace (including tabs
and newlines) become one space. Then, if ``hours`` is given, a seeded subset
is drawn with :func:`select_hours` (unselected entries are not errors; their
number is logged). With ``overwrite=False`` an existing manifest is reused
and nothing is recomputed, as in SpeechBrain recipes.
"""

from __future__ import annotations

import csv
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..progress import progress_bar
from .audio import AudioError, PathLike, audio_info, check_wav_complete, load_audio
from .languages import to_iso639_3
from .manifest import (
    AsrEntry,
    SkipReport,
    read_asr_manifest,
    write_asr_manifest,
)

logger = logging.getLogger(__name__)

#: Tolerance (s) for segment ends slightly past the end of the file.
SEGMENT_END_TOLERANCE = 0.1


@dataclass
class Candidate:
    """An utterance found in a corpus listing, before validation.

    ``origin`` says where it was found (``file:line``) for the skip report;
    ``error`` pre-marks a malformed listing entry as ``bad_row``.
    """

    id: str
    wav: Path | None
    transcript: str | None
    origin: str
    start: float | None = None
    stop: float | None = None
    language: str | None = None
    error: str | None = None


def clean_transcript(text: str | None) -> str:
    """Collapse whitespace runs to single spaces and strip the ends.

    Example
    -------
    >>> clean_transcript("  ଭଲ\\t ଅଛି\\n")
    'ଭଲ ଅଛି'
    """
    return " ".join((text or "").split())


def validate(
    candidates: Iterable[Candidate],
    language: str | None,
    report: SkipReport,
    min_duration: float = 0.0,
    max_duration: float | None = None,
    verify_decode: bool = False,
) -> list[AsrEntry]:
    """Check candidates (see module docstring) and return the kept entries.

    Arguments
    ---------
    candidates : iterable of Candidate
        Entries to check.
    language : str, optional
        Language label for all rows; falls back to ``Candidate.language``.
    report : SkipReport
        Receives kept counts and skipped entries.
    min_duration, max_duration : float
        Duration limits in seconds (``max_duration=None``: no upper limit).
    verify_decode : bool
        Fully decode each file instead of reading the header only (slower,
        also catches files that are truncated after a valid header).

    Returns
    -------
    list of AsrEntry
    """
    kept: list[AsrEntry] = []
    seen: set[str] = set()
    info_cache: dict[Path, tuple[float, int, int]] = {}
    for cand in progress_bar(candidates, desc="preparing", unit="utt", leave=False):
        if cand.error:
            report.skip(cand.id, "bad_row", cand.origin, cand.error)
            continue
        if cand.id in seen:
            report.skip(cand.id, "duplicate_id", cand.origin)
            continue
        seen.add(cand.id)
        try:
            wav = Path(cand.wav).resolve()
            if wav not in info_cache:
                # Cached only once every check passed: segments of a bad file all fail.
                info = audio_info(wav)
                check_wav_complete(wav)
                if verify_decode:
                    load_audio(wav, target_sr=info[1])
                info_cache[wav] = info
            file_duration = info_cache[wav][0]
        except AudioError as exc:
            report.skip(cand.id, exc.reason, cand.origin, str(exc))
            continue
        duration, segment = file_duration, None
        if cand.start is not None or cand.stop is not None:
            start = cand.start or 0.0
            stop = file_duration if cand.stop is None else cand.stop
            if start < 0 or stop <= start or stop > file_duration + SEGMENT_END_TOLERANCE:
                detail = f"segment [{start}, {stop}] s of a {file_duration:.3f} s file"
                report.skip(cand.id, "bad_row", cand.origin, detail)
                continue
            segment = (start, min(stop, file_duration))
            duration = segment[1] - segment[0]
        text = clean_transcript(cand.transcript)
        if not text:
            report.skip(cand.id, "empty_transcript", cand.origin)
            continue
        if duration < min_duration:
            report.skip(cand.id, "too_short", cand.origin, f"{duration:.3f} s")
            continue
        if max_duration is not None and duration > max_duration:
            report.skip(cand.id, "too_long", cand.origin, f"{duration:.3f} s > {max_duration} s")
            continue
        lang = language or cand.language
        if not lang:
            raise ValueError(f"{cand.origin}: no language given for {cand.id!r}")
        entry = AsrEntry(cand.id, duration, str(wav), to_iso639_3(lang), text)
        if segment is not None:
            entry.start, entry.stop = segment
        kept.append(entry)
        report.keep()
    return kept


def selection_order(n: int, seed: int = 1234, speakers: Sequence[str | None] | None = None) -> list[int]:
    """Seeded visiting order of ``n`` rows for :func:`select_hours`.

    Without ``speakers`` it is a seeded shuffle. With them it is
    speaker-aware: speakers (in a seeded order) take turns, each giving its
    next utterance (in a seeded order), so a budget is spread over as many
    speakers as possible instead of following the few who talk most. Rows
    without a speaker label count as speakers of their own.

    Example
    -------
    >>> order = selection_order(4, seed=0, speakers=["a", "a", "a", "b"])
    >>> sorted(order), order.index(3) <= 1      # "b" gets a turn in round one
    ([0, 1, 2, 3], True)
    """
    rng = random.Random(seed)
    if speakers is None:
        order = list(range(n))
        rng.shuffle(order)
        return order
    groups: dict[str, list[int]] = {}
    for i, spk in enumerate(speakers):
        groups.setdefault(f"spk:{spk}" if spk else f"row:{i}", []).append(i)
    keys = sorted(groups)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    depth = max((len(g) for g in groups.values()), default=0)
    return [groups[k][r] for r in range(depth) for k in keys if r < len(groups[k])]


def select_hours(
    rows: Sequence[AsrEntry],
    hours: float,
    seed: int = 1234,
    speakers: Sequence[str | None] | None = None,
    skip_hours: float = 0.0,
) -> list[AsrEntry]:
    """Draw a random subset of at most ``hours`` of audio, deterministically.

    Rows are visited in the order of :func:`selection_order` and added while
    they fit in the budget (rows that would overflow it are passed over, so
    shorter ones may still fill the remainder). The result keeps the input
    order.

    Arguments
    ---------
    rows : sequence of AsrEntry
        Candidate rows (anything with a ``duration`` in seconds).
    hours : float
        Budget; the selected total duration is ``<= hours * 3600``.
    seed : int
        Seed of the private random generator (global RNG state is untouched).
    speakers : sequence of str, optional
        Speaker label per row: speaker-aware order (see :func:`selection_order`).
    skip_hours : float
        First fill (and leave out) this budget with the same order, then draw
        ``hours`` from the rest: with the same seed, ``skip_hours=5,
        hours=0.5`` gives a held-out set disjoint from the ``hours=5`` subset.

    Returns
    -------
    list of AsrEntry

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
    order = selection_order(len(rows), seed, speakers)
    taken: set[int] = set()
    for budget in (skip_hours * 3600.0, hours * 3600.0):
        order = [i for i in order if i not in taken]  # the skipped fill is left out
        taken, total = set(), 0.0
        for i in order:
            if total + rows[i].duration <= budget:
                taken.add(i)
                total += rows[i].duration
    return [row for i, row in enumerate(rows) if i in taken]


def finalize(
    candidates: Iterable[Candidate],
    save_csv: PathLike,
    report: SkipReport,
    language: str | None,
    min_duration: float = 0.0,
    max_duration: float | None = None,
    hours: float | None = None,
    seed: int = 1234,
    verify_decode: bool = False,
    skip_hours: float = 0.0,
) -> SkipReport:
    """Validate candidates, optionally subsample, write manifest + skip list."""
    rows = validate(candidates, language, report, min_duration, max_duration, verify_decode)
    if hours is not None:
        total = len(rows)
        rows = select_hours(rows, hours, seed, skip_hours=skip_hours)
        secs = sum(r.duration for r in rows)
        logger.info(
            "%s: selected %d of %d valid rows (%.2f h <= %.2f h, seed %d)",
            report.name,
            len(rows),
            total,
            secs / 3600,
            hours,
            seed,
        )
        report.kept = len(rows)
    write_asr_manifest(rows, save_csv)
    report.finish(save_csv)
    return report


def reuse_existing(save_csv: PathLike, overwrite: bool, name: str) -> SkipReport | None:
    """Return a report for an existing manifest that must not be rebuilt."""
    if overwrite or not Path(save_csv).is_file():
        return None
    report = SkipReport(name, kept=len(read_asr_manifest(save_csv)), reused=True)
    logger.info("%s: %s exists, skipping preparation (overwrite=False)", name, save_csv)
    return report


def read_rows(path: Path, delimiter: str, skip_blank: bool = True):
    """Yield ``(line_number, row)`` from a CSV/TSV (quotes kept verbatim in TSV).

    Blank lines are not entries of a listing and are skipped unless
    ``skip_blank=False`` (then they come as empty rows).
    """
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        line = 1
        for row in reader:
            if row or not skip_blank:
                yield line, row
            line = reader.line_num + 1


# --------------------------------------------------------------------------
# RESPIN
# --------------------------------------------------------------------------

_RESPIN_FOLDERS = {"ben": "bn", "mai": "mt"}


def prepare_respin(
    data_folder: PathLike,
    lang: str,
    save_csv: PathLike,
    audio_format: str = "wav",
    min_duration: float = 0.0,
    max_duration: float | None = None,
    hours: float | None = None,
    seed: int = 1234,
    overwrite: bool = False,
    verify_decode: bool = False,
) -> SkipReport:
    """Prepare RESPIN-S1.0 samples (IISc SPIRE Lab) in the layout::

        <data_folder>/<bn|mt>/transcripts.tsv      utt_id<TAB>transcript
        <data_folder>/<bn|mt>/<audio_format>/<utt_id>.<audio_format>

    Audio files without a transcript line are reported as
    ``missing_transcript``.

    Arguments
    ---------
    data_folder : path-like
        Folder holding the ``bn``/``mt`` sub-folders (or one of them).
    lang : str
        ``bn``/``ben`` (Bengali) or ``mt``/``mai`` (Maithili).
    save_csv : path-like
        Output manifest.
    audio_format : str
        ``"wav"`` or ``"mp3"`` (sub-folder and extension).
    min_duration, max_duration, hours, seed, overwrite, verify_decode
        See :func:`finalize` and the module docstring.

    Returns
    -------
    SkipReport
    """
    iso = to_iso639_3(lang)
    name = f"respin/{iso}"
    reused = reuse_existing(save_csv, overwrite, name)
    if reused:
        return reused
    root = Path(data_folder)
    folder = root / _RESPIN_FOLDERS.get(iso, lang)
    if not folder.is_dir() and (root / "transcripts.tsv").is_file():
        folder = root
    listing = folder / "transcripts.tsv"
    if not listing.is_file():
        raise FileNotFoundError(f"RESPIN transcripts not found: {listing}")
    audio_dir = folder / audio_format
    candidates: list[Candidate] = []
    listed: set[str] = set()
    for line, row in read_rows(listing, "\t"):
        origin = f"{listing}:{line}"
        if len(row) != 2 or not row[0].strip():
            candidates.append(
                Candidate(
                    row[0] if row else "",
                    None,
                    None,
                    origin,
                    error="expected 'utt_id<TAB>transcript'",
                )
            )
            continue
        utt = row[0].strip()
        listed.add(utt)
        candidates.append(Candidate(utt, audio_dir / f"{utt}.{audio_format}", row[1], origin))
    report = SkipReport(name)
    for extra in sorted(audio_dir.glob(f"*.{audio_format}")):
        if extra.stem not in listed:
            report.skip(extra.stem, "missing_transcript", str(extra))
    return finalize(
        candidates,
        save_csv,
        report,
        iso,
        min_duration,
        max_duration,
        hours,
        seed,
        verify_decode,
    )


# --------------------------------------------------------------------------
# FLEURS
# --------------------------------------------------------------------------

FLEURS_COLUMNS = (
    "id",
    "file_name",
    "raw_transcription",
    "transcription",
    "phonemes",
    "num_samples",
    "gender",
)


def prepare_fleurs(
    lang_dir: PathLike,
    split: str,
    save_csv: PathLike,
    language: str | None = None,
    text_field: str = "transcription",
    min_duration: float = 0.0,
    max_duration: float | None = None,
    hours: float | None = None,
    seed: int = 1234,
    overwrite: bool = False,
    verify_decode: bool = False,
) -> SkipReport:
    """Prepare a FLEURS language folder (``google/fleurs`` release layout)::

        <lang_dir>/<split>.tsv            no header, 7 tab-separated columns:
            id, file_name, raw_transcription, transcription, phonemes,
            num_samples, gender
        <lang_dir>/audio/<split>/<file_name>

    The manifest ID is the file name without extension (FLEURS ``id`` is a
    sentence id shared by several speakers).

    Arguments
    ---------
    lang_dir : path-like
        E.g. ``.../fleurs/or_in``; its name gives the language if
        ``language`` is None.
    split : str
        ``train``, ``dev`` or ``test``.
    save_csv : path-like
        Output manifest.
    language : str, optional
        Language label, e.g. ``ory``.
    text_field : str
        ``"transcription"`` (FLEURS-normalised) or ``"raw_transcription"``.
    min_duration, max_duration, hours, seed, overwrite, verify_decode
        See the module docstring.

    Returns
    -------
    SkipReport
    """
    lang_dir = Path(lang_dir)
    iso = to_iso639_3(language or lang_dir.name)
    name = f"fleurs/{iso}/{split}"
    reused = reuse_existing(save_csv, overwrite, name)
    if reused:
        return reused
    if text_field not in ("transcription", "raw_transcription"):
        raise ValueError(f"text_field must be a FLEURS text column, got {text_field!r}")
    col = FLEURS_COLUMNS.index(text_field)
    listing = lang_dir / f"{split}.tsv"
    if not listing.is_file():
        raise FileNotFoundError(f"FLEURS listing not found: {listing}")
    candidates = []
    for line, row in read_rows(listing, "\t"):
        origin = f"{listing}:{line}"
        if len(row) != len(FLEURS_COLUMNS) or not row[1].strip():
            candidates.append(
                Candidate(
                    row[0] if row else "",
                    None,
                    None,
                    origin,
                    error=f"expected {len(FLEURS_COLUMNS)} columns, got {len(row)}",
                )
            )
            continue
        file_name = row[1].strip()
        candidates.append(
            Candidate(
                Path(file_name).stem,
                lang_dir / "audio" / split / file_name,
                row[col],
                origin,
            )
        )
    return finalize(
        candidates,
        save_csv,
        SkipReport(name),
        iso,
        min_duration,
        max_duration,
        hours,
        seed,
        verify_decode,
    )


# --------------------------------------------------------------------------
# Common Voice
# --------------------------------------------------------------------------


def prepare_common_voice(
    cv_dir: PathLike,
    split: str,
    save_csv: PathLike,
    language: str | None = None,
    min_duration: float = 0.0,
    max_duration: float | None = None,
    hours: float | None = None,
    seed: int = 1234,
    overwrite: bool = False,
    verify_decode: bool = False,
) -> SkipReport:
    """Prepare a Mozilla Common Voice language folder::

        <cv_dir>/<split>.tsv    header with at least ``path`` and ``sentence``
                                (also client_id, up_votes, locale, ...)
        <cv_dir>/clips/<path>   usually mp3

    Quotes in sentences are kept verbatim (the TSV is read without CSV quote
    handling, as Common Voice writes it). The manifest ID is the clip name
    without extension.

    Arguments
    ---------
    cv_dir : path-like
        E.g. ``.../cv-corpus-17.0/or``; its name (or the ``locale`` column)
        gives the language if ``language`` is None.
    split : str
        ``train``, ``dev``, ``test``, ``validated``, ...
    save_csv : path-like
        Output manifest.
    language : str, optional
        Language label, e.g. ``ory``.
    min_duration, max_duration, hours, seed, overwrite, verify_decode
        See the module docstring.

    Returns
    -------
    SkipReport
    """
    cv_dir = Path(cv_dir)
    name = f"common_voice/{cv_dir.name}/{split}"
    reused = reuse_existing(save_csv, overwrite, name)
    if reused:
        return reused
    listing = cv_dir / f"{split}.tsv"
    if not listing.is_file():
        raise FileNotFoundError(f"Common Voice listing not found: {listing}")
    rows = read_rows(listing, "\t")
    first = next(rows, None)
    header = first[1] if first else []
    if "path" not in header or "sentence" not in header:
        raise ValueError(f"{listing}:1: header must contain 'path' and 'sentence'")
    i_path, i_text = header.index("path"), header.index("sentence")
    i_locale = header.index("locale") if "locale" in header else None
    candidates = []
    for line, row in rows:
        origin = f"{listing}:{line}"
        if len(row) != len(header) or not row[i_path].strip():
            candidates.append(
                Candidate(
                    row[i_path] if len(row) > i_path else "",
                    None,
                    None,
                    origin,
                    error=f"expected {len(header)} columns, got {len(row)}",
                )
            )
            continue
        clip = row[i_path].strip()
        locale = row[i_locale] if i_locale is not None else cv_dir.name
        candidates.append(
            Candidate(
                Path(clip).stem,
                cv_dir / "clips" / clip,
                row[i_text],
                origin,
                language=locale,
            )
        )
    return finalize(
        candidates,
        save_csv,
        SkipReport(name),
        language,
        min_duration,
        max_duration,
        hours,
        seed,
        verify_decode,
    )


# --------------------------------------------------------------------------
# Generic CSV/TSV
# --------------------------------------------------------------------------


def prepare_generic(
    listing: PathLike,
    save_csv: PathLike,
    language: str | None = None,
    path_column: str = "path",
    text_column: str = "text",
    id_column: str | None = None,
    language_column: str | None = None,
    min_duration: float = 0.0,
    max_duration: float | None = None,
    hours: float | None = None,
    seed: int = 1234,
    overwrite: bool = False,
    verify_decode: bool = False,
) -> SkipReport:
    """Prepare any CSV/TSV listing with a header, an audio path and a text column.

    ``.tsv``/``.tab`` files are tab-separated (quotes kept verbatim), anything
    else is read as standard CSV. Relative audio paths are resolved against the
    listing's folder. The ID is ``id_column`` if given, else the audio file
    name without extension.

    Arguments
    ---------
    listing : path-like
        The CSV/TSV file.
    save_csv : path-like
        Output manifest.
    language : str, optional
        Language for all rows; otherwise ``language_column`` must be given.
    path_column, text_column, id_column, language_column : str
        Column names in the listing header.
    min_duration, max_duration, hours, seed, overwrite, verify_decode
        See the module docstring.

    Returns
    -------
    SkipReport
    """
    listing = Path(listing)
    name = f"generic/{listing.name}"
    reused = reuse_existing(save_csv, overwrite, name)
    if reused:
        return reused
    if language is None and language_column is None:
        raise ValueError("give language or language_column")
    delimiter = "\t" if listing.suffix.lower() in (".tsv", ".tab") else ","
    rows = read_rows(listing, delimiter)
    first = next(rows, None)
    header = [h.strip() for h in first[1]] if first else []
    needed = [c for c in (path_column, text_column, id_column, language_column) if c]
    missing = [c for c in needed if c not in header]
    if missing:
        raise ValueError(f"{listing}:1: missing columns {missing} in header {header}")
    idx = {c: header.index(c) for c in needed}
    candidates = []
    for line, row in rows:
        origin = f"{listing}:{line}"
        if len(row) != len(header) or not row[idx[path_column]].strip():
            candidates.append(
                Candidate(
                    f"{listing.name}:{line}",
                    None,
                    None,
                    origin,
                    error=f"expected {len(header)} fields with a path",
                )
            )
            continue
        wav = Path(row[idx[path_column]].strip())
        if not wav.is_absolute():
            wav = listing.parent / wav
        utt = row[idx[id_column]].strip() if id_column else wav.stem
        lang = row[idx[language_column]] if language_column else None
        candidates.append(Candidate(utt, wav, row[idx[text_column]], origin, language=lang))
    return finalize(
        candidates,
        save_csv,
        SkipReport(name),
        language,
        min_duration,
        max_duration,
        hours,
        seed,
        verify_decode,
    )
