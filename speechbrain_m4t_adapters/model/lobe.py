"""SeamlessM4T as a SpeechBrain lobe with pluggable adapters.

One module holds the speech encoder (Conformer + length adaptor), the text
encoder, ONE text decoder shared by speech and text inputs, and the LM head.
The speech-output towers are never built. Everything runs through explicit
stages so that frozen stacks below the lowest trainable module run without
autograd, text-only training never touches the speech encoder, and adapters
from :mod:`speechbrain_m4t_adapters.adapters` can be attached, stacked,
swapped, saved and loaded by name.

Usable from hyperpyyaml::

    m4t: !new:speechbrain_m4t_adapters.SeamlessM4T
        source: facebook/hf-seamless-m4t-medium
        save_path: !ref <save_folder>/hf_cache
        dtype: bfloat16
        adapters:
            encoder: !new:speechbrain_m4t_adapters.adapters.BottleneckConfig
                bottleneck: 256
                placement: [speech_encoder]
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import AutoConfig, AutoTokenizer, GenerationMixin
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput

from ..adapters import LAYER_STACKS, AdapterConfig, AdapterSets, load_adapters, save_adapters
from ..adapters.hosting import active_module
from ..adapters.io import base_fingerprint, load_checkpoint_state, parse_folder_entry, save_checkpoint_state
from ..adapters.sets import ADAPTERS_ATTR, base_parameters
from .features import SeamlessM4TFbank
from .frozen_cache import FrozenOutputCache, is_deterministic, pad_rows, weights_checksum
from .languages import LanguageMap, TextIds
from .source import check_model_source, resolve_model_source
from .speech_text_model import MODEL_CLASSES

logger = logging.getLogger(__name__)

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
CHECKPOINTABLE_STACKS = ("speech_encoder", "text_decoder", "text_encoder")


def _as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from {sorted(DTYPES)}")
    return DTYPES[dtype]


class _FrameMask:
    """The (B, F) speech mask of the batch being encoded, read by the padding hooks."""

    mask: torch.Tensor | None = None


def _zero_padding_hook(holder: _FrameMask):
    """Forward hook zeroing padded frames of a length-adaptor LayerNorm output.

    transformers' length adaptor convolves LayerNorm(hidden) with a stride-8
    kernel that reaches 4 frames past an utterance's end; in a padded batch it
    would read LayerNorm(padding) (= its bias, not 0) where a lone utterance
    reads the convolution's zero padding, so batched outputs would depend on
    the batch. A closure (not a bound method) so deep copies of the module
    share it instead of copying the lobe.
    """

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        """Zero the padded frames of ``output``."""
        mask = holder.mask
        if mask is None or output.shape[:2] != mask.shape:
            return output
        return output * mask.unsqueeze(-1).to(output.dtype)

    return hook


def _requires_grad(*modules: nn.Module | None) -> bool:
    return any(p.requires_grad for m in modules if m is not None for p in m.parameters())


@register_checkpoint_hooks
class SeamlessM4T(nn.Module):
    """SeamlessM4T (v2 or v1) speech+text lobe with named adapter sets.

    Arguments
    ---------
    source : str
        Hub id (``facebook/seamless-m4t-v2-large``, ``facebook/hf-seamless-m4t-medium``,
        ...), local folder of a full SeamlessM4T checkpoint, or ``"mini"``: the mini
        SeamlessM4T bundled with the package (offline; see ``docs/mini_model.md``).
    save_path : str, optional
        Cache folder for hub downloads.
    freeze : bool
        Freeze every base weight (adapters are then the only trainable part).
        False fine-tunes the whole base in place.
    dtype : str or torch.dtype
        dtype of the base weights (``float32``, ``bfloat16``, ``float16``).
        Adapters keep ``adapter_dtype``.
    adapter_dtype : str or torch.dtype
        dtype of adapter parameters.
    attn_implementation : str
        ``sdpa`` (default). ``eager`` is refused for v2: it ignores speech
        padding in the Conformer.
    layerdrop : float
        LayerDrop of the three stacks (the checkpoints default to 0.05-0.1;
        0 keeps adapters from being skipped at random).
    base_dropout : bool
        Keep the frozen base's dropout active in training (default off: the
        frozen base runs as in inference; v1's BatchNorm statistics are
        never updated while frozen).
    activation_checkpointing : bool or list of str
        Recompute activations in backward for these stacks
        (``speech_encoder``, ``text_decoder``, ``text_encoder``); True = all.
    adapters : dict, optional
        Set name -> :class:`~speechbrain_m4t_adapters.adapters.AdapterConfig`
        of new sets to attach (trainable, active).
    pretrained_adapters : list, optional
        Folders written by :meth:`save_adapters`; their sets are attached and
        activated before ``adapters`` (e.g. text-trained decoder adapters). An
        entry may be ``{folder: ..., rename: {saved: new}}`` (or ``prefix``,
        ``sets``) to load two folders holding sets of the same name.
    train_pretrained_adapters : bool
        Keep training the pretrained sets (default: frozen).
    revision : str, optional
        Hub revision.
    local_files_only : bool
        Never try the network.
    frozen_cache : bool
        In training, keep the outputs of frozen, deterministic stacks below the
        lowest trainable module on disk and reuse them in later epochs (see
        :mod:`~speechbrain_m4t_adapters.model.frozen_cache`); needs utterance ids
        in :meth:`forward` and ``frozen_cache_folder``.
    frozen_cache_folder : str, optional
        Where the cache lives.
    frozen_cache_max_gb : float
        Size limit of the cache (beyond it, utterances are recomputed).

    Example
    -------
    >>> from speechbrain_m4t_adapters.tiny import build_tiny_model
    >>> from speechbrain_m4t_adapters.adapters import BottleneckConfig
    >>> import tempfile
    >>> folder = build_tiny_model(tempfile.mkdtemp(), "v2", vocab_size=400)
    >>> m4t = SeamlessM4T(folder, adapters={"enc": BottleneckConfig(bottleneck=8)})
    >>> wavs = torch.randn(2, 16000)
    >>> hidden, mask = m4t(wavs, torch.tensor([1.0, 0.7]))
    >>> hidden.shape, mask.sum(1).tolist()
    (torch.Size([2, 7, 32]), [7, 5])
    >>> texts = m4t.transcribe(wavs, torch.tensor([1.0, 0.7]), "ory", max_new_tokens=5)
    >>> len(texts)
    2
    """

    def __init__(
        self,
        source: str | Path,
        save_path: str | None = None,
        freeze: bool = True,
        dtype: str | torch.dtype = "float32",
        adapter_dtype: str | torch.dtype = "float32",
        attn_implementation: str = "sdpa",
        layerdrop: float = 0.0,
        base_dropout: bool = False,
        activation_checkpointing: bool | Sequence[str] = False,
        adapters: dict[str, AdapterConfig] | None = None,
        pretrained_adapters: Sequence[str] | None = None,
        train_pretrained_adapters: bool = False,
        revision: str | None = None,
        local_files_only: bool = False,
        frozen_cache: bool = False,
        frozen_cache_folder: str | Path | None = None,
        frozen_cache_max_gb: float = 20.0,
    ) -> None:
        super().__init__()
        self.source = resolve_model_source(source)  # 'mini': the bundled mini model
        self.freeze = freeze
        self.base_dropout = base_dropout
        self.dtype = _as_dtype(dtype)
        check_model_source(self.source)
        hub_kwargs = dict(cache_dir=save_path, revision=revision, local_files_only=local_files_only)
        config = AutoConfig.from_pretrained(self.source, **hub_kwargs)
        if config.model_type not in MODEL_CLASSES:
            raise ValueError(
                f"{self.source}: model_type {config.model_type!r} is not SeamlessM4T "
                f"(expected one of {sorted(MODEL_CLASSES)})"
            )
        self.version = "v2" if config.model_type == "seamless_m4t_v2" else "v1"
        if attn_implementation == "eager" and self.version == "v2":
            raise ValueError(
                "attn_implementation='eager' ignores speech padding in SeamlessM4T v2's Conformer "
                "(its 4-D boolean chunk mask is added, not applied); use 'sdpa'"
            )
        for key in ("speech_encoder_layerdrop", "encoder_layerdrop", "decoder_layerdrop"):
            setattr(config, key, layerdrop)
        self.model = MODEL_CLASSES[config.model_type].from_pretrained(
            self.source,
            config=config,
            dtype=self.dtype,
            attn_implementation=attn_implementation,
            **hub_kwargs,
        )
        self.tokenizer = AutoTokenizer.from_pretrained(self.source, **hub_kwargs)
        self.languages = LanguageMap(
            getattr(self.model.generation_config, "text_decoder_lang_to_code_id", None) or {}
        )
        self.text_ids = TextIds(self.tokenizer, self.languages, self.eos_id)
        self.fbank = SeamlessM4TFbank()
        self._frame_mask = _FrameMask()
        if self.model.speech_encoder.adapter is not None:
            for layer in self.model.speech_encoder.adapter.layers:
                for norm in (layer.residual_layer_norm, layer.self_attn_layer_norm):
                    norm.register_forward_hook(_zero_padding_hook(self._frame_mask))
        self.fingerprint = base_fingerprint(self.model)
        if freeze:
            for p in self.model.parameters():
                p.requires_grad_(False)
        self.adapters = AdapterSets(self.model, config.hidden_size, dtype=_as_dtype(adapter_dtype))
        for entry in pretrained_adapters or []:
            folder, options = parse_folder_entry(entry)
            self.load_adapters(folder, trainable=train_pretrained_adapters, **options)
        for name, adapter_config in (adapters or {}).items():
            if name in self.adapters.sets:
                raise ValueError(
                    f"new adapter set {name!r} has the name of a set loaded from "
                    f"{self.adapters.sets[name].source}; rename one (pretrained_adapters entry "
                    f"{{folder: ..., rename: {{{name}: <new name>}}}})"
                )
            self.adapters.add(name, adapter_config, activate=True, trainable=True)
        self.set_activation_checkpointing(activation_checkpointing)
        if frozen_cache and frozen_cache_folder is None:
            raise ValueError("frozen_cache needs frozen_cache_folder")
        self.frozen_cache = frozen_cache
        self.frozen_cache_folder = frozen_cache_folder
        self.frozen_cache_max_gb = frozen_cache_max_gb
        self._caches: dict[str, tuple[tuple, FrozenOutputCache]] = {}
        self._cache_refusals: set[str] = set()
        self.train(self.training)

    # ------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> SeamlessM4T:
        """Train mode for adapters; a frozen base keeps inference behaviour.

        Hugging Face's checkpointed layers stay in train mode so activation
        checkpointing still applies; their dropout/attention sub-modules are
        set to eval unless ``base_dropout``.
        """
        super().train(mode)
        if mode and self.freeze:
            for name, module in self.model.named_modules():
                if ADAPTERS_ATTR in name.split("."):
                    continue
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.training = False
                elif not self.base_dropout and not isinstance(module, GradientCheckpointingLayer):
                    module.training = False
        return self

    def set_activation_checkpointing(self, stacks: bool | Sequence[str]) -> None:
        """Enable non-reentrant activation checkpointing on whole stacks."""
        if stacks is True:
            stacks = CHECKPOINTABLE_STACKS
        elif not stacks:
            stacks = ()
        bad = [s for s in stacks if s not in CHECKPOINTABLE_STACKS]
        if bad:
            raise ValueError(f"activation checkpointing applies to {CHECKPOINTABLE_STACKS}, not {bad}")
        for stack in CHECKPOINTABLE_STACKS:
            for layer in self.model.get_submodule(LAYER_STACKS[stack]):
                if isinstance(layer, GradientCheckpointingLayer):
                    layer.gradient_checkpointing = stack in stacks
                    layer._gradient_checkpointing_func = functools.partial(checkpoint, use_reentrant=False)

    @property
    def device(self) -> torch.device:
        """Device of the base weights."""
        return self.model.shared.weight.device

    # ---------------------------------------------------------------- encoding
    def extract_features(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None, sample_rate: int = 16000
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) 16 kHz audio -> features (B, F, 160) and mask (B, F)."""
        return self.fbank(wavs, wav_lens, sample_rate=sample_rate)

    def encode_speech(
        self, features: torch.Tensor, attention_mask: torch.Tensor, length_adaptor: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the speech encoder on features.

        Arguments
        ---------
        features : torch.Tensor
            (B, F, 160) from :meth:`extract_features`.
        attention_mask : torch.Tensor
            (B, F), 1 on valid frames.
        length_adaptor : bool
            Apply the length adaptor (x8 shorter). False returns the Conformer
            output (after the intermediate FFN and final LayerNorm).

        Returns
        -------
        hidden : torch.Tensor
            (B, F', d), F' = F // 8 + 1 with the length adaptor.
        mask : torch.Tensor
            (B, F') long.
        """
        # A fine-tuning set may replace the whole speech encoder by its trained copy.
        encoder = active_module(self.model.speech_encoder)
        dtype = next(encoder.parameters()).dtype
        grad = torch.is_grad_enabled()
        # Stages below the lowest trainable module keep no activations.
        conformer_grad = grad and _requires_grad(encoder.feature_projection, encoder.encoder)
        with torch.set_grad_enabled(conformer_grad):
            hidden = encoder.feature_projection(features.to(dtype))
            hidden = encoder.encoder(hidden, attention_mask=attention_mask)
        return self._speech_top(hidden, attention_mask, length_adaptor, conformer_grad)

    def _speech_top(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        length_adaptor: bool = True,
        conformer_grad: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Conformer output -> intermediate FFN, length adaptor, final LayerNorm."""
        encoder = active_module(self.model.speech_encoder)
        top_grad = torch.is_grad_enabled() and (
            conformer_grad
            or _requires_grad(encoder.intermediate_ffn, encoder.adapter, encoder.inner_layer_norm)
        )
        mask = attention_mask
        with torch.set_grad_enabled(top_grad):
            hidden = hidden + 0.5 * encoder.intermediate_ffn(hidden)
            if length_adaptor and encoder.adapter is not None:
                self._frame_mask.mask = attention_mask
                try:
                    hidden = encoder.adapter(hidden, attention_mask=attention_mask)
                finally:
                    self._frame_mask.mask = None
                lengths = self.model._compute_sub_sample_lengths_from_attention_mask(attention_mask).long()
                positions = torch.arange(hidden.shape[1], device=hidden.device)
                mask = (positions.unsqueeze(0) < lengths.to(hidden.device).unsqueeze(1)).long()
            hidden = encoder.inner_layer_norm(hidden)
        return hidden.to(self.dtype), mask

    def forward(
        self,
        wavs: torch.Tensor | None = None,
        wav_lens: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        utterance_ids: Sequence[str] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Encode speech (or text) and, given decoder inputs, teacher-force the decoder.

        Everything a training step computes runs inside this one call, so that
        a ``DistributedDataParallel`` wrapper sees it all (gradients of
        decoder adapters are synchronised even on text batches).

        Arguments
        ---------
        wavs : torch.Tensor
            (B, T) 16 kHz audio (speech input).
        wav_lens : torch.Tensor, optional
            (B,) SpeechBrain relative lengths.
        decoder_input_ids : torch.Tensor, optional
            (B, L) ``[</s>, __lang__, tokens...]`` (from :meth:`batch_targets`).
        input_ids, attention_mask : torch.Tensor, optional
            (B, S) text-encoder input and mask (text input, instead of ``wavs``).
        utterance_ids : list of str, optional
            Ids of the batch's utterances: with ``frozen_cache`` on, training
            reuses the stored outputs of the frozen stacks.

        Returns
        -------
        ``(hidden, mask)``: encoder states (B, F', d) and mask (B, F'); with
        ``decoder_input_ids`` ``(logits, hidden, mask)``, logits (B, L, V).
        """
        if (wavs is None) == (input_ids is None):
            raise ValueError("give either wavs (speech) or input_ids (text)")
        kind = "speech" if wavs is not None else "text"
        cache = self._usable_cache(kind) if utterance_ids is not None else None
        if wavs is not None and cache is not None:
            hidden, mask = self._cached_speech(*cache, list(utterance_ids), wavs.to(self.device), wav_lens)
        elif wavs is not None:
            features, mask = self.extract_features(wavs.to(self.device), wav_lens)
            hidden, mask = self.encode_speech(features, mask)
        else:
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            if cache is not None:
                hidden, mask = self._cached_text(cache[0], list(utterance_ids), input_ids, attention_mask)
            else:
                hidden, mask = self.encode_text(input_ids, attention_mask)
        if decoder_input_ids is None:
            return hidden, mask
        return self.decode(hidden, mask, decoder_input_ids), hidden, mask

    # ------------------------------------------------------- frozen-output cache
    def _cache_point(self, kind: str) -> tuple[str | None, list[nn.Module], str]:
        """Highest frozen stage of ``kind`` input below every trainable module (and why not, if None)."""
        config = self.model.config
        if kind == "text":
            if _requires_grad(self.model.text_encoder):
                return None, [], "the text encoder trains"
            if config.encoder_layerdrop > 0:
                return None, [], "text-encoder LayerDrop is random"
            return "text_encoder", [self.model.text_encoder], ""
        encoder = active_module(self.model.speech_encoder)
        if _requires_grad(encoder.feature_projection, encoder.encoder):
            return None, [], "the Conformer trains"
        if config.speech_encoder_layerdrop > 0:
            return None, [], "speech-encoder LayerDrop is random"
        if _requires_grad(encoder.intermediate_ffn, encoder.adapter, encoder.inner_layer_norm):
            return "conformer", [encoder.feature_projection, encoder.encoder], ""
        return "speech_encoder", [encoder], ""

    def _usable_cache(self, kind: str) -> tuple[FrozenOutputCache, str] | None:
        """The frozen-output cache for ``kind`` batches, when on, in training, and exact."""
        if not (self.frozen_cache and self.training and torch.is_grad_enabled()):
            return None
        point, modules, why = self._cache_point(kind)
        if point is not None and not is_deterministic(modules):
            point, why = None, "dropout is active below the trainable modules"
        if point is None:
            if kind not in self._cache_refusals:
                logger.info("frozen-output cache off for %s batches: %s", kind, why)
                self._cache_refusals.add(kind)
            return None
        frozen_sets = [n for n in self.adapters.active if not self.adapters.sets[n].trainable]
        state = (point, tuple(frozen_sets))
        current = self._caches.get(kind)
        if current is None or current[0] != state:
            key = {
                "point": point,
                "source": self.source,
                "fingerprint": self.fingerprint,
                "weights": weights_checksum(modules),  # includes frozen adapters hosted there
                "frozen_sets": frozen_sets,
                "features": {"num_mel_bins": self.fbank.num_mel_bins, "stride": self.fbank.stride},
                "dtype": str(self.dtype),
            }
            distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
            rank = torch.distributed.get_rank() if distributed else 0
            # One sub-folder per input kind: a new key replaces only its own kind's entries.
            root = Path(self.frozen_cache_folder) / kind
            cache = FrozenOutputCache(root, key, self.frozen_cache_max_gb, rank)
            logger.info("%s", cache.summary())
            self._caches[kind] = (state, cache)
        return self._caches[kind][1], point

    def frozen_cache_summaries(self) -> list[str]:
        """One log line per frozen-output cache in use."""
        return [cache.summary() for _, cache in self._caches.values()]

    def _cached_speech(
        self,
        cache: FrozenOutputCache,
        point: str,
        ids: list[str],
        wavs: torch.Tensor,
        wav_lens: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Speech encoding with the frozen stage read from (or written to) the cache."""
        total = wavs.shape[-1]
        samples = (
            [total] * wavs.shape[0]
            if wav_lens is None
            else torch.round(wav_lens.float() * total).long().tolist()
        )
        rows = [cache.get(uid, n) for uid, n in zip(ids, samples)]
        if all(r is not None for r in rows):
            cache.hits += 1
            hidden, mask = pad_rows(rows, self.device, rows[0].dtype)
        else:
            cache.misses += 1
            features, mask = self.extract_features(wavs, wav_lens)
            with torch.no_grad():
                if point == "conformer":
                    encoder = active_module(self.model.speech_encoder)
                    dtype = next(encoder.parameters()).dtype
                    hidden = encoder.feature_projection(features.to(dtype))
                    hidden = encoder.encoder(hidden, attention_mask=mask)
                else:
                    hidden, mask = self.encode_speech(features, mask)
            # Padding as a cache hit pads (zeros), so epoch 1 computes exactly what later epochs do.
            hidden = hidden * mask.unsqueeze(-1).to(hidden.dtype)
            lengths = mask.sum(1).tolist()
            cache.put(ids, [hidden[i, :n] for i, n in enumerate(lengths)], samples)
        if point == "conformer":
            hidden, mask = self._speech_top(hidden, mask)
        return hidden, mask

    def _cached_text(
        self, cache: FrozenOutputCache, ids: list[str], input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Text-encoder outputs from (or into) the cache; keyed by id and token count."""
        counts = attention_mask.sum(1).tolist()
        rows = [cache.get(uid, n) for uid, n in zip(ids, counts)]
        if all(r is not None for r in rows):
            cache.hits += 1
            hidden, _ = pad_rows(rows, input_ids.device, rows[0].dtype)
            return hidden, attention_mask
        cache.misses += 1
        with torch.no_grad():
            hidden, _ = self.encode_text(input_ids, attention_mask)
        hidden = hidden * attention_mask.unsqueeze(-1).to(hidden.dtype)
        cache.put(ids, [hidden[i, :n] for i, n in enumerate(counts)], counts)
        return hidden, attention_mask

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Text encoder: (B, L) source ids (from :meth:`batch_sources`) -> (B, L, d), mask."""
        grad = torch.is_grad_enabled() and _requires_grad(self.model.text_encoder)
        with torch.set_grad_enabled(grad):
            out = self.model.text_encoder(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state, attention_mask

    def decode(
        self,
        encoder_hidden: torch.Tensor,
        encoder_mask: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        decoder_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Teacher-forced decoding: returns logits (B, L, V) in the base dtype.

        ``decoder_input_ids`` start with ``</s>`` then the language token, as
        :meth:`batch_targets` builds them.
        """
        out = self.model.text_decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_mask,
            encoder_hidden_states=encoder_hidden,
            encoder_attention_mask=encoder_mask,
            use_cache=False,
        )
        return self.model.lm_head(out.last_hidden_state)

    # ---------------------------------------------------------------- tokens
    @property
    def eos_id(self) -> int:
        """``</s>``: end of sequence and decoder start."""
        return int(self.model.config.eos_token_id)

    @property
    def pad_id(self) -> int:
        """Padding id."""
        return int(self.model.config.pad_token_id)

    def target_ids(self, text: str, lang: str) -> list[int]:
        """Label sequence ``[__lang__, tokens..., </s>]`` for one transcript."""
        return self.text_ids(text, lang)

    def source_ids(self, text: str, lang: str) -> list[int]:
        """Text-encoder input ``[__lang__, tokens..., </s>]`` for one source sentence."""
        return self.target_ids(text, lang)

    def batch_targets(
        self, targets: Sequence[Sequence[int]] | Sequence[str], langs: Sequence[str] | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad label sequences and build the matching decoder inputs.

        Arguments
        ---------
        targets : list of id lists (from :meth:`target_ids`) or list of str
        langs : language code(s), needed when ``targets`` are strings

        Returns
        -------
        decoder_input_ids : torch.Tensor
            (B, L) ``[</s>, __lang__, tokens...]`` padded with pad id.
        labels : torch.Tensor
            (B, L) ``[__lang__, tokens..., </s>]`` padded with -100.
        """
        if targets and isinstance(targets[0], str):
            langs = [langs] * len(targets) if isinstance(langs, str) or langs is None else list(langs)
            targets = [self.target_ids(t, lang) for t, lang in zip(targets, langs)]
        length = max(len(t) for t in targets)
        labels = torch.full((len(targets), length), -100, dtype=torch.long)
        inputs = torch.full((len(targets), length), self.pad_id, dtype=torch.long)
        for i, seq in enumerate(targets):
            labels[i, : len(seq)] = torch.as_tensor(seq)
            inputs[i, 0] = self.eos_id
            inputs[i, 1 : len(seq)] = torch.as_tensor(seq[:-1])
        return inputs.to(self.device), labels.to(self.device)

    def batch_sources(
        self, texts: Sequence[str], langs: Sequence[str] | str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenise source sentences: ids (B, L) and attention mask (B, L)."""
        langs = [langs] * len(texts) if isinstance(langs, str) else list(langs)
        seqs = [self.source_ids(t, lang) for t, lang in zip(texts, langs)]
        length = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), length), dtype=torch.long)
        for i, seq in enumerate(seqs):
            ids[i, : len(seq)] = torch.as_tensor(seq)
            mask[i, : len(seq)] = 1
        return ids.to(self.device), mask.to(self.device)

    # -------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(
        self,
        encoder_hidden: torch.Tensor,
        encoder_mask: torch.Tensor,
        tgt_lang: str | Sequence[str],
        num_beams: int = 1,
        max_new_tokens: int | None = None,
        **generate_kwargs,
    ) -> list[list[int]]:
        """Greedy (``num_beams=1``) or beam search from encoder outputs.

        The decoder is forced to start with ``[</s>, __tgt_lang__]`` (this also
        avoids v1's full-model ``generate`` refusing text-only languages such as
        ory/mai). Returns token ids without that prefix and without ``</s>``/padding.
        """
        batch = encoder_hidden.shape[0]
        langs = [tgt_lang] * batch if isinstance(tgt_lang, str) else list(tgt_lang)
        prefix = torch.tensor(
            [[self.eos_id, self.languages.id(lang)] for lang in langs], device=encoder_hidden.device
        )
        previous = self.model.current_modality
        # "text" modality: the given mask is already the encoder-output mask.
        self.model.set_modality("text")
        try:
            sequences = GenerationMixin.generate(
                self.model,
                encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden),
                attention_mask=encoder_mask,
                decoder_input_ids=prefix,
                num_beams=num_beams,
                do_sample=False,
                max_new_tokens=max_new_tokens or self.model.generation_config.max_new_tokens or 256,
                **generate_kwargs,
            )
        finally:
            self.model.set_modality(previous)
        if not isinstance(sequences, torch.Tensor):
            sequences = sequences.sequences
        result = []
        for row in sequences[:, 2:].tolist():
            if self.eos_id in row:
                row = row[: row.index(self.eos_id)]
            result.append([t for t in row if t != self.pad_id])
        return result

    def decode_tokens(self, token_ids: Sequence[Sequence[int]]) -> list[str]:
        """Token ids -> text, special tokens removed."""
        return self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)

    @torch.no_grad()
    def transcribe(
        self,
        wavs: torch.Tensor,
        wav_lens: torch.Tensor | None,
        lang: str | Sequence[str],
        num_beams: int = 1,
        max_new_tokens: int | None = None,
    ) -> list[str]:
        """Speech (B, T) at 16 kHz -> text in ``lang`` (ASR when ``lang`` is the spoken language)."""
        hidden, mask = self(wavs, wav_lens)
        return self.decode_tokens(self.generate(hidden, mask, lang, num_beams, max_new_tokens))

    @torch.no_grad()
    def translate(
        self,
        texts: Sequence[str],
        src_lang: str | Sequence[str],
        tgt_lang: str | Sequence[str],
        num_beams: int = 1,
        max_new_tokens: int | None = None,
    ) -> list[str]:
        """Text -> text through the text encoder and the shared decoder."""
        ids, mask = self.batch_sources(texts, src_lang)
        hidden, mask = self.encode_text(ids, mask)
        return self.decode_tokens(self.generate(hidden, mask, tgt_lang, num_beams, max_new_tokens))

    # ---------------------------------------------------------------- adapters
    def trainable_parameters(self) -> list[nn.Parameter]:
        """Every parameter that currently requires grad (what to optimise)."""
        return [p for p in self.parameters() if p.requires_grad]

    def parameter_report(self) -> dict:
        """Trainable vs total parameter counts, overall and per adapter set."""
        base_total = sum(p.numel() for _, p in base_parameters(self.model))
        base_trainable = sum(p.numel() for _, p in base_parameters(self.model) if p.requires_grad)
        sets = self.adapters.report()
        trainable = base_trainable + sum(s["parameters"] for s in sets if s["trainable"])
        return {
            "base_parameters": base_total,
            "base_trainable": base_trainable,
            "adapter_sets": sets,
            "trainable_parameters": trainable,
            "trainable_percent": 100.0 * trainable / base_total,
        }

    def save_adapters(self, folder: str | Path, names: Sequence[str] | None = None, **extra) -> Path:
        """Save adapter sets alone (safetensors + JSON) to ``folder``."""
        # The hub commit the base was loaded from (None for a local folder), for the model card.
        revision = getattr(self.model.config, "_commit_hash", None)
        extra = {"base_revision": revision, **extra} if revision else extra
        return save_adapters(self.adapters, folder, names=names, base_model=self.source, extra=extra or None)

    def load_adapters(
        self,
        folder: str | Path,
        names: Sequence[str] | None = None,
        activate: bool = True,
        trainable: bool = False,
        rename: dict[str, str] | None = None,
        prefix: str = "",
    ) -> list[str]:
        """Attach sets saved with :meth:`save_adapters` (see ``adapters.load_adapters``)."""
        return load_adapters(
            self.adapters,
            folder,
            names=names,
            activate=activate,
            trainable=trainable,
            rename=rename,
            prefix=prefix,
            base_description=f"{self.source} ({self.version})",
        )

    # ------------------------------------------------------- SpeechBrain hooks
    @mark_as_saver
    def _save(self, path: str | Path) -> None:
        # A frozen base is never written: only the (small) adapter state.
        if self.freeze:
            save_checkpoint_state(self.adapters, path)
        else:
            torch.save(self.state_dict(), path)

    @mark_as_loader
    def _load(self, path: str | Path, end_of_epoch: bool = False) -> None:
        if self.freeze:
            load_checkpoint_state(self.adapters, path)
        else:
            self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))
