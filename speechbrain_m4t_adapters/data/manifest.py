"""Manifest files shared by data preparation, training and evaluation.

ASR manifest (SpeechBrain CSV, readable with
``speechbrain.dataio.dataset.DynamicItemDataset.from_csv``)::

    ID,duration,wav,language,transcript[,start,stop]

* ``duration``: seconds (float) of the audio actually used (the segment
  length when ``start``/``stop`` are given).
* ``wav``: absolute path of the audio file.
* ``language``: ISO 639-3 code (``ory``, ``mai``, ``ben``, ...).
* ``start``, ``stop``: optional trailing columns, written only when at least
  one row is a segment of a longer recording (IndicVoices raw layout). They
  are seconds within ``wav``; an empty cell means "whole file". Pass them to
  :func:`speechbrain_m4t_adapters.data.audio.load_audio`.

Text-pair manifest (text-only adaptation, ``source -> target``)::

    ID,src_lang,tgt_lang,source,target

Both are UTF-8 with standard CSV quoting (``csv.QUOTE_MINIMAL``), so commas,
quotes and newlines inside text survive a round trip.

:class:`SkipReport` records every entry that preparation drops, with its
reason and origin (``file:line``), logs a one-line summary and writes a
``<manifest stem>.skipped.tsv`` file next to the manifest, so that nothing is
ever dropped silently.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .atomic import atomic_write

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

ASR_HEADER = ["ID", "duration", "wav", "language", "transcript"]
SEGMENT_COLUMNS = ["start", "stop"]
TEXT_HEADER = ["ID", "src_lang", "tgt_lang", "source", "target"]

#: Reasons accepted by :meth:`SkipReport.skip`.
SKIP_REASONS = (
    "missing_audio",
    "corrupt_audio",
    "empty_audio",
    "nonfinite_audio",
    "truncated_audio",
    "empty_transcript",
    "missing_transcript",
    "too_long",
    "too_short",
    "duplicate_id",
    "bad_row",
    "empty_source",
    "empty_target",
    "missing_translation",
    "synthesis_failed",
)


class ManifestError(ValueError):
    """A manifest or input listing is malformed (message names file:line)."""


@dataclass
class AsrEntry:
    """One row of an ASR manifest (see module docstring for the fields)."""

    id: str
    duration: float
    wav: str
    language: str
    transcript: str
    start: float | None = None
    stop: float | None = None

    @property
    def is_segment(self) -> bool:
        """Whether the row refers to part of ``wav`` only."""
        return self.start is not None or self.stop is not None


@dataclass
class TextPair:
    """One row of a text-pair manifest (``source`` translates to ``target``)."""

    id: str
    src_lang: str
    tgt_lang: str
    source: str
    target: str


def _fmt_float(value: float | None) -> str:
    # 6 decimals = microsecond precision; avoids 3.4200000000000004 in files.
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def _as_asr_entry(row: AsrEntry | Mapping) -> AsrEntry:
    if isinstance(row, AsrEntry):
        return row
    return AsrEntry(
        id=str(row["ID"] if "ID" in row else row["id"]),
        duration=float(row["duration"]),
        wav=str(row["wav"]),
        language=str(row["language"]),
        transcript=str(row["transcript"]),
        start=None if row.get("start") in (None, "") else float(row["start"]),
        stop=None if row.get("stop") in (None, "") else float(row["stop"]),
    )


def write_asr_manifest(rows: Iterable[AsrEntry | Mapping], path: PathLike) -> int:
    """Write an ASR manifest CSV.

    Arguments
    ---------
    rows : iterable of AsrEntry or dict
        Dicts use the CSV column names (``ID``, ``duration``, ...).
    path : path-like
        Output CSV; parent folders are created.

    Returns
    -------
    int
        Number of rows written.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "train.csv")
    >>> write_asr_manifest([AsrEntry("u1", 1.5, "/a/u1.wav", "ory", "ନମସ୍କାର")], path)
    1
    >>> read_asr_manifest(path)[0].transcript
    'ନମସ୍କାର'
    """
    entries = [_as_asr_entry(r) for r in rows]
    header = list(ASR_HEADER)
    segmented = any(e.is_segment for e in entries)
    if segmented:
        header += SEGMENT_COLUMNS
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for e in entries:
            line = [e.id, _fmt_float(e.duration), e.wav, e.language, e.transcript]
            if segmented:
                line += [_fmt_float(e.start), _fmt_float(e.stop)]
            writer.writerow(line)
    return len(entries)


def _read_csv(path: PathLike, expected: list[str], optional: list[str]):
    """Yield ``(line_number, dict)`` after checking the header."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or header[: len(expected)] != expected:
            raise ManifestError(f"{path}:1: bad header {header!r}, expected {','.join(expected)}")
        extra = header[len(expected) :]
        if any(col not in optional for col in extra):
            raise ManifestError(f"{path}:1: unexpected columns {extra!r}")
        start_line = reader.line_num + 1
        for row in reader:
            if len(row) != len(header):
                raise ManifestError(f"{path}:{start_line}: expected {len(header)} fields, got {len(row)}")
            yield start_line, dict(zip(header, row))
            start_line = reader.line_num + 1


def read_asr_manifest(path: PathLike) -> list[AsrEntry]:
    """Read and validate an ASR manifest written by :func:`write_asr_manifest`.

    Arguments
    ---------
    path : path-like
        Manifest CSV.

    Returns
    -------
    list of AsrEntry

    Raises
    ------
    ManifestError
        On a bad header, a wrong field count, an empty ID, a duplicate ID or a
        non-numeric duration/start/stop (the message gives ``file:line``).
    """
    entries: list[AsrEntry] = []
    seen: set[str] = set()
    for line, row in _read_csv(path, ASR_HEADER, SEGMENT_COLUMNS):
        if not row["ID"]:
            raise ManifestError(f"{path}:{line}: empty ID")
        if row["ID"] in seen:
            raise ManifestError(f"{path}:{line}: duplicate ID {row['ID']!r}")
        seen.add(row["ID"])
        try:
            entries.append(_as_asr_entry(row))
        except ValueError as exc:
            raise ManifestError(f"{path}:{line}: {exc}") from exc
    return entries


def write_text_manifest(rows: Iterable[TextPair | Mapping], path: PathLike) -> int:
    """Write a text-pair manifest CSV (``ID,src_lang,tgt_lang,source,target``).

    Arguments
    ---------
    rows : iterable of TextPair or dict
        Dicts use the CSV column names.
    path : path-like
        Output CSV; parent folders are created.

    Returns
    -------
    int
        Number of rows written.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "pairs.csv")
    >>> write_text_manifest([TextPair("p1", "eng", "ben", 'He said "hi", ok', "হ্যাঁ")], path)
    1
    >>> read_text_manifest(path)[0].source
    'He said "hi", ok'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic_write(path, encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TEXT_HEADER)
        for row in rows:
            if not isinstance(row, TextPair):
                row = TextPair(*(str(row[k]) for k in TEXT_HEADER))
            writer.writerow([row.id, row.src_lang, row.tgt_lang, row.source, row.target])
            count += 1
    return count


def read_text_manifest(path: PathLike) -> list[TextPair]:
    """Read and validate a text-pair manifest.

    Arguments
    ---------
    path : path-like
        Manifest CSV.

    Returns
    -------
    list of TextPair

    Raises
    ------
    ManifestError
        On a bad header, a wrong field count, an empty or duplicate ID.
    """
    pairs: list[TextPair] = []
    seen: set[str] = set()
    for line, row in _read_csv(path, TEXT_HEADER, []):
        if not row["ID"] or row["ID"] in seen:
            raise ManifestError(f"{path}:{line}: empty or duplicate ID {row['ID']!r}")
        seen.add(row["ID"])
        pairs.append(TextPair(*(row[k] for k in TEXT_HEADER)))
    return pairs


@dataclass
class SkippedItem:
    """One dropped entry: its id, why, and where it came from."""

    id: str
    reason: str
    origin: str = ""
    detail: str = ""


@dataclass
class SkipReport:
    """Counts kept entries and records skipped ones per reason.

    Arguments
    ---------
    name : str
        Label used in the log line (e.g. ``"respin/ben/train"``).

    Example
    -------
    >>> report = SkipReport("demo")
    >>> report.keep(3)
    >>> report.skip("u7", "too_long", "list.tsv:8", "41.2 s > 30 s")
    >>> report.counts
    {'too_long': 1}
    >>> report.summary()
    'demo: kept 3, skipped 1 (too_long=1)'
    """

    name: str = ""
    kept: int = 0
    items: list[SkippedItem] = field(default_factory=list)
    #: True when the output existed and preparation was not re-run.
    reused: bool = False

    def keep(self, n: int = 1) -> None:
        """Count ``n`` entries as kept."""
        self.kept += n

    def skip(self, item_id: str, reason: str, origin: str = "", detail: str = "") -> None:
        """Record a skipped entry; ``reason`` must be one of ``SKIP_REASONS``."""
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}; use one of {SKIP_REASONS}")
        self.items.append(SkippedItem(str(item_id), reason, str(origin), str(detail)))

    @property
    def counts(self) -> dict[str, int]:
        """Number of skipped entries per reason (only reasons that occurred)."""
        return dict(Counter(item.reason for item in self.items))

    @property
    def num_skipped(self) -> int:
        """Total number of skipped entries."""
        return len(self.items)

    def ids(self, reason: str) -> list[str]:
        """Ids skipped for ``reason``, in the order they were recorded."""
        return [item.id for item in self.items if item.reason == reason]

    def summary(self) -> str:
        """One-line summary with per-reason counts."""
        parts = ", ".join(f"{r}={n}" for r, n in sorted(self.counts.items()))
        text = f"{self.name}: kept {self.kept}, skipped {self.num_skipped}"
        return f"{text} ({parts})" if parts else text

    def log(self, log: logging.Logger = logger) -> None:
        """Log :meth:`summary`, as a warning when something was skipped."""
        level = logging.WARNING if self.items else logging.INFO
        log.log(level, self.summary())

    def write(self, path: PathLike) -> Path:
        """Write ``ID<TAB>reason<TAB>origin<TAB>detail`` lines (with a header)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(["ID", "reason", "origin", "detail"])
            for item in self.items:
                writer.writerow([_one_line(v) for v in asdict(item).values()])
        return path

    def finish(self, manifest_path: PathLike) -> Path:
        """Write :func:`skipped_path` for ``manifest_path`` and log the summary."""
        out = self.write(skipped_path(manifest_path))
        self.log()
        return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def skipped_path(manifest_path: PathLike) -> Path:
    """Path of the skip list for a manifest: ``train.csv -> train.skipped.tsv``."""
    manifest_path = Path(manifest_path)
    return manifest_path.with_name(manifest_path.stem + ".skipped.tsv")


def read_skipped(path: PathLike) -> list[SkippedItem]:
    """Read a skip list written by :meth:`SkipReport.write`."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader, None)
        return [SkippedItem(*row) for row in reader]
