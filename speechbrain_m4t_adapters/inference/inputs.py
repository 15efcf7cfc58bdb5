"""What to transcribe: audio files, folders of them, or ASR manifests, each an :class:`AudioInput`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..data.manifest import AsrEntry, read_asr_manifest

#: File suffixes collected from folders (what soundfile/libsndfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")


@dataclass
class AudioInput:
    """One recording, or its segment ``start``..``stop`` in seconds (None: file start / end), to transcribe.

    ``id`` names it in outputs; ``lang`` is the spoken language (ISO 639-3) if known,
    ``reference`` a manifest's transcript, for scoring."""

    id: str
    path: str
    lang: str | None = None
    start: float | None = None
    stop: float | None = None
    reference: str | None = None

    @classmethod
    def from_entry(cls, entry: AsrEntry) -> AudioInput:
        """Build from a manifest row (keeps its language, segment and transcript)."""
        return cls(entry.id, entry.wav, entry.language or None, entry.start, entry.stop, entry.transcript)


InputLike = str | os.PathLike | AudioInput | AsrEntry


def as_input(item: InputLike) -> AudioInput:
    """Turn a path, :class:`AudioInput` or manifest row into an :class:`AudioInput`.

    Example
    -------
    >>> as_input("clips/u1.wav")
    AudioInput(id='u1', path='clips/u1.wav', lang=None, start=None, stop=None, reference=None)
    """
    if isinstance(item, AudioInput):
        return item
    if isinstance(item, AsrEntry):
        return AudioInput.from_entry(item)
    return AudioInput(Path(item).stem, str(item))


def collect_inputs(sources: Sequence[str | os.PathLike]) -> list[AudioInput]:
    """Expand files, folders (searched recursively) and ``.csv`` manifests, in the order given.

    A folder gives its files with a suffix in :data:`AUDIO_SUFFIXES`, sorted, with ids relative
    to it (without suffix); FileNotFoundError if it has none. A ``.csv`` is read as an ASR
    manifest (ManifestError if malformed). Any other path is an audio file, even a missing one
    (it then fails at transcription, named)."""
    inputs: list[AudioInput] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{path}: folder holds no audio file ({', '.join(AUDIO_SUFFIXES)})")
            inputs.extend(AudioInput(p.relative_to(path).with_suffix("").as_posix(), str(p)) for p in found)
        elif path.suffix.lower() == ".csv":
            inputs.extend(AudioInput.from_entry(e) for e in read_asr_manifest(path))
        else:
            inputs.append(as_input(path))
    return inputs


def unique_ids(inputs: Iterable[AudioInput]) -> list[AudioInput]:
    """Make ids unique by appending ``#2``, ``#3``... to repeats (files of the same name)."""
    seen: dict[str, int] = {}
    result = []
    for item in inputs:
        count = seen[item.id] = seen.get(item.id, 0) + 1
        result.append(dataclasses.replace(item, id=f"{item.id}#{count}") if count > 1 else item)
    return result
