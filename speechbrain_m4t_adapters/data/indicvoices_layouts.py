"""IndicVoices transcripts as its releases list them, and how hours subsets are drawn: one source
for the plugin's ``data/indicvoices.py`` and the upstream recipe's ``indicvoices_prepare.py`` (laid
out beside it), which check what they read each its own way. Standard library only.

* per-recording JSON (ai4bharat.iitm.ac.in): ``<id>.json`` holding a ``verbatim`` list of
  ``{"start", "end", "text"}`` segments (maybe a parallel ``normalized`` list) beside ``<id>.wav``
  (``.flac``, ``.mp3``, ``.ogg``): ID ``<id>_chunk_<k>`` (k from 1, as AI4Bharat's script names them);
* JSON lines (NeMo style): ``{"audio_filepath", "text", ...}`` (maybe ``verbatim``, ``normalized``,
  ``lang``, ``duration``), paths relative to the file, else found by name beside it, in ``audios/``
  or ``../audios/``; ID: the audio file's stem.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
SEGMENT_END_TOLERANCE = 0.1  # s a segment may end past the end of its recording
TAG = re.compile(r"\[[^\]]*\]")  # [noise], [laughter], ...


class Segment(NamedTuple):
    """A listed utterance: ``start``/``end`` in s (None: the whole file); the rest as listed;
    ``error``: why an entry could not be read (then only ``utterance`` and ``origin`` are set)."""

    utterance: str
    audio: str
    text: object
    origin: str
    start: float | None = None
    end: float | None = None
    lang: str | None = None
    duration: object = None
    error: str | None = None


def find_audio(stem: str, folders: Sequence[str] = ()) -> str:
    """The first ``<stem's name>.<ext>`` in ``folders`` (default: its own), else its ``.wav`` in the first."""
    folders = folders or (os.path.dirname(stem),)
    name = os.path.basename(stem)
    found = (os.path.join(f, name + ext) for f in folders for ext in AUDIO_EXTENSIONS)
    return next((p for p in found if os.path.isfile(p)), os.path.join(folders[0], name + ".wav"))


def read_listing(path: str, text_field: str = "verbatim") -> Iterator[Segment]:
    """The segments of one per-recording JSON file or JSON-lines file, in order.

    Example
    -------
    >>> import tempfile
    >>> listing = os.path.join(tempfile.mkdtemp(), "rec.json")
    >>> _ = open(listing, "w").write('{"verbatim": [{"start": -0.1, "end": 2, "text": "a"}, {}]}')
    >>> first, second = read_listing(listing)
    >>> first.utterance, first.start, first.end, second.error
    ('rec_chunk_1', 0.0, 2.0, 'segment without numeric start/end')
    """
    with open(path, encoding="utf-8") as stream:
        content = stream.read()
    try:
        recording = json.loads(content)
    except ValueError:
        recording = None
    if isinstance(recording, dict) and isinstance(recording.get("verbatim"), list):
        yield from _recording_segments(path, recording, text_field)
        return
    for number, line in enumerate(content.splitlines(), start=1):
        if line.strip():
            yield _line_segment(path, number, line, text_field)


def _unusable(utterance: str, origin: str, error: str) -> Segment:
    return Segment(utterance, "", None, origin, error=error)


def _label(value: object) -> str | None:
    return value if isinstance(value, str) and value else None  # a language label, if any


def _recording_segments(path: str, recording: dict, text_field: str) -> Iterator[Segment]:
    stem = os.path.splitext(path)[0]
    audio, segments = find_audio(stem), recording["verbatim"]
    texts = recording.get(text_field, segments)
    lang = _label(recording.get("lang")) or _label(recording.get("language"))
    if not isinstance(texts, list) or len(texts) != len(segments):
        yield _unusable(os.path.basename(stem), path, f"'{text_field}' is not a list parallel to 'verbatim'")
        return
    for k, (segment, text) in enumerate(zip(segments, texts), start=1):
        utterance, origin = f"{os.path.basename(stem)}_chunk_{k}", f"{path}:segment {k}"
        try:
            start, end = float(segment["start"]), float(segment["end"])
        except (KeyError, TypeError, ValueError):
            yield _unusable(utterance, origin, "segment without numeric start/end")
            continue
        text = text.get("text") if isinstance(text, dict) else None
        yield Segment(utterance, audio, text, origin, max(start, 0.0), end, lang)  # as AI4Bharat clamps


def _line_segment(path: str, number: int, line: str, text_field: str) -> Segment:
    origin = f"{path}:{number}"
    try:
        entry = json.loads(line)
        audio = os.path.join(os.path.dirname(path), entry["audio_filepath"])  # absolute stays
    except (ValueError, KeyError, TypeError):
        reason = "not a JSON object with 'audio_filepath'"
        return _unusable(f"{os.path.basename(path)}:{number}", origin, reason)
    near, name = os.path.dirname(path), os.path.basename(audio)
    folders = (near, os.path.join(near, "audios"), os.path.join(os.path.dirname(near), "audios"))
    found = (p for p in [audio, *(os.path.join(f, name) for f in folders)] if os.path.isfile(p))
    audio = next(found, audio)
    text, utterance = entry.get(text_field, entry.get("text")), os.path.splitext(os.path.basename(audio))[0]
    lang, duration = _label(entry.get("lang")), entry.get("duration")
    return Segment(utterance, audio, text, origin, None, None, lang, duration)


def selection_order(n: int, seed: int = 1234, speakers: Sequence[str | None] | None = None) -> list[int]:
    """Seeded visiting order of ``n`` rows: a shuffle, or with ``speakers`` (unlabelled rows: one each)
    speakers taking turns in a seeded order, so that a budget spreads over as many of them as it can.

    Example
    -------
    >>> order = selection_order(4, seed=0, speakers=["a", "a", "a", "b"])
    >>> sorted(order), order.index(3) <= 1      # "b" gets a turn in round one
    ([0, 1, 2, 3], True)
    """
    rng = random.Random(seed)
    if speakers is None:
        order = list(range(n))
        rng.shuffle(order)
        return order
    groups: dict[str, list[int]] = {}
    for i, spk in enumerate(speakers):
        groups.setdefault(f"spk:{spk}" if spk else f"row:{i}", []).append(i)
    keys = sorted(groups)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    turns = itertools.zip_longest(*(groups[k] for k in keys))  # round r: each speaker's r-th utterance
    return [i for turn in turns for i in turn if i is not None]


def draw_subsets(
    durations: Sequence[float], budgets: Sequence[float], seed: int = 1234, speakers: Sequence | None = None
) -> list[list[int]]:
    """Disjoint subsets (ascending indices) of rows of these ``durations`` (s), one per budget (hours),
    each filled in :func:`selection_order` with the rows that still fit, from what the others left.

    Example
    -------
    >>> first, second = draw_subsets([600.0] * 10, [0.5, 0.5], seed=3)
    >>> len(first), len(second), set(first) & set(second)
    (3, 3, set())
    """
    order, subsets = selection_order(len(durations), seed, speakers), []
    for hours in budgets:
        taken, total = set(), 0.0
        for i in order:
            if total + durations[i] <= hours * 3600.0:
                taken.add(i)
                total += durations[i]
        order = [i for i in order if i not in taken]
        subsets.append(sorted(taken))
    return subsets
