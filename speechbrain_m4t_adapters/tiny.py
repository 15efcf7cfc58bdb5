"""Tiny random-initialised SeamlessM4T checkpoints, built offline.

Tests, demos and smoke recipes need a model that loads through exactly the
same ``from_pretrained`` path as ``facebook/hf-seamless-m4t-medium`` or
``facebook/seamless-m4t-v2-large`` but is small and needs no download. This
module builds one from the config classes, with a SentencePiece tokenizer
trained on bundled real text (FLORES-200 + RESPIN transcripts), language
tokens for eng, ory, mai, ben and hin, and saves the FULL model (including
the speech-output towers, like the hub checkpoints) as a local folder.

Command line::

    m4t-adapters build-tiny-model --version v2 --output tiny_m4t_v2
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import (
    SeamlessM4TConfig,
    SeamlessM4TFeatureExtractor,
    SeamlessM4TModel,
    SeamlessM4TTokenizer,
    SeamlessM4Tv2Config,
    SeamlessM4Tv2Model,
)
from transformers.tokenization_utils_base import generate_merges

TINY_LANGUAGES = ("eng", "ory", "mai", "ben", "hin")
BUNDLED_CORPUS = Path(__file__).parent / "resources" / "tiny_corpus.txt"
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")


def train_tokenizer(
    corpus: str | Path = BUNDLED_CORPUS,
    vocab_size: int = 1000,
    languages: tuple[str, ...] = TINY_LANGUAGES,
    sentencepiece_path: str | Path | None = None,
) -> SeamlessM4TTokenizer:
    """Train a SentencePiece BPE model and wrap it as a ``SeamlessM4TTokenizer``.

    The ids follow the real checkpoints' fairseq layout: ``<pad>=0, <unk>=1,
    <s>=2, </s>=3``, pieces at SentencePiece id + 1, language tokens
    ``__xxx__`` after the pieces. Works without ``protobuf``.

    Arguments
    ---------
    corpus : str or Path
        UTF-8 text, one sentence per line.
    vocab_size : int
        SentencePiece vocabulary size (before language tokens).
    languages : tuple of str
        ISO 639-3 codes that get a ``__code__`` token.
    sentencepiece_path : str or Path, optional
        Also keep the SentencePiece model there (hub checkpoints ship it as
        ``sentencepiece.bpe.model``).

    Returns
    -------
    SeamlessM4TTokenizer
    """
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(Path(tmp) / "spm")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=prefix,
            vocab_size=vocab_size,
            model_type="bpe",
            character_coverage=1.0,
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            num_threads=2,
            minloglevel=2,
        )
        processor = spm.SentencePieceProcessor(model_file=prefix + ".model")
        if sentencepiece_path is not None:
            shutil.copyfile(prefix + ".model", sentencepiece_path)
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    scores = {}
    for piece_id in range(3, processor.get_piece_size()):  # skip spm's unk/bos/eos
        piece = processor.id_to_piece(piece_id)
        vocab[piece] = piece_id + 1
        scores[piece] = processor.get_score(piece_id)
    merges = generate_merges(vocab, vocab_scores=scores, skip_tokens=set(SPECIAL_TOKENS))
    return SeamlessM4TTokenizer(
        vocab=vocab,
        merges=merges,
        src_lang=languages[0],
        tgt_lang=languages[1],
        additional_special_tokens=[f"__{code}__" for code in languages],
    )


def tiny_config(
    version: str = "v2",
    vocab_size: int = 1024,
    hidden_size: int = 32,
    layers: int = 2,
    initializer_range: float = 0.25,
    **overrides,
) -> SeamlessM4TConfig | SeamlessM4Tv2Config:
    """Config of a tiny SeamlessM4T (v1 or v2) with every tower present.

    Dropout and LayerDrop are 0 so tests are deterministic. The weight
    initialisation is wider than the real configs' 0.02: with a width of 32
    and tied embeddings of std 0.02 the logits could never leave the
    uniform distribution, so nothing (adapters included) could learn.
    ``overrides`` replace or add config fields (e.g. the mini model's
    per-stack layer counts and adaptor stride).

    Example
    -------
    >>> cfg = tiny_config("v1", vocab_size=100)
    >>> cfg.model_type, cfg.hidden_size, cfg.speech_encoder_layers
    ('seamless_m4t', 32, 2)
    """
    heads = 4 if hidden_size % 4 == 0 else 2
    common = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        initializer_range=initializer_range,
        max_position_embeddings=512,
        encoder_layers=layers,
        encoder_ffn_dim=2 * hidden_size,
        encoder_attention_heads=heads,
        decoder_layers=layers,
        decoder_ffn_dim=2 * hidden_size,
        decoder_attention_heads=heads,
        speech_encoder_layers=layers,
        speech_encoder_attention_heads=heads,
        speech_encoder_intermediate_size=2 * hidden_size,
        conv_depthwise_kernel_size=31,
        add_adapter=True,
        num_adapter_layers=1,
        adaptor_kernel_size=8,
        adaptor_stride=8,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        speech_encoder_dropout=0.0,
        adaptor_dropout=0.0,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        speech_encoder_layerdrop=0.0,
        t2u_vocab_size=32,
        t2u_encoder_layers=1,
        t2u_decoder_layers=1,
        t2u_encoder_ffn_dim=2 * hidden_size,
        t2u_decoder_ffn_dim=2 * hidden_size,
        t2u_encoder_attention_heads=heads,
        t2u_decoder_attention_heads=heads,
        t2u_max_position_embeddings=256,
        upsample_initial_channel=32,
        unit_embed_dim=16,
        lang_embed_dim=4,
        spkr_embed_dim=4,
        unit_hifi_gan_vocab_size=24,
        vocoder_num_langs=4,
        vocoder_num_spkrs=2,
    )
    common.update(overrides)
    if version == "v2":
        return SeamlessM4Tv2Config(
            **common,
            char_vocab_size=64,
            t2u_variance_predictor_embed_dim=hidden_size,
            t2u_variance_predictor_hidden_dim=hidden_size,
            left_max_position_embeddings=64,
            right_max_position_embeddings=8,
        )
    if version == "v1":
        return SeamlessM4TConfig(**common, position_embeddings_type="relative", max_source_positions=4096)
    raise ValueError(f"version must be 'v1' or 'v2', got {version!r}")


def build_tiny_model(
    output_dir: str | Path,
    version: str = "v2",
    corpus: str | Path = BUNDLED_CORPUS,
    vocab_size: int = 1000,
    hidden_size: int = 32,
    layers: int = 2,
    languages: tuple[str, ...] = TINY_LANGUAGES,
    seed: int = 0,
    config_overrides: dict | None = None,
) -> Path:
    """Build and save a tiny random SeamlessM4T checkpoint folder.

    The folder has the hub layout (``config.json``, ``generation_config.json``
    with the language map, ``model.safetensors``, tokenizer and feature
    extractor files), so ``SeamlessM4T(source=output_dir)`` loads it exactly
    like a hub id.

    ``output_dir`` is created; ``version`` is "v1" or "v2"; the tokenizer is SentencePiece
    (``vocab_size``) trained on ``corpus``; ``languages`` get tokens and decoder ids; ``seed``
    draws the weights; ``config_overrides`` are extra fields for :func:`tiny_config`.

    Returns
    -------
    Path of the folder.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(
        corpus,
        vocab_size=vocab_size,
        languages=languages,
        sentencepiece_path=output_dir / "sentencepiece.bpe.model",
    )
    config = tiny_config(
        version, vocab_size=len(tokenizer), hidden_size=hidden_size, layers=layers, **(config_overrides or {})
    )
    model_cls = SeamlessM4Tv2Model if version == "v2" else SeamlessM4TModel
    # A private RNG stream: building the model (on DDP rank 0 only) must not shift the
    # caller's global RNG, or the ranks' adapters would start from different weights.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    lang_ids = {code: tokenizer.convert_tokens_to_ids(f"__{code}__") for code in languages}
    generation = model.generation_config
    generation.text_decoder_lang_to_code_id = lang_ids
    generation.max_new_tokens = 64
    # Otherwise from_pretrained regenerates the generation config from
    # config.json and silently drops the language map.
    generation._from_model_config = False
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    SeamlessM4TFeatureExtractor().save_pretrained(output_dir)
    (output_dir / "TINY_MODEL.json").write_text(
        json.dumps(
            {
                "what": "random-initialised tiny SeamlessM4T for tests and demos; outputs are meaningless",
                "version": version,
                "seed": seed,
                "languages": list(languages),
            },
            indent=2,
        )
    )
    return output_dir
