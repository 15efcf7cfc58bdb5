"""Configs of the real checkpoints, for counting and planning without a download.

``hf-seamless-m4t-medium`` (not among transformers' defaults): 12 Conformer, text-encoder and
decoder layers, width 1024, FFN 4096, NLLB vocabulary.
"""

from transformers import SeamlessM4TConfig, SeamlessM4Tv2Config


def reference_config(name: str) -> SeamlessM4TConfig | SeamlessM4Tv2Config:
    """Config of ``v1-medium`` (the paper's model), ``v1-large`` or ``v2-large``.

    Example
    -------
    >>> reference_config("v1-medium").speech_encoder_layers
    12
    """
    if name == "v1-medium":
        layers = dict.fromkeys(("encoder_layers", "decoder_layers", "speech_encoder_layers"), 12)
        ffn = dict.fromkeys(("encoder_ffn_dim", "decoder_ffn_dim", "speech_encoder_intermediate_size"), 4096)
        return SeamlessM4TConfig(vocab_size=256206, hidden_size=1024, **layers, **ffn)
    if name == "v1-large":
        return SeamlessM4TConfig()
    if name == "v2-large":
        return SeamlessM4Tv2Config()
    raise ValueError(f"unknown reference config {name!r}; choose v1-medium, v1-large or v2-large")
