"""The mini SeamlessM4T's design: languages, tokenizer corpus and config (issue 9).

How the bundled model (``speechbrain_m4t_adapters/resources/mini_m4t``) was made, for
``pretrain.py`` and ``model_card.py`` beside it; the package only loads the result.

A small SeamlessM4T v2 with the real classes and layout (speech encoder with length adaptor, text
encoder, ONE shared decoder, ``__xxx__`` language tokens), pretrained by ``tools/mini/pretrain.py`` on
real FLORES-200 dev text and synthetic espeak-ng speech of :data:`PRETRAIN_SPEECH_LANGUAGES` (Odia as
a :data:`LOW_RESOURCE_LANGUAGES` one, a tenth of the clips, as the paper's base model knows Odia speech
a little); Maithili (:data:`NEVER_HEARD_LANGUAGES`) appears only as text. Unlike the hub configs: small
width and layer counts, and a length adaptor of stride and kernel 4, not 8 (12.5 encoder frames per
second, so fast synthetic speech still has more frames than target tokens).
"""

from collections.abc import Iterable
from pathlib import Path

from transformers import SeamlessM4Tv2Config

from speechbrain_m4t_adapters.data.languages import FLORES_CODES
from speechbrain_m4t_adapters.evaluation.normalize import normalize_text
from speechbrain_m4t_adapters.tiny import build_tiny_model, tiny_config

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

    ``vocab_size``: tokenizer size, language tokens included; ``hidden_size``: model width (a
    multiple of 4: 4 attention heads); ``speech_layers``, ``text_encoder_layers``, ``decoder_layers``:
    layers of the Conformer, text encoder and shared decoder; ``ffn_multiplier``: feed-forward width /
    model width; ``adaptor_stride``: length-adaptor stride and kernel (hub models: 8); ``conv_kernel``:
    Conformer depthwise convolution kernel (hub models: 31); ``dropout``: of every stack during
    pretraining; ``initializer_range``: std of the initial weights.

    Example
    -------
    >>> cfg = mini_config(vocab_size=2000)
    >>> cfg.model_type, cfg.hidden_size, cfg.speech_encoder_layers, cfg.adaptor_stride
    ('seamless_m4t_v2', 144, 3, 4)
    """
    ffn = ffn_multiplier * hidden_size
    fields = {  # attention and activation dropout stay tiny_config's 0
        **dict.fromkeys(("encoder_ffn_dim", "decoder_ffn_dim", "speech_encoder_intermediate_size"), ffn),
        **dict.fromkeys(("adaptor_kernel_size", "adaptor_stride"), adaptor_stride),
        **dict.fromkeys(("dropout", "speech_encoder_dropout", "adaptor_dropout"), dropout),
        "conv_depthwise_kernel_size": conv_kernel,
    }
    layers = dict(speech_encoder_layers=speech_layers, encoder_layers=text_encoder_layers)
    return tiny_config("v2", vocab_size, hidden_size, decoder_layers, initializer_range, **layers, **fields)


def write_tokenizer_corpus(rows: Iterable[tuple[str, str]], path: str | Path) -> Path:
    """Write normalised text (one line per ``(lang, text)`` row) for SentencePiece: the mini model's
    targets are normalised text (no punctuation, lowercase Latin), so its tokenizer learns that form.

    Example
    -------
    >>> import tempfile
    >>> p = write_tokenizer_corpus([("eng", "Hello, World!")], Path(tempfile.mkdtemp()) / "c.txt")
    >>> p.read_text()
    'hello world\\n'
    """
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for lang, text in rows if (line := normalize_text(text, lang)))
    return path


def build_mini_init(
    output_dir: str | Path,
    corpus: str | Path,
    vocab_size: int = 4000,
    seed: int = 0,
    **config_kwargs,
) -> Path:
    """Save a randomly initialised mini model folder (the starting point of pretraining).

    Writes ``output_dir`` (returned), which loads with :class:`~speechbrain_m4t_adapters.SeamlessM4T`
    like a hub checkpoint. The tokenizer is SentencePiece BPE over ``corpus`` (see
    :func:`write_tokenizer_corpus`) with ``vocab_size`` pieces plus a ``__code__`` token for each of
    :data:`MINI_LANGUAGES`; ``seed`` draws the initial weights; ``config_kwargs`` are arguments of
    :func:`mini_config` except ``vocab_size``.
    """
    config = mini_config(vocab_size=vocab_size, **config_kwargs)
    # build_tiny_model sizes the vocabulary from the tokenizer: pass it the fields that differ from tiny's
    tiny = tiny_config("v2", vocab_size, config.hidden_size, config.decoder_layers).to_dict()
    overrides = {k: v for k, v in config.to_dict().items() if tiny.get(k) != v}
    fixed = dict(languages=tuple(MINI_LANGUAGES), seed=seed, config_overrides=overrides)
    return build_tiny_model(
        output_dir, "v2", corpus, vocab_size, config.hidden_size, config.decoder_layers, **fixed
    )
