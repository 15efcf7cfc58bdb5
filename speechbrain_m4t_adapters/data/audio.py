"""Robust audio loading for data preparation and inference.

Audio is read with ``soundfile`` (wav, flac, ogg, mp3 with libsndfile >= 1.1; ``torchaudio.load``
needs ``torchcodec`` in recent releases), averaged to mono and resampled with
``torchaudio.functional.resample``. Every failure raises :class:`AudioError` naming the file, with a
:attr:`~AudioError.reason` used as skip reason. Samples must be finite (``nonfinite_audio``): one NaN
clip turns every gradient of a training batch into NaN."""

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from .manifest import PathLike


class AudioError(ValueError):
    """An audio file ``path`` is missing, unreadable or empty: ``reason`` is ``missing_audio``,
    ``corrupt_audio``, ``empty_audio``, ``nonfinite_audio`` or ``truncated_audio``."""

    def __init__(self, path: PathLike, reason: str, detail: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{reason}: {self.path}: {detail}")


def _check_exists(path: PathLike) -> None:
    if not Path(path).is_file():
        raise AudioError(path, "missing_audio", "no such file")
    check_wav_complete(path)  # libsndfile would silently read a cut copy as a shorter clip


def audio_info(path: PathLike) -> tuple[float, int, int]:
    """``(duration_s, sample_rate, channels)`` from the header (:class:`AudioError`: missing, bad, empty).

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
        raise AudioError(path, "corrupt_audio", f"cannot read header ({exc})") from exc
    if info.frames <= 0:
        raise AudioError(path, "empty_audio", "file contains 0 samples")
    return info.frames / info.samplerate, int(info.samplerate), int(info.channels)


def load_audio(
    path: PathLike, target_sr: int = 16000, start: float | None = None, stop: float | None = None
) -> torch.Tensor:
    """Load ``path`` as a 1-D mono float32 tensor in ``[-1, 1]`` at ``target_sr`` Hz.

    ``start``/``stop`` (s; None: file start/end) read the segment ``[start, stop)`` only. Raises
    :class:`AudioError` for a missing, corrupt, truncated, empty (file or segment) or non-finite file.

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
        sr = int(sf.info(str(path)).samplerate)
        first = 0 if start is None else max(0, round(start * sr))
        last = None if stop is None else round(stop * sr)
        data, sr = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(path, "corrupt_audio", f"cannot decode ({exc})") from exc
    if data.shape[0] == 0:
        what = "file" if start is None and stop is None else "segment"
        raise AudioError(path, "empty_audio", f"{what} contains 0 samples")
    bad = ~np.isfinite(data).all(axis=1)
    if bad.any():
        detail = f"{int(bad.sum())} of {data.shape[0]} frames are NaN or infinite"
        raise AudioError(path, "nonfinite_audio", f"{detail} (first at frame {int(np.argmax(bad)) + first})")
    # Mean over channels: the usual down-mix, keeps amplitude within [-1, 1].
    mono = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if sr != target_sr:
        mono = torchaudio.functional.resample(mono, sr, target_sr)
    return mono.to(torch.float32)


def check_wav_complete(path: PathLike) -> None:
    """Raise ``truncated_audio`` if a WAV holds fewer bytes of samples than its header declares.

    libsndfile silently reads what is there, so a copy cut short would pass as a shorter clip.
    Non-RIFF/WAVE files and streamed WAVs leaving the size open (``0``/``0xFFFFFFFF``) are not checked.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> sf.write(path, np.zeros(800, dtype="float32"), 8000, subtype="PCM_16")
    >>> check_wav_complete(path)
    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(400)
    >>> try:
    ...     check_wav_complete(path)
    ... except AudioError as error:
    ...     print(error.reason)
    truncated_audio
    """
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        riff = f.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(8)
            chunk, length = header[:4], int.from_bytes(header[4:], "little")
            if chunk == b"data":
                present = size - offset - 8
                if length not in (0, 0xFFFFFFFF) and present < length:
                    detail = f"header declares {length} bytes of samples, the file holds {present}"
                    raise AudioError(path, "truncated_audio", detail)
                return
            offset += 8 + length + (length % 2)  # chunks are word-aligned
