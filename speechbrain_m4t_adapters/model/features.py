"""SeamlessM4T's speech-encoder input features for a padded batch, on any device.

Kaldi 80-bin log-mel filter banks (torchaudio's Kaldi-compatible ``fbank``, which Hugging Face's
``SeamlessM4TFeatureExtractor`` reproduces in numpy), normalised per utterance and mel bin, two
10 ms frames stacked into one 160-dim vector.
"""

import torch
from torch import nn
from torchaudio.compliance import kaldi

SAMPLE_RATE = 16000
FRAME_LENGTH, HOP_LENGTH = 400, 160  # 25 ms windows every 10 ms
NORM_EPS = 1e-7


class SeamlessM4TFbank(nn.Module):
    """Batched SeamlessM4T input features (no gradient flows through them).

    Arguments
    ---------
    num_mel_bins : int
        Mel bins per 10 ms frame (80 for every SeamlessM4T checkpoint).
    stride : int
        Number of consecutive frames stacked into one encoder input vector.
    precision : torch.dtype
        dtype up to the log: float64 is within 1e-4 of the reference extractor; float32 within
        1e-3 and 3x faster on CPU (``quantize=``: same greedy tokens on the mini model's clips).

    Example
    -------
    >>> fbank = SeamlessM4TFbank()
    >>> wavs = torch.randn(2, 16000)
    >>> feats, mask = fbank(wavs, torch.tensor([1.0, 0.5]))
    >>> feats.shape, mask.shape, mask.sum(1).tolist()
    (torch.Size([2, 49, 160]), torch.Size([2, 49]), [49, 24])
    """

    def __init__(
        self, num_mel_bins: int = 80, stride: int = 2, precision: torch.dtype = torch.float64
    ) -> None:
        super().__init__()
        self.num_mel_bins = num_mel_bins
        self.stride = stride
        self.precision = precision

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None, sample_rate: int = SAMPLE_RATE
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute features for a padded batch of 16 kHz waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            (B, T) mono waveforms in [-1, 1], right-padded ((T,): a batch of one).
        wav_lens : torch.Tensor, optional
            (B,) lengths relative to T, in (0, 1] (None: all of T).
        sample_rate : int
            Must be 16000; resample first otherwise.

        Returns
        -------
        features : torch.Tensor
            (B, F, num_mel_bins * stride) float32, zero on padded frames.
        attention_mask : torch.Tensor
            (B, F) long, 1 on valid stacked frames (those whose last 10 ms frame is valid).
        """
        if sample_rate != SAMPLE_RATE:
            raise ValueError(
                f"SeamlessM4T needs 16 kHz audio, got {sample_rate} Hz; resample "
                "first (e.g. torchaudio.functional.resample, as the recipes do)"
            )
        wavs = wavs.unsqueeze(0) if wavs.dim() == 1 else wavs
        if wavs.dim() != 2 or len(wavs) == 0:
            shape = tuple(wavs.shape)
            raise ValueError(f"wavs must be a non-empty (batch, time) batch, got {shape}")
        batch, total = wavs.shape
        relative = torch.ones(batch) if wav_lens is None else wav_lens.float()
        relative = relative.cpu()
        lengths = (relative * total).round().long().tolist()
        if min(lengths) < FRAME_LENGTH:
            short = f"shorter than one 25 ms frame ({FRAME_LENGTH} samples)"
            raise ValueError(f"audio {short}: {lengths}")
        # features are constants for training; autocast would lose ``precision``
        with torch.no_grad(), torch.autocast(wavs.device.type, enabled=False):
            logmels = [self._logmel(wav[:n]) for wav, n in zip(wavs, lengths)]
        # zero frames up to the batch's length in whole stacked frames
        frames = 1 + (total - FRAME_LENGTH) // HOP_LENGTH
        frames += -frames % self.stride
        bins = self.num_mel_bins
        feats = torch.zeros(batch, frames, bins, device=wavs.device)
        for row, logmel in zip(feats, logmels):
            row[: len(logmel)] = logmel
        stacked = [len(logmel) // self.stride for logmel in logmels]
        positions = torch.arange(frames // self.stride, device=wavs.device)
        mask = positions < torch.tensor(stacked, device=wavs.device)[:, None]
        return feats.view(batch, -1, bins * self.stride), mask.long()

    def _logmel(self, wav: torch.Tensor) -> torch.Tensor:
        """(T,) audio -> (F, num_mel_bins) log-mel, per bin mean 0, (unbiased)
        variance 1 (ddof=1, as the reference extractor)."""
        # Kaldi works on the 16-bit integer scale
        waveform = wav.to(self.precision).unsqueeze(0) * 32768.0
        options = dict(window_type="povey", dither=0.0, sample_frequency=SAMPLE_RATE)
        logmel = kaldi.fbank(waveform, num_mel_bins=self.num_mel_bins, **options)
        logmel = logmel.float()
        var = logmel.var(0, correction=int(len(logmel) > 1))
        return (logmel - logmel.mean(0)) / torch.sqrt(var + NORM_EPS)
