"""Manifest files shared by data preparation, training and evaluation (UTF-8, ``csv.QUOTE_MINIMAL``).

ASR manifest (SpeechBrain CSV, readable with ``DynamicItemDataset.from_csv``)::

    ID,duration,wav,language,transcript[,start,stop]

``duration``: seconds of audio used (the segment's with ``start``/``stop``); ``wav``: absolute path;
``language``: ISO 639-3 (``ory``, ``mai``, ``ben``); ``start``/``stop`` (s within ``wav``, empty: whole
file; see :func:`~.audio.load_audio`) are written only when some row is a segment.
Text-pair manifest (text-only adaptation, ``source -> target``)::

    ID,src_lang,tgt_lang,source,target

Writers take dataclass rows or dicts keyed by the columns, write atomically (parent folders created)
and return the row count; readers check the header, field counts and unique non-empty IDs, raising
:class:`ManifestError` naming ``file:line``::

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_asr_manifest([AsrEntry("u1", 1.5, "/a/u1.wav", "ory", "ନମସ୍କାର")], f"{folder}/train.csv")
    1
    >>> read_asr_manifest(f"{folder}/train.csv")[0].transcript
    'ନମସ୍କାର'
    >>> write_text_manifest([TextPair("p1", "eng", "ben", 'He said "hi", ok', "হ্যাঁ")], f"{folder}/p.csv")
    1
    >>> read_text_manifest(f"{folder}/p.csv")[0].source
    'He said "hi", ok'

:class:`SkipReport` records every dropped entry with reason and origin (``file:line``), logs a
summary and writes ``<manifest stem>.skipped.tsv``: nothing is dropped silently.
"""

import csv
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path

from .atomic import atomic_write

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

ASR_HEADER = ["ID", "duration", "wav", "language", "transcript"]
SEGMENT_COLUMNS = ["start", "stop"]
TEXT_HEADER = ["ID", "src_lang", "tgt_lang", "source", "target"]

#: Reasons accepted by :meth:`SkipReport.skip`.
SKIP_REASONS = tuple(
    "missing_audio corrupt_audio empty_audio nonfinite_audio truncated_audio empty_transcript "
    "missing_transcript too_long too_short duplicate_id bad_row empty_source empty_target "
    "missing_translation synthesis_failed".split()
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
    head = str(row["ID"] if "ID" in row else row["id"]), float(row["duration"])
    text = (str(row[k]) for k in ("wav", "language", "transcript"))
    segment = (None if row.get(k) in (None, "") else float(row[k]) for k in SEGMENT_COLUMNS)
    return AsrEntry(*head, *text, *segment)


def _write_csv(path: PathLike, header: list[str], lines: Iterable[list[str]], **fmt: str) -> int:
    lines = list(lines)
    with atomic_write(path, encoding="utf-8", newline="") as f:
        writer = csv.writer(f, **fmt)
        for line in [header, *lines]:
            writer.writerow(line)
    return len(lines)


def write_asr_manifest(rows: Iterable[AsrEntry | Mapping], path: PathLike) -> int:
    """Write an ASR manifest CSV (see the module docstring)."""
    entries = [_as_asr_entry(r) for r in rows]
    segmented = any(e.is_segment for e in entries)
    lines = (
        [e.id, _fmt_float(e.duration), e.wav, e.language, e.transcript]
        + ([_fmt_float(e.start), _fmt_float(e.stop)] if segmented else [])
        for e in entries
    )
    return _write_csv(path, ASR_HEADER + (SEGMENT_COLUMNS if segmented else []), lines)


def _read_csv(path: PathLike, expected: list[str], optional: list[str]) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, dict)`` after checking the header and that IDs are present and unique."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    seen: set[str] = set()
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
            if not row[0]:
                raise ManifestError(f"{path}:{start_line}: empty ID")
            if row[0] in seen:
                raise ManifestError(f"{path}:{start_line}: duplicate ID {row[0]!r}")
            seen.add(row[0])
            yield start_line, dict(zip(header, row))
            start_line = reader.line_num + 1


def read_asr_manifest(path: PathLike) -> list[AsrEntry]:
    """Read and validate an ASR manifest (also: numeric duration/start/stop; see the module docstring)."""
    entries: list[AsrEntry] = []
    for line, row in _read_csv(path, ASR_HEADER, SEGMENT_COLUMNS):
        try:
            entries.append(_as_asr_entry(row))
        except ValueError as exc:
            raise ManifestError(f"{path}:{line}: {exc}") from exc
    return entries


def write_text_manifest(rows: Iterable[TextPair | Mapping], path: PathLike) -> int:
    """Write a text-pair manifest CSV (see the module docstring)."""
    lines = (astuple(r) if isinstance(r, TextPair) else [str(r[k]) for k in TEXT_HEADER] for r in rows)
    return _write_csv(path, TEXT_HEADER, lines)


def read_text_manifest(path: PathLike) -> list[TextPair]:
    """Read and validate a text-pair manifest (see the module docstring)."""
    return [TextPair(*(row[k] for k in TEXT_HEADER)) for _, row in _read_csv(path, TEXT_HEADER, [])]


@dataclass
class SkippedItem:
    """One dropped entry: its id, why, and where it came from."""

    id: str
    reason: str
    origin: str = ""
    detail: str = ""


@dataclass
class SkipReport:
    """Counts kept entries and records skipped ones per reason; ``name`` labels the log line.

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

    def finish(self, manifest_path: PathLike) -> Path:
        """Write :func:`skipped_path` (header, then ``ID<TAB>reason<TAB>origin<TAB>detail`` rows) and log
        the summary (a warning when something was skipped)."""
        path = skipped_path(manifest_path)
        rows = ([" ".join(v.split()) for v in asdict(item).values()] for item in self.items)  # one line each
        _write_csv(path, ["ID", "reason", "origin", "detail"], rows, delimiter="\t", lineterminator="\n")
        logger.log(logging.WARNING if self.items else logging.INFO, self.summary())
        return path


def skipped_path(manifest_path: PathLike) -> Path:
    """Path of the skip list for a manifest: ``train.csv -> train.skipped.tsv``."""
    return Path(manifest_path).with_suffix(".skipped.tsv")


def read_skipped(path: PathLike) -> list[SkippedItem]:
    """Read a skip list written by :meth:`SkipReport.finish`."""
    with open(path, encoding="utf-8", newline="") as f:
        return [SkippedItem(*row) for row in list(csv.reader(f, delimiter="\t"))[1:]]  # after the header


def prepare_once(
    name: str,
    save_csv: PathLike,
    overwrite: bool,
    write: Callable[[SkipReport], object],
    reader: Callable[[PathLike], list] = read_asr_manifest,
) -> SkipReport:
    """The skeleton of every preparer: reuse ``save_csv``, or ``write(report)`` it and write its skip list.

    ``name`` labels the report, with the manifest's stem added (``respin/ben [train]``); ``reader``
    counts the rows of a reused manifest (unless ``overwrite``).

    Example
    -------
    >>> import tempfile
    >>> csv_path = Path(tempfile.mkdtemp()) / "pairs.csv"
    >>> def write(report):
    ...     report.keep(write_text_manifest([TextPair("p1", "eng", "ory", "a", "b")], csv_path))
    >>> prepare_once("demo", csv_path, False, write, read_text_manifest).reused
    False
    >>> again = prepare_once("demo", csv_path, False, write, read_text_manifest)
    >>> again.reused, again.kept
    (True, 1)
    """
    name = f"{name} [{Path(save_csv).stem}]"  # which split: several manifests come from one corpus
    if not overwrite and Path(save_csv).is_file():
        logger.info("%s: %s exists, skipping preparation (overwrite=False)", name, save_csv)
        return SkipReport(name, kept=len(reader(save_csv)), reused=True)
    report = SkipReport(name)
    write(report)
    report.finish(save_csv)
    return report
