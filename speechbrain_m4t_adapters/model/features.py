"""Batched SeamlessM4T filter-bank features on tensors.

SeamlessM4T's speech encoder reads Kaldi-style 80-bin log-mel filter banks, normalised per
utterance and mel bin, two 10 ms frames stacked into one 160-dim vector. Hugging Face's
``SeamlessM4TFeatureExtractor`` computes them per utterance in numpy; this module computes the
same for a padded batch in torch, on any device.
"""

import torch
from torch import nn

SAMPLE_RATE = 16000
FRAME_LENGTH = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms
FFT_LENGTH = 512
PREEMPHASIS = 0.97
MEL_FLOOR = 1.192092955078125e-07  # float32 epsilon, as Kaldi and HF use
NORM_EPS = 1e-7


def _povey_window(length: int) -> torch.Tensor:
    """Kaldi's "povey" window: a Hann window raised to the power 0.85."""
    return torch.hann_window(length, periodic=False, dtype=torch.float64).pow(0.85).float()


def _kaldi_mel_filters(num_mel_bins: int) -> torch.Tensor:
    """Mel filter matrix (FFT_LENGTH // 2 + 1, num_mel_bins): Kaldi mel triangles from 20 Hz to Nyquist."""
    fft_freqs = torch.linspace(0, SAMPLE_RATE // 2, FFT_LENGTH // 2 + 1, dtype=torch.float64)
    edges = torch.tensor([20.0, SAMPLE_RATE / 2], dtype=torch.float64)
    # Kaldi's mel scale of the FFT bins and of the band edges
    fft_mels, (mel_min, mel_max) = (1127.0 * torch.log1p(hz / 700.0) for hz in (fft_freqs, edges))
    mel_points = torch.linspace(mel_min, mel_max, num_mel_bins + 2, dtype=torch.float64)
    fft_mels = fft_mels.unsqueeze(1)  # (num_freqs, 1)
    lower, centre, upper = mel_points[:-2], mel_points[1:-1], mel_points[2:]
    rising = (fft_mels - lower) / (centre - lower)
    falling = (upper - fft_mels) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class SeamlessM4TFbank(nn.Module):
    """Batched SeamlessM4T input features (no gradient flows through them).

    Arguments
    ---------
    num_mel_bins : int
        Mel bins per 10 ms frame (80 for every SeamlessM4T checkpoint).
    stride : int
        Number of consecutive frames stacked into one encoder input vector.
    precision : torch.dtype
        dtype up to the log: float64 is within 3e-4 of the reference extractor; float32 within
        1e-3 and 5x faster on CPU (``quantize=``: same greedy tokens on the mini model's clips).

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
        self.register_buffer("window", _povey_window(FRAME_LENGTH), persistent=False)
        self.register_buffer("mel_filters", _kaldi_mel_filters(num_mel_bins), persistent=False)

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
            (B, F) long, 1 on valid stacked frames.
        """
        if sample_rate != SAMPLE_RATE:
            raise ValueError(
                f"SeamlessM4T needs 16 kHz audio, got {sample_rate} Hz; resample first "
                "(e.g. torchaudio.functional.resample, as the recipes' audio pipelines do)."
            )
        # Features are constants for training; autocast would lose ``precision``.
        with torch.no_grad(), torch.autocast(device_type=wavs.device.type, enabled=False):
            return self._compute(wavs, wav_lens)

    def _compute(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wavs.dim() != 2:
            raise ValueError(f"wavs must be (batch, time) mono audio, got shape {tuple(wavs.shape)}")
        batch, total = wavs.shape
        if wav_lens is None:
            lengths = torch.full((batch,), total, device=wavs.device)
        else:
            lengths = torch.round(wav_lens.to(wavs.device).float() * total).long()
        if int(lengths.min()) < FRAME_LENGTH:
            raise ValueError(
                f"audio shorter than one 25 ms frame ({FRAME_LENGTH} samples): lengths {lengths.tolist()}"
            )

        # Kaldi works on 16-bit integer scale.
        frames = (wavs.to(self.precision) * 32768.0).unfold(-1, FRAME_LENGTH, HOP_LENGTH)  # (B, F, 400) view
        centred = frames - frames.mean(dim=-1, keepdim=True)  # DC offset removal per frame
        # Pre-emphasis and window written into one buffer (2x faster than cat + multiply).
        windowed = torch.empty_like(centred)
        windowed[..., 0] = centred[..., 0] * (1 - PREEMPHASIS)
        torch.add(centred[..., 1:], centred[..., :-1], alpha=-PREEMPHASIS, out=windowed[..., 1:])
        windowed.mul_(self.window.to(self.precision))
        spectrum = torch.fft.rfft(windowed, n=FFT_LENGTH)  # (B, F, 257)
        power = spectrum.real.square() + spectrum.imag.square()  # |X|^2 without abs()'s sqrt: 4x faster
        logmel = torch.clamp(power @ self.mel_filters.to(self.precision), min=MEL_FLOOR).log().float()

        num_frames = 1 + torch.div(lengths - FRAME_LENGTH, HOP_LENGTH, rounding_mode="floor")
        count = num_frames.view(-1, 1, 1).float()
        valid = torch.arange(logmel.shape[1], device=wavs.device)[:, None] < count  # (B, F, 1)
        mean = (logmel * valid).sum(1, keepdim=True) / count
        # Unbiased variance (ddof=1), as the reference extractor uses.
        var = ((logmel - mean).pow(2) * valid).sum(1, keepdim=True) / (count - 1).clamp(min=1)
        feats = ((logmel - mean) / torch.sqrt(var + NORM_EPS)) * valid

        extra = -feats.shape[1] % self.stride  # padding frames up to a whole stacked frame
        feats = nn.functional.pad(feats, (0, 0, 0, extra)).reshape(batch, -1, self.num_mel_bins * self.stride)
        frame_mask = nn.functional.pad(valid[..., 0].long(), (0, extra))
        # A stacked frame is valid when its last 10 ms frame is (the reference convention).
        return feats, frame_mask[:, self.stride - 1 :: self.stride]
