"""Columnar corpora (parquet shards, Arrow files, ``datasets`` folders) -> ASR manifest.

Hub releases store audio *inside* parquet shards, ``datasets`` ``save_to_disk`` folders in Arrow IPC
files; pyarrow reads both a batch at a time, so a whole language never sits in memory:

1. **Metadata pass**: only the small columns (id, text, language, duration, speaker, the audio
   struct's ``path``) are read and checked (``duplicate_id``, ``empty_transcript``, ``too_short``,
   ``too_long``); with ``hours`` a seeded subset is chosen (speaker-aware with a speaker column,
   :func:`~.prepare.select_hours`) from every usable row, and the duration limits apply to it.
   Without a duration column the audio is read too, for its header.
2. **Audio pass**: only shards holding chosen rows are read, those rows' bytes decoded with soundfile
   to ``audio_folder/<ID>.wav`` (16-bit PCM unless the source is float). Undecodable rows are
   ``corrupt_audio``; with ``hours``, rows not tried yet (same seed) fill what they left. A set drawn
   with ``skip_hours`` first replays the earlier set's draw (decoding only): disjoint from its refill too.

The column map names the columns by role (YAML)::

    columns: {audio: audio, text: transcription, id: id, language: null, duration: null, speaker: null}

``audio``: a ``datasets`` Audio struct ``{bytes, path}`` (null bytes: ``path`` is a readable file),
a binary column of encoded audio or a string column of file paths (relative: to the shard's folder,
then ``data_folder``).
"""

import dataclasses
import io
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf

from .manifest import PathLike, SkipReport
from .prepare import (
    Candidate,
    PrepareOptions,
    _outside_limits,
    log_selection,
    prepare_manifest,
    select_hours,
    without_limits,
)

logger = logging.getLogger(__name__)

#: Roles of the column map; ``audio`` and ``text`` are required.
COLUMN_ROLES = ("audio", "text", "id", "language", "duration", "speaker")
TABLE_SUFFIXES = (".parquet", ".arrow")
#: Rows per batch: bounds memory in the audio pass (hub shards hold ~1 MB per row).
BATCH_ROWS = 64
_UNSAFE = re.compile(r"[^\w.-]+")


class ColumnError(KeyError):
    """A mapped column is not in a table (the message lists the available ones)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def find_table_files(data_folder: PathLike, split: str | None = None) -> list[Path]:
    """Parquet/Arrow files of a split under ``data_folder`` (or the file itself).

    A file is of ``split`` when its name starts with ``<split>-`` or ``<split>_`` (hub shards:
    ``train-00000-of-00008.parquet``) or a folder below ``data_folder`` is named ``split``
    (``train/data-00000-of-00001.arrow``); ``cache-*.arrow`` files are ignored. FileNotFoundError
    names the folder, the split and what the folder contains.

    Example
    -------
    >>> find_table_files("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: /nonexistent: no such file or folder
    """
    root = Path(data_folder)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such file or folder")
    files = sorted(p for p in root.rglob("*") if p.suffix in TABLE_SUFFIXES and p.name[:6] != "cache-")
    if split:
        prefixes = (f"{split}-", f"{split}_", f"{split}.")
        files = [p for p in files if p.name.startswith(prefixes) or split in p.relative_to(root).parts[:-1]]
    if not files:
        of, what = f" of split {split!r}" if split else "", sorted(p.name for p in root.iterdir())[:10]
        raise FileNotFoundError(
            f"{root}: no .parquet/.arrow files{of} (it contains {what}); "
            "point data_folder at the downloaded snapshot's language folder"
        )
    return files


def _arrow_reader(path: Path):
    import pyarrow as pa  # imported when used: a dependency, but slow to import

    source = pa.memory_map(str(path))
    try:
        return pa.ipc.open_stream(source)  # datasets writes the streaming format
    except pa.ArrowInvalid:
        return pa.ipc.open_file(source)


def _schema(path: Path):
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).schema_arrow if path.suffix == ".parquet" else _arrow_reader(path).schema


def iter_table(path: Path, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[dict[str, list]]:
    """Yield ``{column: values}`` batches of at most ``batch_rows`` rows.

    ``columns`` may name a struct field with a dot (``audio.path``): parquet reads only that field."""
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        # Nested selections come back as a struct holding only the requested field.
        batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns)
    else:
        batches = (b.slice(i, batch_rows) for b in _arrow_reader(path) for i in range(0, len(b), batch_rows))
    for batch in batches:
        values = {}
        for col in columns:  # ``a.b``: one field of a struct column, without copying the others
            top, _, field = col.partition(".")
            values[col] = (batch.column(top).field(field) if field else batch.column(top)).to_pylist()
        yield values


@dataclass
class _Row:
    """A row found in the metadata pass (audio not read yet)."""

    id: str
    shard: int
    index: int
    text: str
    language: str | None
    duration: float | None
    speaker: str | None
    from_path: bool = False  # the ID came from the audio file name (no id column)


def _audio_kind(path: Path, column: str) -> str:
    """``struct`` (datasets Audio), ``binary`` (encoded bytes) or ``path`` (string)."""
    import pyarrow as pa

    typ = _schema(path).field(column).type
    if pa.types.is_struct(typ):
        return "struct"
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        return "binary"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "path"
    expected = "expected an Audio struct, binary or path"
    raise ColumnError(f"{path}: audio column {column!r} has type {typ}; {expected}")


def _decode(cell, kind: str, shard: Path, root: Path) -> tuple[bytes | None, Path | None]:
    """Encoded bytes or an existing file for one audio cell."""
    if kind == "binary":
        return cell, None
    raw, ref = (cell.get("bytes"), cell.get("path")) if kind == "struct" and cell else (None, cell)
    if raw:
        return raw, None
    places = (Path(ref), shard.parent / ref, root / ref) if ref else ()
    return None, next((p for p in places if p.is_file()), None)


@dataclass
class _Tables:
    """The table files of a corpus, their column map (role -> column) and audio kinds."""

    root: Path
    files: list[Path]
    wanted: dict[str, str]
    kinds: list[str]
    batch_rows: int

    def origin(self, row: _Row) -> str:
        """Where a row comes from, for the skip report."""
        return f"{self.files[row.shard]}:row {row.index}"


def _open_tables(
    root: Path, split: str | None, columns: Mapping[str, str | None], batch_rows: int
) -> _Tables:
    files = find_table_files(root, split)
    wanted = {role: col for role, col in columns.items() if col}
    for role in ("audio", "text"):
        if role not in wanted:
            raise ValueError(f"column map needs a column for {role!r}, got {dict(columns)}")
    for path in files:
        available = _schema(path).names
        for role, col in wanted.items():
            if role not in COLUMN_ROLES:
                raise ValueError(f"unknown column role {role!r}; roles are {COLUMN_ROLES}")
            if col.split(".")[0] not in available:
                raise ColumnError(
                    f"{path}: no column {col!r} (mapped to {role!r}); available columns: {available}"
                )
    kinds = [_audio_kind(path, wanted["audio"]) for path in files]
    return _Tables(root, files, wanted, kinds, batch_rows)


def prepare_parquet(
    data_folder: PathLike,
    save_csv: PathLike,
    columns: Mapping[str, str | None] | None = None,
    split: str | None = None,
    language: str | None = None,
    audio_folder: PathLike | None = None,
    text_filter: Callable[[str], str] | None = None,
    batch_rows: int = BATCH_ROWS,
    name: str | None = None,
    options: PrepareOptions | None = None,
    **settings: Any,
) -> SkipReport:
    """Prepare parquet/Arrow tables with audio inside (module docstring).

    ``data_folder`` is searched recursively (hub snapshot language folder, ``save_to_disk`` folder)
    or is one ``.parquet``/``.arrow`` file. ``columns`` maps :data:`COLUMN_ROLES` to columns (``audio``
    and ``text`` required, unmapped roles not read; default ``{audio: audio, text: text}``);
    ``split``: see :func:`find_table_files`; ``language`` labels every row (else the ``language``
    column); ``audio_folder`` defaults to ``<save_csv stem>_audio`` next to the manifest;
    ``text_filter`` (Python only) runs before whitespace clean-up; ``name`` labels the report.
    Raises FileNotFoundError (no tables) or :class:`ColumnError` (a mapped column is missing)."""
    opts = PrepareOptions.from_settings(options, settings, "prepare_parquet")
    root = Path(data_folder)
    name = name or f"parquet/{root.name}" + (f"/{split}" if split else "")
    out_dir = Path(audio_folder) if audio_folder else Path(save_csv).with_name(Path(save_csv).stem + "_audio")

    def candidates(report: SkipReport) -> list[Candidate]:
        """Metadata pass, then the audio pass over the chosen rows."""
        tables = _open_tables(root, split, dict(columns or {"audio": "audio", "text": "text"}), batch_rows)
        if language is None and "language" not in tables.wanted:
            raise ValueError(f"{name}: give language or map a 'language' column")
        # A subset is drawn from every usable row; prepare_manifest applies the limits to it.
        limits = opts if opts.hours is None else without_limits(opts)
        rows = _check_rows(_metadata_pass(tables, report, text_filter), tables, report, limits)
        out_dir.mkdir(parents=True, exist_ok=True)
        return _audio_pass(tables, rows, out_dir, report, opts)

    # The hours subset is drawn in the audio pass, from the metadata: only chosen rows are decoded.
    return prepare_manifest(name, save_csv, dataclasses.replace(opts, hours=None), candidates, language)


def _metadata_pass(
    tables: _Tables, report: SkipReport, text_filter: Callable[[str], str] | None
) -> list[_Row]:
    meta = {role: col for role, col in tables.wanted.items() if role != "audio"}
    rows: list[_Row] = []
    for shard, (path, kind) in enumerate(zip(tables.files, tables.kinds)):
        # Of the audio, all for durations from the headers (or paths), else a struct's paths or nothing.
        audio: str | None = tables.wanted["audio"]
        if "duration" in meta and kind != "path":
            audio = f"{audio}.path" if kind == "struct" else None
        cols = list(dict.fromkeys([*meta.values(), audio] if audio else meta.values()))
        batches = iter_table(path, cols, tables.batch_rows)
        for index, values in enumerate(v for batch in batches for v in zip(*batch.values())):
            got = dict(zip(cols, values))
            get = {role: got[col] for role, col in meta.items()}
            cell = got.get(audio)  # a struct, a path or encoded bytes
            hint = cell.get("path") if isinstance(cell, dict) else cell if isinstance(cell, str) else None
            utt = "" if get.get("id") is None else str(get["id"]).strip()
            from_path = not utt and bool(hint)
            utt = utt or (Path(hint).stem if hint else f"{path.stem}_{index:07d}").strip()
            text = get["text"] if isinstance(get["text"], str) else ""
            text = text_filter(text) if text_filter is not None else text
            speaker = None if get.get("speaker") is None else str(get["speaker"])
            try:
                duration = None if get.get("duration") is None else float(get["duration"])
            except (TypeError, ValueError):
                duration = None
            row = _Row(utt, shard, index, text, get.get("language"), duration, speaker, from_path)
            if "duration" not in meta:
                row.duration = _header_duration(cell, kind, path, tables.root)
                if row.duration is None:
                    report.skip(row.id, "corrupt_audio", tables.origin(row), "audio header unreadable")
                    continue
            rows.append(row)
    named = [r for r in rows if r.from_path]
    if len({r.id for r in named}) < len(named):
        # File names inside the audio struct are not unique here: name rows by position instead
        # of dropping all but one of each name as duplicates.
        logger.warning("audio file names repeat; IDs are <shard>_<row> instead")
        for r in named:
            r.id = f"{tables.files[r.shard].stem}_{r.index:07d}"
    return rows


def _header_duration(cell, kind: str, shard: Path, root: Path) -> float | None:
    raw, file = _decode(cell, kind, shard, root)
    try:
        info = sf.info(io.BytesIO(raw)) if raw else sf.info(str(file)) if file else None
    except Exception:  # soundfile raises several types for bad data
        return None
    return info.frames / info.samplerate if info and info.frames > 0 else None


def _check_rows(rows: list[_Row], tables: _Tables, report: SkipReport, options: PrepareOptions) -> list[_Row]:
    """The metadata checks of :func:`~.prepare.validate`, before any audio is decoded."""
    kept, seen = [], set()
    for row in rows:
        origin = tables.origin(row)
        if row.id in seen:
            report.skip(row.id, "duplicate_id", origin)
        elif not row.text.strip():
            report.skip(row.id, "empty_transcript", origin)
        elif row.duration is None or not math.isfinite(row.duration):  # NaN passes every limit
            report.skip(row.id, "bad_row", origin, f"no finite duration ({row.duration})")
        elif outside := _outside_limits(row.duration, options):
            report.skip(row.id, outside[0], origin, outside[1])
        else:
            kept.append(row)
        seen.add(row.id)
    return kept


def _decode_rows(
    tables: _Tables, todo: list[_Row], out_dir: Path | None, report: SkipReport
) -> tuple[list[Candidate], list[_Row]]:
    """Candidates of the ``todo`` rows whose audio decodes, and the rows they came from."""
    by_shard: dict[int, dict[int, _Row]] = {}
    for row in todo:
        by_shard.setdefault(row.shard, {})[row.index] = row
    candidates, decoded = [], []
    column = tables.wanted["audio"]
    for shard, chosen in sorted(by_shard.items()):
        batches = iter_table(tables.files[shard], [column], tables.batch_rows)
        cells = (cell for batch in batches for cell in batch[column])
        for index, cell in zip(range(max(chosen) + 1), cells):  # no chosen row further on
            if index in chosen and (cand := _materialise(chosen[index], cell, tables, out_dir, report)):
                candidates.append(cand)
                decoded.append(chosen[index])
    return candidates, decoded


def _audio_pass(
    tables: _Tables, rows: list[_Row], out_dir: Path, report: SkipReport, options: PrepareOptions
) -> list[Candidate]:
    """Decode the chosen rows' audio; refill the budget from rows not tried when some fail. A set
    drawn with ``skip_hours`` first replays the set drawn before it (``hours: skip_hours``, decoding
    only) and leaves out every row that one tried, its refill included."""
    hours, skip, seed = options.hours, options.skip_hours, options.seed
    if hours is None:
        return _decode_rows(tables, rows, out_dir, report)[0]
    speakers = (lambda some: [r.speaker for r in some]) if "speaker" in tables.wanted else (lambda some: None)
    tried: set[str] = set()

    def draw(todo: list[_Row], budget: float, out: Path | None, into: SkipReport) -> list[Candidate]:
        """Decode ``todo`` (rows tried before count as failed), refill ``budget`` while some fail."""
        candidates, used = [], []
        while todo:
            found, decoded = _decode_rows(tables, [r for r in todo if r.id not in tried], out, into)
            tried.update(r.id for r in todo)
            candidates, used = candidates + found, used + decoded
            if len(decoded) == len(todo):
                break
            rest = [r for r in rows if r.id not in tried]
            todo = select_hours(rest, budget - sum(r.duration for r in used) / 3600.0, seed, speakers(rest))
        if out is not None:
            log_selection(into.name, used, len(rows), options)
        return candidates

    if skip:
        draw(select_hours(rows, skip, seed, speakers(rows)), skip, None, SkipReport())
    return draw(select_hours(rows, hours, seed, speakers(rows), skip), hours, out_dir, report)


def _materialise(
    row: _Row, cell, tables: _Tables, out_dir: Path | None, report: SkipReport
) -> Candidate | None:
    """The row's audio decoded (written to ``out_dir`` as WAV unless None), or None (reported)."""
    origin = tables.origin(row)
    raw, file = _decode(cell, tables.kinds[row.shard], tables.files[row.shard], tables.root)
    if file is None:
        if raw is None:
            report.skip(row.id, "missing_audio", origin, "no audio bytes and no readable path")
            return None
        try:  # as WAV: 16-bit PCM unless the source is float
            with sf.SoundFile(io.BytesIO(raw)) as source:
                data = source.read(dtype="float32", always_2d=True)
                subtype = "FLOAT" if "FLOAT" in source.subtype or "DOUBLE" in source.subtype else "PCM_16"
            if data.shape[0] == 0:
                raise ValueError("0 samples")
            if out_dir is not None:  # None: only whether it decodes (a replayed draw)
                file = out_dir / (_UNSAFE.sub("_", row.id) + ".wav")
                sf.write(str(file), data, source.samplerate, subtype=subtype, format="WAV")
        except Exception as exc:  # soundfile raises several types for bad data
            report.skip(row.id, "corrupt_audio", origin, f"cannot decode audio bytes ({exc})")
            return None
    return Candidate(row.id, file, row.text, origin, language=row.language)
