"""Cut long recordings into silence-aligned chunks the model can handle.

SeamlessM4T was trained on utterances of up to about 30 s; longer input
degrades or exhausts memory, and silently truncating it would lose words.
:func:`chunk_bounds` cuts a waveform into consecutive, non-overlapping chunks
that together cover every sample, none longer than ``max_seconds``:

1. A waveform no longer than ``max_seconds`` is one chunk.
2. Otherwise, the next cut is searched for in the ``search_seconds`` just
   before the limit (default: ``min(5 s, max_seconds / 3)``). The cut goes to
   the centre of the quietest 10 ms hop (25 ms analysis window, mean power)
   in that window, which is usually a pause between words.
3. The last ``min_seconds`` (default ``min(1 s, search_seconds / 2)``) are
   excluded from the search so that no tiny, unrecognisable tail remains.

The transcripts of the chunks are joined with a single space
(:func:`join_texts`). Without overlap no word is transcribed twice; a word
cut in the middle (when the speech has no pause in the search window) may
be garbled, which is the price of never dropping audio.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

SAMPLE_RATE = 16000
#: Analysis window and hop of the energy search (25 ms / 10 ms at 16 kHz).
WINDOW = 400
HOP = 160


def chunk_bounds(
    wav: torch.Tensor,
    max_seconds: float | None = 30.0,
    sample_rate: int = SAMPLE_RATE,
    search_seconds: float | None = None,
    min_seconds: float | None = None,
) -> list[tuple[int, int]]:
    """Sample ranges ``[start, end)`` of the chunks of a 1-D waveform.

    Arguments
    ---------
    wav : torch.Tensor
        1-D waveform.
    max_seconds : float or None
        Longest chunk; ``None`` or ``<= 0`` disables chunking (one chunk).
    sample_rate : int
        Sampling rate of ``wav``.
    search_seconds : float, optional
        Length of the window before each limit searched for the quietest
        point; default ``min(5, max_seconds / 3)``.
    min_seconds : float, optional
        Shortest remainder left after a cut; default ``min(1, search_seconds / 2)``.

    Returns
    -------
    list of (int, int)
        Consecutive ranges: the first starts at 0, each starts where the
        previous ends, the last ends at ``len(wav)``.

    Example
    -------
    >>> wav = torch.ones(16000 * 10)
    >>> wav[60000:61000] = wav[110000:111000] = 0.0  # pauses at 3.8 s and 6.9 s
    >>> chunk_bounds(wav, max_seconds=4.0)
    [(0, 60267), (60267, 110294), (110294, 160000)]
    >>> chunk_bounds(wav[:32000], max_seconds=4.0)
    [(0, 32000)]
    """
    total = int(wav.shape[-1])
    if not max_seconds or max_seconds <= 0 or total <= max_seconds * sample_rate:
        return [(0, total)]
    limit = int(max_seconds * sample_rate)
    search = int((search_seconds if search_seconds is not None else min(5.0, max_seconds / 3)) * sample_rate)
    search = max(1, min(search, limit))
    min_tail = int(
        (min_seconds if min_seconds is not None else min(1.0, search / sample_rate / 2)) * sample_rate
    )
    min_tail = min(min_tail, search - 1)
    bounds = []
    start = 0
    while total - start > limit:
        hi = min(start + limit, total - min_tail)
        lo = max(start + 1, start + limit - search)
        cut = _quietest_point(wav, lo, hi)
        bounds.append((start, cut))
        start = cut
    bounds.append((start, total))
    return bounds


def _quietest_point(wav: torch.Tensor, lo: int, hi: int) -> int:
    """Sample index in ``[lo, hi]`` at the centre of the lowest-power window."""
    # Windows centred on lo, lo + HOP, ...; pad so the edge windows exist.
    first = lo - WINDOW // 2
    segment = wav[max(0, first) : hi + WINDOW // 2].double()
    segment = torch.nn.functional.pad(segment, (max(0, -first), 0))
    if segment.numel() < WINDOW:
        return hi
    power = segment.unfold(0, WINDOW, HOP).pow(2).mean(dim=1)
    centres = lo + HOP * torch.arange(power.numel())
    valid = centres <= hi
    # argmin takes the first minimum: within an all-silent stretch, the earliest point.
    best = int(torch.argmin(power[valid]))
    return int(centres[valid][best])


def split_audio(
    wav: torch.Tensor,
    max_seconds: float | None = 30.0,
    sample_rate: int = SAMPLE_RATE,
    **kwargs,
) -> list[torch.Tensor]:
    """Chunks of a 1-D waveform (views, see :func:`chunk_bounds` for the arguments).

    Example
    -------
    >>> parts = split_audio(torch.randn(16000 * 9), max_seconds=4.0)
    >>> len(parts), sum(p.numel() for p in parts), max(p.numel() for p in parts) <= 64000
    (3, 144000, True)
    """
    return [wav[start:end] for start, end in chunk_bounds(wav, max_seconds, sample_rate, **kwargs)]


def join_texts(texts: Sequence[str]) -> str:
    """Join chunk transcripts with one space, skipping empty ones.

    Example
    -------
    >>> join_texts(["ଆମେ ଭଲ ", "", " ଅଛୁ"])
    'ଆମେ ଭଲ ଅଛୁ'
    """
    return " ".join(t.strip() for t in texts if t and t.strip())
