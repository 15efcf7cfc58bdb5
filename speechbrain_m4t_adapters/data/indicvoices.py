"""Preparation of AI4Bharat IndicVoices (the corpus used in the paper), in four layouts.

1., 2. **Per-recording JSON** (ai4bharat.iitm.ac.in download, ``<Language>/v1/<split>/<uuid>.json``)
   and **JSON-lines manifests** (NeMo style): read by :mod:`.indicvoices_layouts`, as the upstream
   recipe reads them (a row per segment, ID ``<uuid>_chunk_<k>``; a row per line, ID the audio stem).
3. **Flat segments**: ``transcripts.tsv`` (``ID<TAB>text``, no header) and ``<ID>.<ext>`` in its
   folder or its ``audio``/``audios``/``wav`` sub-folder.
4. **Hugging Face hub release** (``ai4bharat/IndicVoices``: a snapshot's language folder of
   ``<split>-XXXXX-of-NNNNN.parquet`` shards, audio inside, no test split) streamed by :mod:`.parquet`
   with ``HUB_COLUMNS`` (schema: ``tools/hub_shard.py``): ID the audio struct's ``path`` stem, the hours
   subset speaker-aware, only chosen rows' audio decoded (to ``<manifest stem>_audio/<ID>.wav``).

``data_folder`` may be one ``.json``/``.jsonl`` (1-2), ``.tsv`` (3) or ``.parquet`` (4) file; a folder
is layout 4 if it holds ``.parquet`` files, else 1-2 (every ``*.json``/``*.jsonl`` below it), else 3.
Malformed files, lines and segments are ``bad_row``. ``text_field``: ``verbatim`` (default) or
``normalized``; ``remove_tags=True`` removes bracketed tags such as ``[noise]``; the rest is verbatim.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .indicvoices_layouts import TAG, find_audio, read_listing
from .languages import lookup_language
from .manifest import PathLike, SkipReport
from .parquet import prepare_parquet
from .prepare import Candidate, PrepareOptions, bad_row, id_text_candidates, prepare_manifest

#: Column map of the hub release (layout 4); ``text`` is set from ``text_field``.
HUB_COLUMNS = {"audio": "audio_filepath", "duration": "duration", "speaker": "speaker_id", "language": "lang"}


def _infer_language(path: Path) -> str | None:
    """Language from the nearest folder named after one (``Odia``, ``bengali``)."""
    return next(filter(None, map(lookup_language, reversed(path.parts))), None)


def _text(value: object, remove_tags: bool) -> str:
    text = value if isinstance(value, str) else ""
    return TAG.sub(" ", text) if remove_tags else text


def _json_candidates(path: Path, text_field: str, remove_tags: bool) -> Iterator[Candidate]:
    """Layouts 1 and 2, read by :mod:`.indicvoices_layouts` (as the upstream recipe reads them)."""
    for found in read_listing(str(path), text_field):
        if found.error:
            yield bad_row(found.utterance, found.origin, found.error)
        else:
            text, where, wav = _text(found.text, remove_tags), found.origin, Path(found.audio)
            yield Candidate(found.utterance, wav, text, where, found.start, found.end, found.lang)


def _flat_candidates(listing: Path, remove_tags: bool) -> Iterator[Candidate]:
    """Layout 3: ``ID<TAB>text`` next to the segment audio files."""
    folders = tuple(str(listing.parent / sub) for sub in ("", "audio", "audios", "wav"))
    return id_text_candidates(
        listing, "ID<TAB>text", lambda utt: Path(find_audio(utt, folders)), lambda t: _text(t, remove_tags)
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

    ``language`` defaults to a folder named after it (``Odia``, ``maithili``), else the ``lang`` fields;
    rows whose ``lang`` names another language are skipped as ``bad_row``.
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
                yield from _json_candidates(root, text_field, remove_tags)
            return
        json_files = sorted(p for ext in ("*.json", "*.jsonl") for p in root.rglob(ext))
        if split:
            json_files = [p for p in json_files if split in p.relative_to(root).parts[:-1]]
        if json_files:
            for path in json_files:
                fallback = language or _infer_language(path.relative_to(root.parent))
                for cand in _json_candidates(path, text_field, remove_tags):
                    cand.language = cand.language or fallback
                    yield cand
        elif (root / "transcripts.tsv").is_file():
            yield from _flat_candidates(root / "transcripts.tsv", remove_tags)
        else:
            raise FileNotFoundError(f"no IndicVoices JSON or transcripts.tsv under {root}")

    return prepare_manifest(name, save_csv, opts, candidates, language)
