"""Configs of the real checkpoints, for counting and planning without a download.

``hf-seamless-m4t-medium``'s config is not among transformers' defaults; these
are the sizes of the Hugging Face conversion (12 Conformer, 12 text-encoder and
12 decoder layers, width 1024, FFN 4096, NLLB vocabulary).
"""

from __future__ import annotations

from transformers import SeamlessM4TConfig, SeamlessM4Tv2Config


def reference_config(name: str) -> SeamlessM4TConfig | SeamlessM4Tv2Config:
    """Config of ``v1-medium`` (the paper's model), ``v1-large`` or ``v2-large``.

    Example
    -------
    >>> reference_config("v1-medium").speech_encoder_layers
    12
    """
    if name == "v1-medium":
        return SeamlessM4TConfig(
            vocab_size=256206,
            hidden_size=1024,
            encoder_layers=12,
            decoder_layers=12,
            speech_encoder_layers=12,
            encoder_ffn_dim=4096,
            decoder_ffn_dim=4096,
            speech_encoder_intermediate_size=4096,
        )
    if name == "v1-large":
        return SeamlessM4TConfig()
    if name == "v2-large":
        return SeamlessM4Tv2Config()
    raise ValueError(f"unknown reference config {name!r}; choose v1-medium, v1-large or v2-large")
