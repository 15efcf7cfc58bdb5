"""Preparation of AI4Bharat IndicVoices (the corpus used in the paper), in four layouts.

1. **Raw per-recording JSON** (ai4bharat.iitm.ac.in download, ``<Language>/v1/<split>/<uuid>.json``
   next to ``<uuid>.{wav,flac,mp3,ogg}``): a ``verbatim`` list of segments ``{"start": s, "end": s,
   "text": str}``, usually with a parallel ``normalized`` list. One row per segment (``start``/``stop``),
   ID ``<uuid>_chunk_<k>`` (k 1-based, as AI4Bharat's chunking script names them).
2. **JSON-lines manifests** (NeMo style, from AI4Bharat's ``TGZ/create_indicvoices.py``): objects with
   ``audio_filepath`` and ``text`` (maybe ``verbatim``, ``normalized``, ``lang``, ``duration``); ID =
   audio file stem. Relative paths are resolved against the manifest's folder; a missing file is looked
   up by name in that folder, ``audios/`` next to it and ``../audios/``.
3. **Flat segments**: ``transcripts.tsv`` (``ID<TAB>text``, no header) and ``<ID>.<ext>`` in its
   folder or its ``audio``/``audios``/``wav`` sub-folder.
4. **Hugging Face hub release** (``ai4bharat/IndicVoices``, parquet with the audio inside): a local
   snapshot's language folder (``<snapshot>/odia``: ``train-XXXXX-of-NNNNN.parquet``,
   ``valid-00000-of-00001.parquet``, no test split) streamed by :mod:`.parquet`, chosen rows' audio
   decoded to ``<manifest stem>_audio/<ID>.wav``. Columns (published ``dataset_info``):
   ``audio_filepath`` (struct ``{bytes, path}``), ``duration`` (s), ``samples``, string columns
   (``text``, ``lang``, ``verbatim``, ``normalized``, ``speaker_id``, ...; ``tools/hub_shard.py``).
   ID: the struct's ``path`` stem (else ``<shard>_<row>``); the hours subset is speaker-aware
   (``speaker_id``) and unselected rows' audio is never read.

``data_folder`` may be one ``.json``/``.jsonl`` (2), ``.tsv`` (3) or ``.parquet`` (4) file. A folder
with ``.parquet`` files is layout 4; else each ``*.json``/``*.jsonl`` below it is layout 1 if it holds
one object with a ``verbatim`` list, else JSON lines; without JSON files ``transcripts.tsv`` is used.
Unparseable files and malformed segments are ``bad_row``. ``text_field``: ``verbatim`` (default) or
``normalized`` (layout 2: that field if present, else ``text``); ``remove_tags=True`` removes
bracketed tags such as ``[noise]``; the rest is verbatim.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .languages import lookup_language
from .manifest import PathLike, SkipReport
from .parquet import prepare_parquet
from .prepare import Candidate, PrepareOptions, bad_row, id_text_candidates, prepare_manifest

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
#: Column map of the hub release (layout 4); ``text`` is set from ``text_field``.
HUB_COLUMNS = {"audio": "audio_filepath", "duration": "duration", "speaker": "speaker_id", "language": "lang"}
_TAG = re.compile(r"\[[^\]]*\]")


def _infer_language(path: Path) -> str | None:
    """Language from the nearest folder named after one (``Odia``, ``bengali``)."""
    return next(filter(None, map(lookup_language, reversed(path.parts))), None)


def _text(value: object, remove_tags: bool) -> str:
    text = value if isinstance(value, str) else ""
    return _TAG.sub(" ", text) if remove_tags else text


def _find_audio(stem_path: Path, folders: tuple[Path, ...] = ()) -> Path:
    """First existing ``<stem>.<ext>`` in the given folders (default: its own)."""
    folders = folders or (stem_path.parent,)
    found = (folder / (stem_path.name + ext) for folder in folders for ext in AUDIO_EXTENSIONS)
    return next((p for p in found if p.is_file()), folders[0] / (stem_path.name + AUDIO_EXTENSIONS[0]))


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
        error = f"'{text_field}' list missing or not parallel to 'verbatim'"
        yield bad_row(json_path.stem, str(json_path), error)
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
            audio = path.parent / obj["audio_filepath"]  # an absolute path stays as it is
        except (ValueError, KeyError, TypeError):
            yield bad_row(f"{path.name}:{n}", origin, "not a JSON object with 'audio_filepath'")
            continue
        if not audio.is_file():
            folders = (path.parent, path.parent / "audios", path.parent.parent / "audios")
            audio = next((f / audio.name for f in folders if (f / audio.name).is_file()), audio)
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
    folders = tuple(listing.parent / sub for sub in ("", "audio", "audios", "wav"))
    return id_text_candidates(
        listing, "ID<TAB>text", lambda utt: _find_audio(Path(utt), folders), lambda t: _text(t, remove_tags)
    )


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
    or the hub shards of that split. ``audio_folder``: see :func:`~.parquet.prepare_parquet`."""
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
        tags = (lambda t: _text(t, True)) if remove_tags else None
        return prepare_parquet(
            root, save_csv, columns, split, language, audio_folder, tags, name=name, options=opts
        )

    def candidates(report: SkipReport) -> Iterator[Candidate]:
        """Layouts 1-3 under ``root`` (or in the single file ``root``)."""
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

    return prepare_manifest(name, save_csv, opts, candidates, language)
