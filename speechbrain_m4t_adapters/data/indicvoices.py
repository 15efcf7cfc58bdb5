"""Preparation of AI4Bharat IndicVoices (the corpus used in the paper).

Supported layouts (``layout="auto"`` picks per file, see below):

1. **Raw per-recording JSON** (the download from ai4bharat.iitm.ac.in,
   ``<Language>/v1/<split>/<uuid>.json`` next to ``<uuid>.wav``). Each JSON
   object has a ``verbatim`` list of segments ``{"start": s, "end": s,
   "text": str, ...}`` (seconds) and usually a parallel ``normalized`` list.
   One manifest row per segment: ID ``<uuid>_chunk_<k>`` (k = 1-based
   segment index, the naming used by AI4Bharat's chunking script),
   ``wav`` = the recording, plus ``start``/``stop`` columns. The audio is the
   first existing file among ``<uuid>.{wav,flac,mp3,ogg}``.
2. **JSON-lines manifests** (NeMo style; the output of AI4Bharat's
   ``TGZ/create_indicvoices.py`` chunking, i.e. ``transcripts/*.json`` or
   ``manifests/<split>_<lang>_indicvoices.json``). One object per line with
   ``audio_filepath`` and ``text`` (optionally ``verbatim``, ``normalized``,
   ``lang``, ``duration``). One row per line; ID = audio file name without
   extension. Relative paths are resolved against the manifest's folder; a
   path that does not exist (e.g. absolute paths from another machine) is
   looked up by file name in the manifest's folder, ``audios/`` next to it
   and ``../audios/``.
3. **Flat segments**: a folder of segment audio files plus
   ``transcripts.tsv`` (``ID<TAB>text``, no header); audio is
   ``<ID>.<ext>`` in the folder or in its ``audio``/``audios``/``wav``
   sub-folder.

``data_folder`` may be a directory or a single ``.json``/``.jsonl`` (layout
2), ``.tsv`` (layout 3) or ``.parquet`` (layout 4) file. A directory with
``.parquet`` files is layout 4. Otherwise, in a directory, every ``*.json``/``*.jsonl``
file below it is classified by content: a JSON object with a ``verbatim``
list is layout 1, otherwise it is read as JSON lines (layout 2); if there is
no JSON file, ``transcripts.tsv`` (layout 3) is used. Unparseable files and
malformed segments are reported as ``bad_row``.

4. **Hugging Face hub release** (``ai4bharat/IndicVoices``, parquet with the
   audio inside), read directly from a local snapshot with pyarrow, streaming
   (see :mod:`speechbrain_m4t_adapters.data.parquet`). ``data_folder`` is the
   snapshot's language folder (``<snapshot>/odia``) holding
   ``train-XXXXX-of-NNNNN.parquet`` and ``valid-00000-of-00001.parquet``;
   ``split`` picks ``train`` or ``valid`` (the hub has no test split). Chosen
   rows' audio is decoded to ``<manifest stem>_audio/<ID>.wav``. Columns, as
   found in the dataset's published schema (the ``dataset_info.features`` of
   a per-language copy of the release,
   huggingface.co/datasets/Minutor/Odia-data-collection/blob/main/README.md,
   and loaders that read ``ai4bharat/IndicVoices`` with ``datasets``, e.g.
   karma's IndicVoices evaluation set, which casts ``audio_filepath`` to
   ``Audio(decode=False)`` and reads ``["bytes"]`` and ``text``; shard
   names from huggingface.co/datasets/ai4bharat/IndicVoices/tree/main):
   ``audio_filepath`` (Audio struct ``{bytes, path}``), ``duration`` (s),
   ``samples`` and the strings of :data:`HUB_TEXT_COLUMNS`. The ID is the audio struct's ``path`` stem
   (else ``<shard>_<row>``); the 5-hour subset is speaker-aware via
   ``speaker_id``; durations come from ``duration``, so the audio of
   unselected rows is never read.

Text: ``text_field`` selects ``verbatim`` (default) or ``normalized``
(layout 1; for layout 2 the field if present, else ``text``). With
``remove_tags=True``, bracketed annotation tags such as ``[noise]`` are
removed; everything else is kept verbatim (evaluation applies its own
normalisation).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .audio import PathLike
from .languages import lookup_language
from .manifest import SkipReport
from .parquet import prepare_parquet
from .prepare import Candidate, PrepareOptions, bad_row, id_text_candidates, prepare_manifest

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
#: Column map of the hub release (layout 4); ``text`` is set from ``text_field``.
HUB_COLUMNS = {"audio": "audio_filepath", "duration": "duration", "speaker": "speaker_id", "language": "lang"}
_TAG = re.compile(r"\[[^\]]*\]")


def _infer_language(path: Path) -> str | None:
    """Language from the nearest folder named after one (``Odia``, ``bengali``)."""
    for part in reversed(path.parts):
        iso = lookup_language(part)
        if iso:
            return iso
    return None


def _text(value: object, remove_tags: bool) -> str:
    text = value if isinstance(value, str) else ""
    return _TAG.sub(" ", text) if remove_tags else text


def _find_audio(stem_path: Path, folders: tuple[Path, ...] = ()) -> Path:
    """First existing ``<stem>.<ext>`` in the given folders (default: its own)."""
    folders = folders or (stem_path.parent,)
    for folder in folders:
        for ext in AUDIO_EXTENSIONS:
            path = folder / (stem_path.name + ext)
            if path.is_file():
                return path
    return folders[0] / (stem_path.name + AUDIO_EXTENSIONS[0])


def _recording_candidates(
    json_path: Path, obj: dict, text_field: str, remove_tags: bool
) -> Iterator[Candidate]:
    """Layout 1: one candidate per segment of a recording."""
    audio = _find_audio(json_path.with_suffix(""))
    segments = obj.get("verbatim")
    texts = obj.get(text_field, segments) if text_field != "verbatim" else segments
    lang = obj.get("lang") or obj.get("language")
    if not isinstance(texts, list) or len(texts) != len(segments):
        yield bad_row(
            json_path.stem, str(json_path), f"'{text_field}' list missing or not parallel to 'verbatim'"
        )
        return
    for k, (seg, txt) in enumerate(zip(segments, texts), start=1):
        origin = f"{json_path}:segment {k}"
        utt = f"{json_path.stem}_chunk_{k}"
        try:
            start, stop = float(seg["start"]), float(seg["end"])
        except (KeyError, TypeError, ValueError):
            yield bad_row(utt, origin, "segment without numeric start/end")
            continue
        text = _text(txt.get("text") if isinstance(txt, dict) else None, remove_tags)
        # Negative starts occur in the raw data; clamp like AI4Bharat's script.
        yield Candidate(
            utt,
            audio,
            text,
            origin,
            start=max(start, 0.0),
            stop=stop,
            language=lang if isinstance(lang, str) else None,
        )


def _jsonl_candidates(
    path: Path, lines: list[str], text_field: str, remove_tags: bool
) -> Iterator[Candidate]:
    """Layout 2: one candidate per JSON line."""
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        origin = f"{path}:{n}"
        try:
            obj = json.loads(raw)
            audio = Path(obj["audio_filepath"])
        except (ValueError, KeyError, TypeError):
            yield bad_row(f"{path.name}:{n}", origin, "not a JSON object with 'audio_filepath'")
            continue
        if not audio.is_absolute():
            audio = path.parent / audio
        if not audio.is_file():
            folders = (
                path.parent,
                path.parent / "audios",
                path.parent.parent / "audios",
            )
            found = [f / audio.name for f in folders if (f / audio.name).is_file()]
            audio = found[0] if found else audio
        text = obj.get(text_field, obj.get("text"))
        lang = obj.get("lang")
        yield Candidate(
            audio.stem,
            audio,
            _text(text, remove_tags),
            origin,
            language=lang if isinstance(lang, str) else None,
        )


def _json_file_candidates(path: Path, text_field: str, remove_tags: bool) -> Iterator[Candidate]:
    content = path.read_text(encoding="utf-8")
    try:
        obj = json.loads(content)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("verbatim"), list):
        yield from _recording_candidates(path, obj, text_field, remove_tags)
    else:
        yield from _jsonl_candidates(path, content.splitlines(), text_field, remove_tags)


def _flat_candidates(listing: Path, remove_tags: bool) -> Iterator[Candidate]:
    """Layout 3: ``ID<TAB>text`` next to the segment audio files."""
    folder = listing.parent
    folders = (folder, folder / "audio", folder / "audios", folder / "wav")
    return id_text_candidates(
        listing, "ID<TAB>text", lambda utt: _find_audio(Path(utt), folders), lambda t: _text(t, remove_tags)
    )


def _folder_candidates(
    root: Path, split: str | None, language: str | None, text_field: str, remove_tags: bool
) -> Iterator[Candidate]:
    """Candidates of layouts 1-3 under ``root`` (or in the single file ``root``)."""
    if root.is_file():
        if root.suffix.lower() == ".tsv":
            yield from _flat_candidates(root, remove_tags)
        else:
            yield from _json_file_candidates(root, text_field, remove_tags)
        return
    json_files = sorted(p for ext in ("*.json", "*.jsonl") for p in root.rglob(ext))
    if split:
        json_files = [p for p in json_files if split in p.relative_to(root).parts[:-1]]
    if json_files:
        for path in json_files:
            fallback = language or _infer_language(path.relative_to(root.parent))
            for cand in _json_file_candidates(path, text_field, remove_tags):
                cand.language = cand.language or fallback
                yield cand
    elif (root / "transcripts.tsv").is_file():
        yield from _flat_candidates(root / "transcripts.tsv", remove_tags)
    else:
        raise FileNotFoundError(f"no IndicVoices JSON or transcripts.tsv under {root}")


def prepare_indicvoices(
    data_folder: PathLike,
    save_csv: PathLike,
    language: str | None = None,
    split: str | None = None,
    text_field: str = "verbatim",
    remove_tags: bool = True,
    audio_folder: PathLike | None = None,
    options: PrepareOptions | None = None,
    **settings: Any,
) -> SkipReport:
    """Prepare IndicVoices data in one of the layouts in the module docstring.

    ``data_folder`` is a folder (searched recursively) or a single
    ``.json``/``.jsonl``/``.tsv``/``.parquet`` file.

    Arguments
    ---------
    language : str, optional
        Language label; by default taken from the ``lang`` fields or from a
        folder named after the language (``Odia``, ``maithili``, ...).
    split : str, optional
        Only use JSON files with a folder of this name in their path
        relative to ``data_folder`` (e.g. ``train``, ``valid``); for the hub
        release, the parquet shards of this split (``train`` or ``valid``).
    text_field : str
        ``"verbatim"`` or ``"normalized"``.
    remove_tags : bool
        Remove ``[...]`` annotation tags from transcripts.
    audio_folder : path-like, optional
        Hub release: where decoded audio goes (see :func:`~.parquet.prepare_parquet`).
    """
    opts = PrepareOptions.from_settings(options, settings, "prepare_indicvoices")
    if text_field not in ("verbatim", "normalized"):
        raise ValueError(f"text_field must be 'verbatim' or 'normalized', got {text_field!r}")
    root = Path(data_folder)
    name = f"indicvoices/{language or root.name}" + (f"/{split}" if split else "")
    hub = root.suffix == ".parquet" or (root.is_dir() and next(root.rglob("*.parquet"), None) is not None)
    if language is None and (hub or not root.is_file()):
        language = _infer_language(root.resolve())
    if hub:
        columns = dict(HUB_COLUMNS, text=text_field)
        if language is not None:
            del columns["language"]  # the given/folder language wins over the lang column
        return prepare_parquet(
            root,
            save_csv,
            columns=columns,
            split=split,
            language=language,
            audio_folder=audio_folder,
            text_filter=(lambda t: _text(t, True)) if remove_tags else None,
            name=name,
            options=opts,
        )

    def candidates(report: SkipReport) -> Iterator[Candidate]:
        """Layouts 1-3."""
        return _folder_candidates(root, split, language, text_field, remove_tags)

    return prepare_manifest(name, save_csv, opts, candidates, language)


#: String columns of the hub schema besides the audio struct, ``duration`` and ``samples``.
HUB_TEXT_COLUMNS = tuple(
    "text lang verbatim normalized speaker_id scenario task_name gender age_group job_type qualification "
    "area district state occupation verification_report unsanitized_verbatim unsanitized_normalized".split()
)


def write_hub_shard(rows: list[dict], path: PathLike, row_group_size: int = 64) -> Path:
    """Write rows as one parquet shard in the hub release's schema (layout 4).

    Used to build test fixtures and benchmarks from local clips, or to pack
    a user's own data the same way.

    Arguments
    ---------
    rows : list of dict
        Each with ``audio`` (encoded file bytes), ``path`` (original file
        name), ``duration``, ``samples`` and any of :data:`HUB_TEXT_COLUMNS`
        (missing ones are empty strings).
    path : path-like
        Output ``.parquet`` file.
    row_group_size : int
        Rows per row group.

    Returns
    -------
    Path

    Example
    -------
    >>> import io, tempfile, numpy as np, soundfile as sf
    >>> buf = io.BytesIO(); sf.write(buf, np.zeros(1600, "float32"), 16000, format="WAV")
    >>> row = {"audio": buf.getvalue(), "path": "a.wav", "duration": 0.1, "samples": 1600, "text": "x"}
    >>> out = write_hub_shard([row], tempfile.mkdtemp() + "/train-00000-of-00001.parquet")
    >>> import pyarrow.parquet as pq
    >>> pq.ParquetFile(out).schema_arrow.field("audio_filepath").type
    StructType(struct<bytes: binary, path: string>)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    # Column order as in the published dataset_info (see the module docstring).
    data = {
        "audio_filepath": pa.array([{"bytes": r["audio"], "path": r["path"]} for r in rows], audio_type),
        "text": pa.array([r.get("text", "") for r in rows], pa.string()),
        "duration": pa.array([float(r["duration"]) for r in rows], pa.float64()),
        "lang": pa.array([r.get("lang", "") for r in rows], pa.string()),
        "samples": pa.array([int(r["samples"]) for r in rows], pa.int64()),
    }
    for col in HUB_TEXT_COLUMNS[2:]:
        data[col] = pa.array([r.get(col, "") for r in rows], pa.string())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data), path, row_group_size=row_group_size)
    return path
