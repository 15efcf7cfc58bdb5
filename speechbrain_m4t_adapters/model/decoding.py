"""Decoding conveniences over the lobe: transcribe, translate, and long recordings cut at pauses.

SeamlessM4T was trained on utterances of up to about 30 s: :func:`chunk_bounds` cuts longer audio
into consecutive chunks, each at the quietest 10 ms hop (25 ms window) in the ``search_seconds``
before the limit (usually a pause), leaving no tail under ``min_seconds``. Transcripts are joined
with one space: no word is transcribed twice, but a cut where the speech never pauses may garble one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from speechbrain.utils.data_utils import batch_pad_right

if TYPE_CHECKING:  # pragma: no cover
    from .lobe import SeamlessM4T

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
        Window before each limit searched for the quietest point; default ``min(5, max_seconds / 3)``.
    min_seconds : float, optional
        Shortest remainder left after a cut; default ``min(1, search_seconds / 2)``.

    Returns
    -------
    list of (int, int)
        Consecutive ranges from 0 to ``len(wav)``, each starting where the previous ends.

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
    min_seconds = min(1.0, search / sample_rate / 2) if min_seconds is None else min_seconds
    min_tail = min(int(min_seconds * sample_rate), search - 1)
    bounds, start = [], 0
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
    wav: torch.Tensor, max_seconds: float | None = 30.0, sample_rate: int = SAMPLE_RATE, **kwargs
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


@torch.no_grad()
def transcribe(
    m4t: SeamlessM4T,
    wavs: torch.Tensor,
    wav_lens: torch.Tensor | None,
    lang: str | Sequence[str],
    num_beams: int = 1,
    max_new_tokens: int | None = None,
) -> list[str]:
    """Speech (B, T) at 16 kHz -> text in ``lang`` (ASR when ``lang`` is the spoken language).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_m4t_adapters import SeamlessM4T
    >>> from speechbrain_m4t_adapters.tiny import build_tiny_model
    >>> m4t = SeamlessM4T(build_tiny_model(tempfile.mkdtemp(), "v2", vocab_size=400))
    >>> len(transcribe(m4t, torch.randn(2, 16000), torch.tensor([1.0, 0.7]), "ory", max_new_tokens=5))
    2
    """
    hidden, mask = m4t(wavs, wav_lens)
    return m4t.decode_tokens(m4t.generate(hidden, mask, lang, num_beams, max_new_tokens))


def transcribe_chunks(
    m4t: SeamlessM4T, chunks: Sequence[torch.Tensor], lang: str, batch_size: int = 8, **search
) -> str:
    """Decode the chunks of one recording (from :func:`split_audio`) ``batch_size`` at a time, joined."""
    texts: list[str] = []
    for i in range(0, len(chunks), batch_size):
        wavs, lens = batch_pad_right(list(chunks[i : i + batch_size]))
        texts += transcribe(m4t, wavs, lens, lang, **search)
    return join_texts(texts)


@torch.no_grad()
def translate(
    m4t: SeamlessM4T,
    texts: Sequence[str],
    src_lang: str | Sequence[str],
    tgt_lang: str | Sequence[str],
    num_beams: int = 1,
    max_new_tokens: int | None = None,
) -> list[str]:
    """Text -> text through the text encoder and the shared decoder."""
    hidden, mask = m4t.encode_text(*m4t.text_ids.batch_sources(texts, src_lang, device=m4t.device))
    return m4t.decode_tokens(m4t.generate(hidden, mask, tgt_lang, num_beams, max_new_tokens))
