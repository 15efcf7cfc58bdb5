"""Columnar corpora (parquet shards, Arrow files, ``datasets`` folders) -> ASR manifest.

Hugging Face hub releases store audio *inside* parquet shards, ``datasets`` ``save_to_disk``
folders in Arrow IPC files. Both are read with pyarrow a batch (row group, record batch) at a
time, so a whole language never sits in memory:

1. **Metadata pass**: only the small columns (id, text, language, duration, speaker, the audio
   struct's ``path``) are read; rows are checked (``duplicate_id``, ``empty_transcript``,
   ``too_short``, ``too_long``) and, with ``hours``, a seeded subset is chosen (speaker-aware with a
   speaker column, see :func:`~.prepare.select_hours`). Without a duration column this pass also
   reads the audio bytes, a batch at a time, for each duration from its header.
2. **Audio pass**: only shards holding chosen rows are read; those rows' bytes are decoded with
   soundfile to ``audio_folder/<ID>.wav`` (16-bit PCM unless the source is float). Undecodable
   rows are ``corrupt_audio``; with ``hours``, rows not tried yet are drawn (same seed) to fill
   what they left of the budget.

The column map names the columns by role (YAML)::

    columns: {audio: audio, text: transcription, id: id, language: null, duration: null, speaker: null}

``audio`` is a ``datasets`` Audio struct ``{bytes, path}`` (bytes may be null when ``path`` is a
readable file), a binary column of encoded audio, or a string column of file paths (relative paths
are resolved against the shard's folder, then ``data_folder``).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf

from .audio import PathLike
from .manifest import SkipReport
from .prepare import (
    Candidate,
    PrepareOptions,
    clean_transcript,
    log_selection,
    prepare_manifest,
    select_hours,
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
    (``train/data-00000-of-00001.arrow``). ``datasets`` cache files (``cache-*.arrow``) are ignored.
    FileNotFoundError names the folder, the split and what the folder contains.

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
    files = sorted(
        p for p in root.rglob("*") if p.suffix in TABLE_SUFFIXES and not p.name.startswith("cache-")
    )
    if split:
        files = [
            p
            for p in files
            if p.name.startswith((f"{split}-", f"{split}_", f"{split}."))
            or split in p.relative_to(root).parts[:-1]
        ]
    if not files:
        what = sorted(p.name for p in root.iterdir())[:10]
        raise FileNotFoundError(
            f"{root}: no .parquet/.arrow files"
            + (f" of split {split!r}" if split else "")
            + f" (it contains {what}); point data_folder at the downloaded snapshot's language folder"
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


def table_columns(path: Path) -> list[str]:
    """Column names of a parquet or Arrow file (reads the schema only)."""
    return list(_schema(path).names)


def iter_table(path: Path, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[dict[str, list]]:
    """Yield ``{column: values}`` batches of at most ``batch_rows`` rows.

    ``columns`` may name a struct field with a dot (``audio.path``): parquet reads only that field.
    """
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        # Nested selections come back as a struct holding only the requested field.
        batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns)
    else:
        batches = (
            b.slice(i, batch_rows) for b in _arrow_reader(path) for i in range(0, b.num_rows, batch_rows)
        )
    for batch in batches:
        yield {col: _arrow_column(batch, col).to_pylist() for col in columns}


def _arrow_column(batch, col: str):
    """A column, or one field of a struct column (``a.b``) without copying the others."""
    top, _, field = col.partition(".")
    column = batch.column(top)
    return column.field(field) if field else column


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
    #: The ID came from the audio file name (no id column).
    from_path: bool = False


def _check_columns(path: Path, columns: Mapping[str, str | None]) -> dict[str, str]:
    available = table_columns(path)
    wanted = {role: col for role, col in columns.items() if col}
    for role in ("audio", "text"):
        if role not in wanted:
            raise ValueError(f"column map needs a column for {role!r}, got {dict(columns)}")
    for role, col in wanted.items():
        if role not in COLUMN_ROLES:
            raise ValueError(f"unknown column role {role!r}; roles are {COLUMN_ROLES}")
        if col.split(".")[0] not in available:
            raise ColumnError(
                f"{path}: no column {col!r} (mapped to {role!r}); available columns: {available}"
            )
    return wanted


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
    raise ColumnError(
        f"{path}: audio column {column!r} has type {typ}; expected an Audio struct, binary or path"
    )


def _decode(cell, kind: str, shard: Path, root: Path) -> tuple[bytes | None, Path | None]:
    """Encoded bytes or an existing file for one audio cell."""
    if kind == "binary":
        return cell, None
    raw, ref = (cell.get("bytes"), cell.get("path")) if kind == "struct" and cell else (None, cell)
    if raw:
        return raw, None
    if ref:
        for candidate in (Path(ref), shard.parent / ref, root / ref):
            if candidate.is_file():
                return None, candidate
    return None, None


def _write_audio(raw: bytes, out: Path) -> float:
    """Decode encoded audio bytes and write them as WAV; returns the duration (s)."""
    data, rate = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError("0 samples")
    info = sf.info(io.BytesIO(raw))
    subtype = "FLOAT" if "FLOAT" in info.subtype or "DOUBLE" in info.subtype else "PCM_16"
    sf.write(str(out), data, rate, subtype=subtype, format="WAV")
    return data.shape[0] / rate


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
    wanted = {}
    for path in files:
        wanted = _check_columns(path, columns)
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
    Raises FileNotFoundError (no tables) or :class:`ColumnError` (a mapped column is missing).
    """
    opts = PrepareOptions.from_settings(options, settings, "prepare_parquet")
    root = Path(data_folder)
    name = name or f"parquet/{root.name}" + (f"/{split}" if split else "")
    out_dir = Path(audio_folder) if audio_folder else Path(save_csv).with_name(Path(save_csv).stem + "_audio")

    def candidates(report: SkipReport) -> list[Candidate]:
        """Metadata pass, then the audio pass over the chosen rows."""
        tables = _open_tables(root, split, dict(columns or {"audio": "audio", "text": "text"}), batch_rows)
        if language is None and "language" not in tables.wanted:
            raise ValueError(f"{name}: give language or map a 'language' column")
        rows = _check_rows(_metadata_pass(tables, report, text_filter), tables, report, opts)
        out_dir.mkdir(parents=True, exist_ok=True)
        return _audio_pass(tables, rows, out_dir, report, opts)

    # The hours subset is drawn in the audio pass, from the metadata: only chosen rows are decoded.
    return prepare_manifest(name, save_csv, dataclasses.replace(opts, hours=None), candidates, language)


def _metadata_columns(tables: _Tables, kind: str) -> list[str]:
    """Columns the metadata pass reads from a shard whose audio is of ``kind``."""
    audio_col = tables.wanted["audio"]
    cols = [col for role, col in tables.wanted.items() if role != "audio"]
    if "duration" not in tables.wanted or kind == "path":  # durations then come from the audio headers
        cols.append(audio_col)
    elif kind == "struct":
        cols.append(f"{audio_col}.path")
    return list(dict.fromkeys(cols))


def _metadata_pass(
    tables: _Tables, report: SkipReport, text_filter: Callable[[str], str] | None
) -> list[_Row]:
    meta = {role: col for role, col in tables.wanted.items() if role != "audio"}
    audio_col = tables.wanted["audio"]
    read_audio = "duration" not in tables.wanted
    rows: list[_Row] = []
    for shard, (path, kind) in enumerate(zip(tables.files, tables.kinds)):
        cols = _metadata_columns(tables, kind)
        index = 0
        for batch in iter_table(path, cols, tables.batch_rows):
            count = len(batch[cols[0]])
            for i in range(count):
                get = {role: batch[col][i] for role, col in meta.items()}
                cell = batch[audio_col][i] if audio_col in batch else None
                if read_audio or kind == "path":
                    hint = cell.get("path") if isinstance(cell, dict) else cell if kind == "path" else None
                else:
                    hint = batch[f"{audio_col}.path"][i] if kind == "struct" else None
                utt = "" if get.get("id") is None else str(get["id"]).strip()
                from_path = not utt and bool(hint)
                if not utt:
                    utt = (Path(hint).stem if hint else f"{path.stem}_{index + i:07d}").strip()
                text = get["text"] if isinstance(get["text"], str) else ""
                text = text_filter(text) if text_filter is not None else text
                speaker = None if get.get("speaker") is None else str(get["speaker"])
                duration = _as_float(get.get("duration"))
                row = _Row(utt, shard, index + i, text, get.get("language"), duration, speaker, from_path)
                if read_audio:
                    row.duration = _header_duration(cell, kind, path, tables.root)
                    if row.duration is None:
                        report.skip(row.id, "corrupt_audio", tables.origin(row), "audio header unreadable")
                        continue
                rows.append(row)
            index += count
    named = [r for r in rows if r.from_path]
    if len({r.id for r in named}) < len(named):
        # File names inside the audio struct are not unique here: name rows by position instead
        # of dropping all but one of each name as duplicates.
        logger.warning("audio file names repeat; IDs are <shard>_<row> instead")
        for r in named:
            r.id = f"{tables.files[r.shard].stem}_{r.index:07d}"
    return rows


def _as_float(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


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
    max_duration = options.max_duration
    for row in rows:
        origin = tables.origin(row)
        if row.id in seen:
            report.skip(row.id, "duplicate_id", origin)
        elif not clean_transcript(row.text):
            report.skip(row.id, "empty_transcript", origin)
        elif row.duration is None:
            report.skip(row.id, "bad_row", origin, "no numeric duration")
        elif row.duration < options.min_duration:
            report.skip(row.id, "too_short", origin, f"{row.duration:.3f} s")
        elif max_duration is not None and row.duration > max_duration:
            report.skip(row.id, "too_long", origin, f"{row.duration:.3f} s > {max_duration} s")
        else:
            kept.append(row)
        seen.add(row.id)
    return kept


def _decode_rows(
    tables: _Tables, todo: list[_Row], out_dir: Path, report: SkipReport
) -> tuple[list[Candidate], list[_Row]]:
    """Candidates of the ``todo`` rows whose audio decodes, and the rows they came from."""
    by_shard: dict[int, dict[int, _Row]] = {}
    for row in todo:
        by_shard.setdefault(row.shard, {})[row.index] = row
    candidates, decoded = [], []
    for shard, chosen in sorted(by_shard.items()):
        path, kind, index, last = tables.files[shard], tables.kinds[shard], 0, max(chosen)
        for batch in iter_table(path, [tables.wanted["audio"]], tables.batch_rows):
            cells = batch[tables.wanted["audio"]]
            for i, cell in enumerate(cells):
                row = chosen.get(index + i)
                cand = None if row is None else _materialise(row, cell, kind, tables, out_dir, report)
                if cand is not None:
                    candidates.append(cand)
                    decoded.append(row)
            index += len(cells)
            if index > last:
                break  # the rest of the shard holds no chosen row
    return candidates, decoded


def _audio_pass(
    tables: _Tables, rows: list[_Row], out_dir: Path, report: SkipReport, options: PrepareOptions
) -> list[Candidate]:
    """Decode the chosen rows' audio; refill the budget when some fail to decode."""
    hours, seed = options.hours, options.seed
    speakers = (lambda some: [r.speaker for r in some]) if "speaker" in tables.wanted else (lambda some: None)
    if hours is None:
        return _decode_rows(tables, rows, out_dir, report)[0]
    todo = select_hours(rows, hours, seed, speakers(rows), options.skip_hours)
    held = select_hours(rows, options.skip_hours, seed, speakers(rows)) if options.skip_hours else []
    tried = {r.id for r in held}
    candidates: list[Candidate] = []
    used: list[_Row] = []
    while todo:
        tried.update(r.id for r in todo)
        found, decoded = _decode_rows(tables, todo, out_dir, report)
        candidates += found
        used += decoded
        if len(decoded) == len(todo):
            break
        # Undecodable rows left part of the budget: fill it from the rows not tried yet.
        rest = [r for r in rows if r.id not in tried]
        secs = sum(r.duration for r in used)
        todo = select_hours(rest, hours - secs / 3600.0, seed, speakers(rest))
    log_selection(report.name, used, len(rows), options)
    return candidates


def _materialise(
    row: _Row, cell, kind: str, tables: _Tables, out_dir: Path, report: SkipReport
) -> Candidate | None:
    origin = tables.origin(row)
    raw, file = _decode(cell, kind, tables.files[row.shard], tables.root)
    if file is not None:
        return Candidate(row.id, file, row.text, origin, language=row.language)
    if raw is None:
        report.skip(row.id, "missing_audio", origin, "no audio bytes and no readable path")
        return None
    out = out_dir / (_UNSAFE.sub("_", row.id) + ".wav")
    try:
        _write_audio(raw, out)
    except Exception as exc:  # soundfile raises several types for bad data
        report.skip(row.id, "corrupt_audio", origin, f"cannot decode audio bytes ({exc})")
        return None
    return Candidate(row.id, out, row.text, origin, language=row.language)
