"""The mini SeamlessM4T: languages, tokenizer corpus and config (issue 9).

A small SeamlessM4T v2 with the real classes and layout (speech encoder with
length adaptor, text encoder, ONE shared decoder, ``__xxx__`` language
tokens), pretrained by ``tools/mini/pretrain.py`` on real FLORES-200 dev
text and synthetic espeak-ng speech. Its speech tasks cover
:data:`PRETRAIN_SPEECH_LANGUAGES`: twelve high-resource languages and Odia as a
:data:`LOW_RESOURCE_LANGUAGES` one (a tenth of the clips), as the paper's base
model knows Odia speech a little; Maithili (:data:`NEVER_HEARD_LANGUAGES`)
appears only as text.

Differences from the hub configs, all plain config fields of the same
classes: small width and layer counts, and a length adaptor of stride and
kernel 4 instead of 8 (12.5 encoder frames per second instead of 6.25, so
fast synthetic speech still has more frames than target tokens).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from transformers import SeamlessM4Tv2Config

from .data.languages import FLORES_CODES
from .evaluation.normalize import normalize_text
from .tiny import build_tiny_model, tiny_config

#: Every language of the mini model (ISO 639-3 code -> FLORES-200 file stem). Each gets a ``__code__`` token.
MINI_LANGUAGES = FLORES_CODES
#: Adaptation targets of the experiments (recipes/Odia, recipes/Maithili).
TARGET_LANGUAGES = ("ory", "mai")
#: Heard in pretraining, but little (400 clips against 4,000 per other language): Odia.
LOW_RESOURCE_LANGUAGES = ("ory",)
#: Never heard in pretraining (text only): Maithili, the zero-shot target.
NEVER_HEARD_LANGUAGES = ("mai",)
#: Languages the mini model hears in pretraining (ASR): all but Maithili, Odia as a low-resource one.
PRETRAIN_SPEECH_LANGUAGES = tuple(code for code in MINI_LANGUAGES if code not in NEVER_HEARD_LANGUAGES)


def mini_config(
    vocab_size: int,
    hidden_size: int = 144,
    speech_layers: int = 3,
    text_encoder_layers: int = 2,
    decoder_layers: int = 2,
    ffn_multiplier: int = 4,
    adaptor_stride: int = 4,
    conv_kernel: int = 15,
    dropout: float = 0.1,
    initializer_range: float = 0.02,
) -> SeamlessM4Tv2Config:
    """Config of the mini SeamlessM4T v2 (speech-output towers tiny, never used).

    Arguments
    ---------
    vocab_size : int
        Tokenizer size, language tokens included.
    hidden_size : int
        Model width (a multiple of 4: 4 attention heads).
    speech_layers, text_encoder_layers, decoder_layers : int
        Layers of the Conformer, text encoder and shared decoder.
    ffn_multiplier : int
        Feed-forward width / model width.
    adaptor_stride : int
        Length-adaptor stride and kernel (hub models: 8).
    conv_kernel : int
        Conformer depthwise convolution kernel (hub models: 31).
    dropout : float
        Dropout of every stack during pretraining.
    initializer_range : float
        Std of the initial weights.

    Example
    -------
    >>> cfg = mini_config(vocab_size=2000)
    >>> cfg.model_type, cfg.hidden_size, cfg.speech_encoder_layers, cfg.adaptor_stride
    ('seamless_m4t_v2', 144, 3, 4)
    """
    ffn = ffn_multiplier * hidden_size
    return tiny_config(
        "v2",
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        layers=decoder_layers,
        initializer_range=initializer_range,
        **_overrides(speech_layers, text_encoder_layers, ffn, adaptor_stride, conv_kernel, dropout),
    )


def _overrides(
    speech_layers: int, text_encoder_layers: int, ffn: int, stride: int, conv_kernel: int, dropout: float
) -> dict:
    return dict(
        speech_encoder_layers=speech_layers,
        encoder_layers=text_encoder_layers,
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn,
        speech_encoder_intermediate_size=ffn,
        adaptor_kernel_size=stride,
        adaptor_stride=stride,
        conv_depthwise_kernel_size=conv_kernel,
        dropout=dropout,
        speech_encoder_dropout=dropout,
        adaptor_dropout=dropout,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )


def write_tokenizer_corpus(rows: Iterable[tuple[str, str]], path: str | Path) -> Path:
    """Write normalised text (one line per ``(lang, text)`` row) for SentencePiece.

    The mini model's targets are normalised text (no punctuation, lowercase
    Latin), so the tokenizer is trained on the same form.

    Example
    -------
    >>> import tempfile
    >>> p = write_tokenizer_corpus([("eng", "Hello, World!")], Path(tempfile.mkdtemp()) / "c.txt")
    >>> p.read_text()
    'hello world\\n'
    """
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        for lang, text in rows:
            line = normalize_text(text, lang)
            if line:
                f.write(line + "\n")
    return path


def build_mini_init(
    output_dir: str | Path,
    corpus: str | Path,
    vocab_size: int = 4000,
    seed: int = 0,
    **config_kwargs,
) -> Path:
    """Save a randomly initialised mini model folder (the starting point of pretraining).

    The tokenizer is SentencePiece BPE over ``corpus`` with a ``__code__``
    token for each of :data:`MINI_LANGUAGES`; the folder loads with
    :class:`~speechbrain_m4t_adapters.SeamlessM4T` like a hub checkpoint.

    Arguments
    ---------
    output_dir : str or Path
        Folder to write.
    corpus : str or Path
        Tokenizer text (see :func:`write_tokenizer_corpus`).
    vocab_size : int
        SentencePiece pieces (language tokens come on top).
    seed : int
        Seed of the initial weights.
    **config_kwargs
        Arguments of :func:`mini_config` except ``vocab_size``.

    Returns
    -------
    Path of the folder.
    """
    config = mini_config(vocab_size=vocab_size, **config_kwargs)
    fields = (
        "speech_encoder_layers",
        "encoder_layers",
        "encoder_ffn_dim",
        "decoder_ffn_dim",
        "speech_encoder_intermediate_size",
        "adaptor_kernel_size",
        "adaptor_stride",
        "conv_depthwise_kernel_size",
        "dropout",
        "speech_encoder_dropout",
        "adaptor_dropout",
        "initializer_range",
    )
    return build_tiny_model(
        output_dir,
        version="v2",
        corpus=corpus,
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        layers=config.decoder_layers,
        languages=tuple(MINI_LANGUAGES),
        seed=seed,
        config_overrides={name: getattr(config, name) for name in fields},
    )
