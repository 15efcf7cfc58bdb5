"""Preparation of AI4Bharat IndicVoices (the corpus used in the paper), in four layouts.

1. **Raw per-recording JSON** (ai4bharat.iitm.ac.in download, ``<Language>/v1/<split>/<uuid>.json``
   next to ``<uuid>.{wav,flac,mp3,ogg}``): a ``verbatim`` list of segments ``{"start": s, "end": s,
   "text": str}`` and usually a parallel ``normalized`` list. One row per segment, ID
   ``<uuid>_chunk_<k>`` (k 1-based, as AI4Bharat's chunking script names them), with ``start``/``stop``.
2. **JSON-lines manifests** (NeMo style, the output of AI4Bharat's ``TGZ/create_indicvoices.py``:
   ``transcripts/*.json``, ``manifests/<split>_<lang>_indicvoices.json``): one object per line with
   ``audio_filepath`` and ``text`` (optionally ``verbatim``, ``normalized``, ``lang``, ``duration``);
   ID = audio file stem. Relative paths are resolved against the manifest's folder; a path that does
   not exist (absolute paths from another machine) is looked up by file name in that folder,
   ``audios/`` next to it and ``../audios/``.
3. **Flat segments**: ``transcripts.tsv`` (``ID<TAB>text``, no header) and ``<ID>.<ext>`` in its
   folder or its ``audio``/``audios``/``wav`` sub-folder.
4. **Hugging Face hub release** (``ai4bharat/IndicVoices``, parquet with the audio inside), streamed
   from a local snapshot's language folder (``<snapshot>/odia``: ``train-XXXXX-of-NNNNN.parquet``,
   ``valid-00000-of-00001.parquet``, as at huggingface.co/datasets/ai4bharat/IndicVoices/tree/main;
   no test split) by :mod:`.parquet`; chosen rows' audio is decoded
   to ``<manifest stem>_audio/<ID>.wav``. Columns, from the published ``dataset_info.features``
   (huggingface.co/datasets/Minutor/Odia-data-collection/blob/main/README.md) and loaders of
   ``ai4bharat/IndicVoices`` (karma's evaluation set casts ``audio_filepath`` to
   ``Audio(decode=False)`` and reads ``["bytes"]`` and ``text``): ``audio_filepath`` (struct
   ``{bytes, path}``), ``duration`` (s), ``samples`` and :data:`HUB_TEXT_COLUMNS`. The ID is the
   struct's ``path`` stem (else ``<shard>_<row>``); the hours subset is speaker-aware
   (``speaker_id``) and, as durations come from ``duration``, unselected rows' audio is never read.

``data_folder`` may be a single ``.json``/``.jsonl`` (2), ``.tsv`` (3) or ``.parquet`` (4) file. A
directory with ``.parquet`` files is layout 4; otherwise each ``*.json``/``*.jsonl`` below it is a
layout 1 file if it holds one object with a ``verbatim`` list, else JSON lines; without JSON files,
``transcripts.tsv`` is used. Unparseable files and malformed segments are ``bad_row``.

Text: ``text_field`` selects ``verbatim`` (default) or ``normalized`` (layout 2: that field if
present, else ``text``); ``remove_tags=True`` removes bracketed tags such as ``[noise]``; the rest is
verbatim (evaluation applies its own normalisation).
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
    lang = lang if isinstance(lang, str) else None
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
        yield Candidate(utt, audio, text, origin, start=max(start, 0.0), stop=stop, language=lang)


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
            folders = (path.parent, path.parent / "audios", path.parent.parent / "audios")
            found = [f / audio.name for f in folders if (f / audio.name).is_file()]
            audio = found[0] if found else audio
        text = _text(obj.get(text_field, obj.get("text")), remove_tags)
        lang = obj["lang"] if isinstance(obj.get("lang"), str) else None
        yield Candidate(audio.stem, audio, text, origin, language=lang)


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
    """Prepare IndicVoices in one of the layouts of the module docstring (folder searched recursively).

    ``language`` defaults to the ``lang`` fields or a folder named after it (``Odia``, ``maithili``).
    ``split`` keeps JSON files with a folder of that name below ``data_folder`` (``train``, ``valid``),
    or the hub shards of that split. ``audio_folder``: see :func:`~.parquet.prepare_parquet`.
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
    """Write ``rows`` as one parquet shard in the hub release's schema (test fixtures, own data).

    Each row has ``audio`` (encoded file bytes), ``path`` (file name), ``duration``, ``samples`` and
    any of :data:`HUB_TEXT_COLUMNS` (missing ones are empty strings).

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
