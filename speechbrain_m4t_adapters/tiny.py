"""Tiny random-initialised SeamlessM4T checkpoints, built offline (no download).

They load through the same ``from_pretrained`` path as the hub's v1/v2 checkpoints: the FULL
model (speech-output towers too), a SentencePiece tokenizer trained on bundled real text
(FLORES-200 + RESPIN transcripts) and language tokens for eng, ory, mai, ben and hin.
Recipe tests name them (``tiny-v1``, ``tiny-v2``) as a model source; the builder ships with the
recipe (in SpeechBrain's tree: the recipe folder), not with the lobe.
"""

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

TINY_LANGUAGES = ("eng", "ory", "mai", "ben", "hin")
BUNDLED_CORPUS = Path(__file__).parent / "resources" / "tiny_corpus.txt"


def train_tokenizer(
    corpus: str | Path = BUNDLED_CORPUS,
    vocab_size: int = 1000,
    languages: tuple[str, ...] = TINY_LANGUAGES,
    sentencepiece_path: str | Path | None = None,
) -> SeamlessM4TTokenizer:
    """Train a SentencePiece BPE model and load it as a hub checkpoint's ``SeamlessM4TTokenizer``.

    The ids follow the real checkpoints' fairseq layout: ``<pad>=0, <unk>=1, <s>=2, </s>=3``, pieces
    at SentencePiece id + 1, language tokens ``__xxx__`` after the pieces. ``corpus``: UTF-8 text, one
    sentence per line; ``vocab_size``: SentencePiece vocabulary size (before language tokens);
    ``languages``: ISO 639-3 codes that get a ``__code__`` token; ``sentencepiece_path``: also keep
    the SentencePiece model there (hub checkpoints ship it as ``sentencepiece.bpe.model``).
    """
    import sentencepiece as spm

    tokens = [f"__{code}__" for code in languages]
    with tempfile.TemporaryDirectory() as tmp:
        options = dict(vocab_size=vocab_size, model_type="bpe", character_coverage=1.0, num_threads=2)
        ids = dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
        spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=f"{tmp}/spm", **options, **ids)
        if sentencepiece_path is not None:
            shutil.copyfile(f"{tmp}/spm.model", sentencepiece_path)
        # transformers' own conversion of a hub folder (vocabulary, merges AND SentencePiece's
        # normalisation rules), so the tiny tokenizer splits text as a hub checkpoint's does in
        # every transformers version (hand-made vocab + merges drifted from it in 5.25)
        shutil.move(f"{tmp}/spm.model", f"{tmp}/sentencepiece.bpe.model")
        langs = dict(src_lang=languages[0], tgt_lang=languages[1], additional_special_tokens=tokens)
        Path(tmp, "tokenizer_config.json").write_text(json.dumps(langs), encoding="utf-8")
        return SeamlessM4TTokenizer.from_pretrained(tmp)


def tiny_config(
    version: str = "v2",
    vocab_size: int = 1024,
    hidden_size: int = 32,
    layers: int = 2,
    initializer_range: float = 0.25,
    **overrides,
) -> SeamlessM4TConfig | SeamlessM4Tv2Config:
    """Config of a tiny SeamlessM4T (v1 or v2) with every tower present.

    Dropout and LayerDrop are 0 so tests are deterministic. The weight initialisation is wider than
    the real configs' 0.02: with a width of 32 and tied embeddings of std 0.02 the logits could never
    leave the uniform distribution, so nothing could learn. ``overrides`` replace or add config
    fields (e.g. the mini model's per-stack layer counts and adaptor stride).

    Example
    -------
    >>> cfg = tiny_config("v1", vocab_size=100)
    >>> cfg.model_type, cfg.hidden_size, cfg.speech_encoder_layers
    ('seamless_m4t', 32, 2)
    """
    heads, ffn = 4 if hidden_size % 4 == 0 else 2, 2 * hidden_size
    towers = ("encoder", "decoder", "t2u_encoder", "t2u_decoder")  # attention heads and FFN widths
    stacks = ("encoder", "decoder", "speech_encoder")  # layers and LayerDrop
    dropouts = ("", "attention_", "activation_", "speech_encoder_", "adaptor_")
    common = {
        **{f"{tower}_attention_heads": heads for tower in (*towers, "speech_encoder")},
        **{f"{tower}_ffn_dim": ffn for tower in towers},
        **{f"{stack}_layers": layers for stack in stacks},
        **{f"{stack}_layerdrop": 0.0 for stack in stacks},
        **{f"{kind}dropout": 0.0 for kind in dropouts},
        **dict(vocab_size=vocab_size, hidden_size=hidden_size, initializer_range=initializer_range),
        **dict(max_position_embeddings=512, speech_encoder_intermediate_size=ffn, add_adapter=True),
        **dict(conv_depthwise_kernel_size=31, num_adapter_layers=1, adaptor_kernel_size=8, adaptor_stride=8),
        **dict(t2u_vocab_size=32, t2u_max_position_embeddings=256, t2u_encoder_layers=1),
        **dict(t2u_decoder_layers=1, upsample_initial_channel=32, unit_embed_dim=16, lang_embed_dim=4),
        **dict(spkr_embed_dim=4, unit_hifi_gan_vocab_size=24, vocoder_num_langs=4, vocoder_num_spkrs=2),
        **overrides,
    }
    if version == "v2":
        variance = {f"t2u_variance_predictor_{size}_dim": hidden_size for size in ("embed", "hidden")}
        positions = dict(left_max_position_embeddings=64, right_max_position_embeddings=8)
        return SeamlessM4Tv2Config(**common, **variance, **positions, char_vocab_size=64)
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

    ``output_dir`` is created (and returned) with the hub layout (``config.json``, ``generation_config.json``
    with the language map, ``model.safetensors``, tokenizer and feature extractor files):
    ``SeamlessM4T(source=output_dir)`` loads it like a hub id. ``version`` is "v1" or "v2"; the
    tokenizer is SentencePiece (``vocab_size``) trained on ``corpus``; ``languages`` get tokens and
    decoder ids; ``seed`` draws the weights; ``config_overrides`` are extra fields for :func:`tiny_config`.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    spm = output_dir / "sentencepiece.bpe.model"
    tokenizer = train_tokenizer(corpus, vocab_size=vocab_size, languages=languages, sentencepiece_path=spm)
    config = tiny_config(version, len(tokenizer), hidden_size, layers, **(config_overrides or {}))
    model_cls = SeamlessM4Tv2Model if version == "v2" else SeamlessM4TModel
    tokens = [f"__{code}__" for code in languages]
    # A private RNG stream: building the model (on DDP rank 0 only) must not shift the
    # caller's global RNG, or the ranks' adapters would start from different weights.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    generation = model.generation_config
    generation.text_decoder_lang_to_code_id = dict(zip(languages, tokenizer.convert_tokens_to_ids(tokens)))
    generation.max_new_tokens = 64
    # Otherwise from_pretrained regenerates the generation config from config.json, without the language map.
    generation._from_model_config = False
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    SeamlessM4TFeatureExtractor().save_pretrained(output_dir)
    what = "random-initialised tiny SeamlessM4T for tests and demos; outputs are meaningless"
    info = {"what": what, "version": version, "seed": seed, "languages": list(languages)}
    (output_dir / "TINY_MODEL.json").write_text(json.dumps(info, indent=2))
    return output_dir


#: Names of tiny random checkpoints built into ``save_path`` on first use -> SeamlessM4T version.
TINY_MODELS = {"tiny-v1": "v1", "tiny-v2": "v2"}


def build_tiny_once(name: str, save_path: str | Path | None) -> Path:
    """``<save_path>/<name>`` for a name of :data:`TINY_MODELS` (seed 0), built first if it holds no
    checkpoint (written aside, then renamed: concurrent builders are safe)."""
    if name not in TINY_MODELS:
        raise ValueError(f"unknown tiny model {name!r}; known: {', '.join(TINY_MODELS)}")
    if save_path is None:
        raise ValueError(f"model source {name!r} is built offline into save_path: give one")
    folder = Path(save_path) / name
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        build_tiny_model(scratch, TINY_MODELS[name])
        scratch.rename(folder)  # a concurrent builder may have won: its identical copy is kept
    except OSError:
        if not (folder / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder
