"""Robust audio loading for data preparation and inference.

Audio is read with ``soundfile`` (wav, flac, ogg, mp3 with libsndfile >= 1.1),
because ``torchaudio.load`` needs ``torchcodec`` in recent torchaudio
releases. Multi-channel audio is mixed down to mono by averaging channels and
resampled with ``torchaudio.functional.resample``.

Every failure raises :class:`AudioError`, a ``ValueError`` whose message names
the offending file, so that data preparation can classify it (see
:attr:`AudioError.reason`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from .manifest import PathLike

#: Reasons carried by :class:`AudioError` (also used as skip reasons).
MISSING = "missing_audio"
CORRUPT = "corrupt_audio"
EMPTY = "empty_audio"


class AudioError(ValueError):
    """An audio file is missing, unreadable or empty.

    Arguments
    ---------
    path : path-like
        The offending file.
    reason : str
        One of ``"missing_audio"``, ``"corrupt_audio"``, ``"empty_audio"``.
    detail : str
        Human-readable explanation.
    """

    def __init__(self, path: PathLike, reason: str, detail: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{reason}: {self.path}: {detail}")


def _check_exists(path: PathLike) -> None:
    if not Path(path).is_file():
        raise AudioError(path, MISSING, "no such file")


def audio_info(path: PathLike) -> tuple[float, int, int]:
    """Read the header of an audio file without decoding the samples.

    Arguments
    ---------
    path : path-like
        Audio file readable by soundfile.

    Returns
    -------
    tuple
        ``(duration_s, sample_rate, channels)``.

    Raises
    ------
    AudioError
        If the file is missing, cannot be parsed or holds no samples.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> sf.write(path, np.zeros(8000, dtype="float32"), 8000)
    >>> audio_info(path)
    (1.0, 8000, 1)
    """
    _check_exists(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for bad data
        raise AudioError(path, CORRUPT, f"cannot read header ({exc})") from exc
    if info.frames <= 0:
        raise AudioError(path, EMPTY, "file contains 0 samples")
    return info.frames / info.samplerate, int(info.samplerate), int(info.channels)


def load_audio(
    path: PathLike,
    target_sr: int = 16000,
    start: float | None = None,
    stop: float | None = None,
) -> torch.Tensor:
    """Load an audio file as a mono float32 waveform at ``target_sr``.

    Arguments
    ---------
    path : path-like
        Audio file readable by soundfile.
    target_sr : int
        Output sampling rate in Hz (resampled if the file differs).
    start, stop : float, optional
        Read only the segment ``[start, stop)`` in seconds (used for
        segmented manifests; ``None`` means file start / file end).

    Returns
    -------
    torch.Tensor
        1-D float32 tensor of samples in ``[-1, 1]``.

    Raises
    ------
    AudioError
        If the file is missing, unreadable/corrupt or holds no samples
        (or the requested segment is empty).

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> sf.write(path, np.zeros((8000, 2), dtype="float32"), 8000)
    >>> wav = load_audio(path)
    >>> wav.shape, wav.dtype
    (torch.Size([16000]), torch.float32)
    """
    _check_exists(path)
    try:
        info = sf.info(str(path))
        sr = int(info.samplerate)
        first = 0 if start is None else max(0, round(start * sr))
        last = None if stop is None else round(stop * sr)
        data, sr = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(path, CORRUPT, f"cannot decode ({exc})") from exc
    if data.shape[0] == 0:
        what = "file" if start is None and stop is None else "segment"
        raise AudioError(path, EMPTY, f"{what} contains 0 samples")
    # Mean over channels: the usual down-mix, keeps amplitude within [-1, 1].
    mono = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if sr != target_sr:
        mono = torchaudio.functional.resample(mono, sr, target_sr)
    return mono.to(torch.float32)
