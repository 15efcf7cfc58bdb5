"""Data preparation for IndicVoices (AI4Bharat), one language at a time.

Writes ``train.csv``, ``valid.csv`` and ``test.csv`` with the columns ``ID, duration, wav,
start, stop, wrd`` (``start``/``stop`` in samples, both 0 for a whole file). As in the paper,
``train`` is a seeded subset of ``train_hours`` of the ``train`` split, ``valid`` a disjoint
``valid_hours`` of the same split and ``test`` the whole ``valid`` split (the corpus publishes
no test transcripts). The draw visits the rows in a seeded order, speakers taking turns where
the release names them (``speaker_id`` of the hub release), and takes each row that still fits;
training duration limits are applied afterwards (in ``train.py``), so they never move the draw.
Three layouts are read (the two JSON ones by ``indicvoices_layouts.py``, which the plugin's
engine reads them with too):

* per-recording JSON (the ai4bharat.iitm.ac.in download): ``<id>.json`` holding a ``verbatim``
  list of ``{"start", "end", "text"}`` segments (and a parallel ``normalized`` list) next to
  ``<id>.wav`` (or ``.flac``, ``.mp3``, ``.ogg``): one row per segment, ID ``<id>_chunk_<k>``;
  below ``<data_folder>/<split>/`` (any depth);
* JSON-lines manifests (AI4Bharat's segmentation script): one ``{"audio_filepath", "text",
  "duration", "lang"}`` object per line, paths relative to the manifest (else looked up by name
  in ``audios/`` beside it or above it), below ``<data_folder>/<split>/`` or in a
  ``<split>.json[l]`` file in ``data_folder``;
* the Hugging Face hub release (``ai4bharat/IndicVoices``, a snapshot's language folder holding
  ``<split>-XXXXX-of-NNNNN.parquet`` shards with the audio inside; needs ``pyarrow``): the audio
  of the chosen rows only is written to ``<save_folder>/audio/<train|valid|test>/``.

Rows that cannot be used (unparsable line, missing audio, bad segment times, empty transcript,
another language) are skipped, each logged with its file and line, and counted.

Authors
 * speechbrain-m4t-adapters contributors 2026
"""

from __future__ import annotations

import collections
import csv
import glob
import itertools
import json
import logging
import math
import os
from collections.abc import Iterator

from speechbrain.dataio.dataio import read_audio_info

from speechbrain_m4t_adapters.data.indicvoices_layouts import (  # the listings and the hours draw
    SEGMENT_END_TOLERANCE,
    TAG,
    Segment,
    draw_subsets,
    read_listing,
)

logger = logging.getLogger(__name__)

CSV_HEADER = ["ID", "duration", "wav", "start", "stop", "wrd"]
#: Other spellings of the three languages' codes in ``lang`` fields.
LANGUAGE_NAMES = {"ory": ("odia", "oriya", "or"), "mai": ("maithili",), "ben": ("bengali", "bangla", "bn")}
OPTIONS_FILE = "prepare_options.json"  # the settings the CSV files were prepared with


def prepare_indicvoices(
    data_folder: str,
    save_folder: str,
    language: str,
    train_hours: float = 5.0,
    valid_hours: float = 0.5,
    seed: int = 1234,
    text_field: str = "verbatim",
    skip_prep: bool = False,
) -> dict[str, int]:
    """Write the train/valid/test CSV files of one IndicVoices language.

    Arguments
    ---------
    data_folder : str
        Folder of one language, holding the ``train`` and ``valid`` splits.
    save_folder : str
        Where ``train.csv``, ``valid.csv`` and ``test.csv`` are written.
    language : str
        ISO 639-3 code; JSON-lines rows with another ``lang`` are skipped.
    train_hours, valid_hours : float
        Sizes of the seeded, disjoint subsets drawn from the ``train`` split.
    seed : int
        Seed of that draw.
    text_field : str
        ``verbatim`` or ``normalized`` transcripts (bracketed tags are removed).
    skip_prep : bool
        If True, do nothing.

    Returns
    -------
    dict
        Number of rows written per CSV (empty when nothing was prepared).

    Example
    -------
    >>> prepare_indicvoices("unused", "unused", "ory", skip_prep=True)
    {}
    """
    files = {name: os.path.join(save_folder, f"{name}.csv") for name in ("train", "valid", "test")}
    options = {"data_folder": os.path.abspath(data_folder), "language": language, "train_hours": train_hours}
    options.update(valid_hours=valid_hours, seed=seed, text_field=text_field)
    if skip_prep or all(os.path.isfile(path) for path in files.values()):
        logger.info("Skipping IndicVoices preparation (skip_prep or CSV files already in %s)", save_folder)
        if not skip_prep:
            warn_if_prepared_otherwise(save_folder, options)
        return {}
    pool = read_split(data_folder, "train", language, text_field)
    train, valid = draw_hours(pool, [train_hours, valid_hours], seed)
    sets = {"train": train, "valid": valid, "test": read_split(data_folder, "valid", language, text_field)}
    os.makedirs(save_folder, exist_ok=True)
    for name, rows in sets.items():
        write_hub_audio(rows, os.path.join(save_folder, "audio", name))
        write_csv(files[name], rows)
        hours = sum(row["duration"] for row in rows) / 3600
        logger.info("%s: %d rows (%.2f h)", files[name], len(rows), hours)
    with open(os.path.join(save_folder, OPTIONS_FILE), "w", encoding="utf-8") as stream:
        json.dump(options, stream, indent=2)
    return {name: len(rows) for name, rows in sets.items()}


def write_csv(path: str, rows: list[dict]) -> None:
    """Write one CSV file whole or not at all (a killed run leaves no truncated file to reuse)."""
    with open(path + ".tmp", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_HEADER, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(path + ".tmp", path)


def warn_if_prepared_otherwise(save_folder: str, options: dict) -> None:
    """Warn, naming the settings, when the reused CSV files were prepared with other ones."""
    path = os.path.join(save_folder, OPTIONS_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            recorded = json.load(stream)
    except FileNotFoundError:
        return  # prepared by hand or by an older version: nothing to compare
    except ValueError:
        recorded = {}  # half-written: every setting is reported as unknown
    changed = [f"{k} {recorded.get(k)!r} -> {v!r}" for k, v in options.items() if recorded.get(k) != v]
    if changed:
        logger.warning(
            "CSV files in %s reused as prepared, not with the settings now given (%s): delete them to redo",
            save_folder,
            ", ".join(changed),
        )


def read_split(data_folder: str, split: str, language: str, text_field: str = "verbatim") -> list[dict]:
    """Rows of every JSON file of ``split``; unusable rows are logged and counted.

    Arguments
    ---------
    data_folder : str
        Folder of one language.
    split : str
        ``train`` or ``valid``: JSON files below a folder of that name, or ``<split>.json[l]``,
        or hub shards ``<split>-*.parquet``.
    language : str
        Expected language code.
    text_field : str
        ``verbatim`` or ``normalized``.

    Returns
    -------
    list of dict
        CSV rows (keys of ``CSV_HEADER``).
    """
    shards = sorted(glob.glob(os.path.join(data_folder, f"{split}-*.parquet")))
    paths = [] if shards else json_files(data_folder, split)
    if not paths and not shards:
        raise FileNotFoundError(f"no IndicVoices JSON or parquet files of split '{split}' in {data_folder}")
    found = itertools.chain(
        *(hub_rows(path, language, text_field) for path in shards),
        *(read_json_file(path, language, text_field) for path in paths),
    )
    rows, skipped = [], 0
    for item in found:
        if isinstance(item, str):
            logger.warning("Skipping %s", item)
            skipped += 1
        else:
            rows.append(item)
    if skipped:
        logger.warning("%s (%s): skipped %d unusable rows, kept %d", data_folder, split, skipped, len(rows))
    return rows


def json_files(data_folder: str, split: str) -> list[str]:
    """The JSON files below a folder named ``split``, or ``<split>.json[l]`` in ``data_folder``."""
    paths = []
    for root, _, names in os.walk(data_folder):
        inside = split in os.path.relpath(root, data_folder).split(os.sep)
        for name in names:
            stem, ext = os.path.splitext(name)
            if ext in (".json", ".jsonl") and (inside or (stem == split and root == data_folder)):
                paths.append(os.path.join(root, name))
    return sorted(paths)


def read_json_file(path: str, language: str, text_field: str = "verbatim") -> Iterator[dict | str]:
    """Yield the rows of one per-recording JSON or JSON-lines file, or a message per bad row.

    Arguments
    ---------
    path : str
        The file (read by ``indicvoices_layouts.read_listing``).
    language : str
        Expected language code (``lang`` fields).
    text_field : str
        ``verbatim`` or ``normalized``.

    Yields
    ------
    dict or str
        A CSV row, or ``"<file>:<line or segment>: <reason>"``.
    """
    recordings: dict[str, object] = {}  # audio file -> its info, read once for all its segments
    for found in read_listing(path, text_field):
        if found.error:
            yield f"{found.origin}: {found.error}"
        else:
            yield checked_row(found, language, recordings)


def checked_row(segment: Segment, language: str, recordings: dict) -> dict | str:
    """The CSV row of a listed segment, or a message saying why it is unusable."""
    where = segment.origin
    if not same_language(segment.lang, language):
        return f"{where}: language {segment.lang!r}, not {language!r}"
    if not os.path.isfile(segment.audio):
        return f"{where}: audio file {segment.audio} not found"
    words = clean(segment.text)
    if not words:
        return f"{where}: empty transcript"
    duration = segment.duration
    if segment.start is None and isinstance(duration, (int, float)):  # a whole file, listed length
        if not (math.isfinite(duration) and duration > 0):
            return f"{where}: duration {duration!r} is not a positive number of seconds"
        return row(segment.utterance, float(duration), segment.audio, 0, 0, words)
    if segment.audio not in recordings:
        recordings[segment.audio] = read_audio_info(segment.audio)
    info = recordings[segment.audio]
    length = info.num_frames / info.sample_rate
    if segment.start is None:
        return row(segment.utterance, length, segment.audio, 0, 0, words)
    start, end = segment.start, segment.end
    if not start < end <= length + SEGMENT_END_TOLERANCE:
        return f"{where}: times {start}-{end} s outside the {length:.2f} s recording"
    first, last = round(start * info.sample_rate), round(min(end, length) * info.sample_rate)
    return row(segment.utterance, (last - first) / info.sample_rate, segment.audio, first, last, words)


def hub_rows(path: str, language: str, text_field: str = "verbatim") -> Iterator[dict | str]:
    """Yield the row (audio left in the shard) or a bad-row message of each row of a hub shard.

    Arguments
    ---------
    path : str
        A ``<split>-XXXXX-of-NNNNN.parquet`` shard of ``ai4bharat/IndicVoices``.
    language : str
        Expected language code (``lang`` column).
    text_field : str
        ``verbatim`` or ``normalized`` column (else ``text``).

    Yields
    ------
    dict or str
        A CSV row with the shard and row number of its audio, or ``"<file>:row <n>: <reason>"``.
    """
    import pyarrow.parquet as pq  # only for this layout

    schema = pq.read_schema(path)
    column = text_field if text_field in schema.names else "text"
    # the audio's file name only: the audio bytes are read later, for the chosen rows
    speaker = "speaker_id" if "speaker_id" in schema.names else None
    columns = [column, "duration", "lang", "audio_filepath.path", *([speaker] if speaker else [])]
    table = pq.read_table(path, columns=columns).to_pydict()
    speakers = table[speaker] if speaker else [None] * len(table["duration"])
    values = zip(table[column], table["duration"], table["lang"], table["path"], speakers)
    for number, (text, duration, lang, name, talker) in enumerate(values):
        where = f"{path}:row {number}"
        words = clean(text)
        if not same_language(lang, language):
            yield f"{where}: language {lang!r}, not {language!r}"
        elif not words:
            yield f"{where}: empty transcript"
        elif not isinstance(duration, (int, float)) or not (math.isfinite(duration) and duration > 0):
            yield f"{where}: no positive duration"
        else:
            shard = os.path.splitext(os.path.basename(path))[0]
            name = os.path.basename(name) if name else f"{shard}_{number}.wav"
            found = row(os.path.splitext(name)[0], float(duration), name, 0, 0, words)
            yield {**found, "shard": path, "row": number, **({"speaker": talker} if speaker else {})}


def write_hub_audio(rows: list[dict], audio_folder: str) -> None:
    """Write the audio of the hub rows among ``rows`` (as stored) to ``audio_folder``; point ``wav`` at it."""
    by_shard = collections.defaultdict(list)
    for entry in rows:
        if "shard" in entry:
            by_shard[entry["shard"]].append(entry)
    if by_shard:
        import pyarrow.parquet as pq

        os.makedirs(audio_folder, exist_ok=True)
    for shard, entries in by_shard.items():
        cells = pq.read_table(shard, columns=["audio_filepath"]).column("audio_filepath")
        for entry in entries:
            path = os.path.join(audio_folder, entry["ID"] + os.path.splitext(entry["wav"])[1])
            with open(path, "wb") as stream:
                stream.write(cells[entry["row"]].as_py()["bytes"])
            entry["wav"] = path


def same_language(label: object, language: str) -> bool:
    """Whether a ``lang`` field (missing, the code, or a name such as ``odia``) is ``language``.

    Example
    -------
    >>> same_language("Odia", "ory"), same_language(None, "ory"), same_language("bengali", "ory")
    (True, True, False)
    """
    if not label:
        return True
    return str(label).strip().lower() in (language, *LANGUAGE_NAMES.get(language, ()))


def row(utterance: str, duration: float, wav: str, start: int, stop: int, words: str) -> dict:
    """One CSV row (``start == stop == 0``: the whole file)."""
    values = [utterance, round(duration, 3), wav, start, stop, words]
    return dict(zip(CSV_HEADER, values))


def clean(text: object) -> str:
    """Transcript without bracketed tags, whitespace runs as one space ('' if not a string).

    Example
    -------
    >>> clean("  ଆମେ [noise]  ଯିବା ")
    'ଆମେ ଯିବା'
    """
    return " ".join(TAG.sub(" ", text).split()) if isinstance(text, str) else ""


def draw_hours(rows: list[dict], budgets: list[float], seed: int) -> list[list[dict]]:
    """Disjoint seeded subsets of ``rows``, one per budget (hours), drawn in turn from the rest
    (``indicvoices_layouts.draw_subsets``: speakers take turns where rows have a ``speaker``);
    each subset keeps the input order.

    Example
    -------
    >>> rows = [{"ID": str(i), "duration": 600.0} for i in range(10)]
    >>> first, second = draw_hours(rows, [0.5, 0.5], seed=3)
    >>> len(first), len(second), {r["ID"] for r in first} & {r["ID"] for r in second}
    (3, 3, set())
    """
    speakers = [r.get("speaker") for r in rows] if any("speaker" in r for r in rows) else None
    subsets = draw_subsets([r["duration"] for r in rows], budgets, seed, speakers)
    return [[rows[i] for i in subset] for subset in subsets]
