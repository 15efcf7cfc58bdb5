"""SeamlessM4T as a SpeechBrain lobe with pluggable adapters.

One module holds the speech encoder (Conformer + length adaptor), the text encoder, ONE text
decoder shared by speech and text inputs, and the LM head (no speech-output towers). Explicit
stages let frozen stacks below the lowest trainable module run without autograd and text-only
training skip the speech encoder; named adapter sets are attached, activated and swapped.

Usable from hyperpyyaml::

    m4t: !new:speechbrain_m4t_adapters.model.SeamlessM4T
        source: facebook/hf-seamless-m4t-medium
        dtype: bfloat16
        adapters:
            encoder: !new:speechbrain_m4t_adapters.model.BottleneckConfig
                bottleneck: 256
                targets: [speech_encoder]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from torch import nn
from transformers import AutoConfig, AutoTokenizer, GenerationMixin
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput

from ..adapters.base import AdapterConfig
from ..adapters.hosting import ADAPTERS_ATTR, active_module
from ..adapters.sets import AdapterSets, any_trainable
from .features import SeamlessM4TFbank
from .languages import LanguageMap, TextIds
from .source import check_model_source, resolve_model_source
from .speech_text_model import MODEL_CLASSES

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}  # short name -> torch name


def _as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"bfloat16"``, ``"bf16"`` or ``torch.bfloat16`` -> ``torch.bfloat16`` (and float32, float16)."""
    resolved = getattr(torch, DTYPES.get(dtype, dtype), None) if isinstance(dtype, str) else dtype
    if resolved not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"unknown dtype {dtype!r}; use float32, bfloat16, float16 ({sorted(DTYPES)})")
    return resolved


class _ZeroPadding:
    """Forward hook zeroing the padded frames of ``mask`` (B, F) in the length adaptor's LayerNorm outputs:
    the stride-8 convolution after each norm reaches 4 frames past an utterance's end, where a lone
    utterance reads zeros (not LayerNorm's bias). An object, not a closure: a model pickles."""

    mask: torch.Tensor | None = None

    def __deepcopy__(self, memo: dict) -> _ZeroPadding:
        return self  # a trained copy of the length adaptor reads the lobe's mask too

    def __call__(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        mask = self.mask
        if mask is None or output.shape[:2] != mask.shape:
            return output
        return output * mask.unsqueeze(-1).to(output.dtype)


def _load_base(source: str, dtype: torch.dtype, attn_implementation: str, layerdrop: float, hub_kwargs: dict):
    """The speech+text SeamlessM4T model of ``source`` (hub id or folder), checked before loading."""
    check_model_source(source)
    config = AutoConfig.from_pretrained(source, **hub_kwargs)
    if config.model_type not in MODEL_CLASSES:
        raise ValueError(
            f"{source}: model_type {config.model_type!r} is not SeamlessM4T "
            f"(expected one of {sorted(MODEL_CLASSES)})"
        )
    if attn_implementation == "eager" and config.model_type == "seamless_m4t_v2":
        raise ValueError(
            "attn_implementation='eager' ignores speech padding in SeamlessM4T v2's Conformer "
            "(its 4-D boolean chunk mask is added, not applied); use 'sdpa'"
        )
    for key in ("speech_encoder_layerdrop", "encoder_layerdrop", "decoder_layerdrop"):
        setattr(config, key, layerdrop)
    return MODEL_CLASSES[config.model_type].from_pretrained(
        source, config=config, dtype=dtype, attn_implementation=attn_implementation, **hub_kwargs
    )


@register_checkpoint_hooks
class SeamlessM4T(nn.Module):
    """SeamlessM4T (v2 or v1) speech+text lobe with named adapter sets.

    Arguments
    ---------
    source : str
        Hub id (e.g. ``facebook/seamless-m4t-v2-large``), local folder of a full SeamlessM4T
        checkpoint, or ``"tiny-v1"`` / ``"tiny-v2"``: a tiny random checkpoint built offline into
        ``save_path`` once (recipe tests; its outputs are meaningless).
    save_path : str, optional
        Cache folder for hub downloads (the build folder of a tiny model).
    freeze : bool
        Freeze every base weight (adapters are then the only trainable part); False fine-tunes it.
    dtype, adapter_dtype : str or torch.dtype
        dtype of the base weights (``float32``, ``bfloat16``, ``float16``) and of the adapters.
    attn_implementation : str
        ``sdpa`` (default); ``eager`` is refused for v2: it ignores speech padding in the Conformer.
    layerdrop : float
        LayerDrop of the three stacks (checkpoints: 0.05-0.1; 0 never skips adapters at random).
    base_dropout : bool
        Keep the frozen base's dropout active in training (default off: it runs as in inference;
        v1's BatchNorm statistics are never updated while frozen).
    adapters : dict, optional
        Set name -> :class:`~speechbrain_m4t_adapters.adapters.base.AdapterConfig` of new sets to
        attach (trainable, active).
    revision : str, optional
        Hub revision.
    local_files_only : bool
        Never try the network.

    Example
    -------
    >>> from speechbrain_m4t_adapters.tiny import build_tiny_model
    >>> from speechbrain_m4t_adapters.adapters.bottleneck import BottleneckConfig
    >>> import tempfile
    >>> folder = build_tiny_model(tempfile.mkdtemp(), "v2", vocab_size=400)
    >>> m4t = SeamlessM4T(folder, adapters={"enc": BottleneckConfig(bottleneck=8)})
    >>> wavs = torch.randn(2, 16000)
    >>> hidden, mask = m4t(wavs, torch.tensor([1.0, 0.7]))
    >>> hidden.shape, mask.sum(1).tolist()
    (torch.Size([2, 7, 32]), [7, 5])
    >>> tokens = m4t.generate(hidden, mask, "ory", max_new_tokens=5)
    >>> len(tokens), max(len(t) for t in tokens) <= 5
    (2, True)
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
        adapters: Mapping[str, AdapterConfig] | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
    ) -> None:
        super().__init__()
        self.source = resolve_model_source(source, save_path)  # 'tiny-v1': its folder
        self.freeze = freeze
        self.base_dropout = base_dropout
        self.dtype = _as_dtype(dtype)
        hub_kwargs = dict(cache_dir=save_path, revision=revision, local_files_only=local_files_only)
        self.model = _load_base(self.source, self.dtype, attn_implementation, layerdrop, hub_kwargs)
        self.version = "v2" if self.model.config.model_type == "seamless_m4t_v2" else "v1"
        self.tokenizer = AutoTokenizer.from_pretrained(self.source, **hub_kwargs)
        config, generation = self.model.config, self.model.generation_config
        self.languages = LanguageMap(getattr(generation, "text_decoder_lang_to_code_id", None) or {})
        eos, pad = int(config.eos_token_id), int(config.pad_token_id)
        self.text_ids = TextIds(self.tokenizer, self.languages, eos, pad)
        self.fbank = SeamlessM4TFbank()
        self._frame_mask = _ZeroPadding()
        if self.model.speech_encoder.adapter is not None:  # transformers' name of the length adaptor
            for layer in self.model.speech_encoder.adapter.layers:
                for norm in (layer.residual_layer_norm, layer.self_attn_layer_norm):
                    norm.register_forward_hook(self._frame_mask)
        if freeze:
            self.model.requires_grad_(False)
        self.adapters = AdapterSets(self.model, config.hidden_size, dtype=_as_dtype(adapter_dtype))
        self.add_adapters(adapters or {})

    def add_adapters(self, adapters: Mapping[str, AdapterConfig]) -> None:
        """Attach new sets (trainable, active), in order; a name already attached is refused."""
        for name, adapter_config in adapters.items():
            if name in self.adapters.sets:
                raise ValueError(f"adapter set {name!r} is already attached: rename the new one")
            self.adapters.add(name, adapter_config, activate=True, trainable=True)
        self.train(self.training)  # a frozen base keeps inference behaviour

    def train(self, mode: bool = True) -> SeamlessM4T:
        """Train mode for adapters; a frozen base keeps inference behaviour (unless ``base_dropout``),
        except the checkpointed layers' own flag, so activation checkpointing still applies."""
        super().train(mode)
        if mode and self.freeze:
            for name, module in self.model.named_modules():
                if ADAPTERS_ATTR in name.split("."):
                    continue
                batchnorm = isinstance(module, nn.modules.batchnorm._BatchNorm)
                if batchnorm or not (self.base_dropout or isinstance(module, GradientCheckpointingLayer)):
                    module.training = False
        return self

    @property
    def device(self) -> torch.device:
        """Device of the base weights."""
        return self.model.shared.weight.device

    def extract_features(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None, sample_rate: int = 16000
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) 16 kHz audio -> features (B, F, 160) and mask (B, F)."""
        return self.fbank(wavs, wav_lens, sample_rate=sample_rate)

    def encode_speech(
        self, features: torch.Tensor, attention_mask: torch.Tensor, length_adaptor: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Speech encoder: features (B, F, 160) and mask (B, F) -> hidden (B, F', d) and mask (B, F').

        F' = F // 8 + 1 with the length adaptor; ``length_adaptor=False`` keeps F frames.
        """
        hidden = self.encode_conformer(features, attention_mask)
        return self.speech_top(hidden, attention_mask, length_adaptor)

    def encode_conformer(self, features: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Feature projection + Conformer: (B, F, 160) -> (B, F, d); no autograd when they are frozen."""
        # A fine-tuning set may replace the whole speech encoder by its trained copy.
        encoder = active_module(self.model.speech_encoder)
        grad = torch.is_grad_enabled() and any_trainable(encoder.feature_projection, encoder.encoder)
        with torch.set_grad_enabled(grad):  # stages below the lowest trainable module keep no activations
            hidden = encoder.feature_projection(features.to(next(encoder.parameters()).dtype))
            return encoder.encoder(hidden, attention_mask=attention_mask)

    def speech_top(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, length_adaptor: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Conformer output (B, F, d) -> intermediate FFN, length adaptor, final LN: (B, F', d), mask."""
        encoder = active_module(self.model.speech_encoder)
        top = (encoder.intermediate_ffn, encoder.adapter, encoder.inner_layer_norm)
        top_grad = torch.is_grad_enabled() and (hidden.requires_grad or any_trainable(*top))
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
                mask = (positions < lengths.to(hidden.device)[:, None]).long()
            hidden = encoder.inner_layer_norm(hidden)
        return hidden.to(self.dtype), mask

    def forward(
        self,
        wavs: torch.Tensor | None = None,
        wav_lens: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Encode speech (or text) and, given decoder inputs, teacher-force the decoder.

        A training step runs inside this one call, so ``DistributedDataParallel`` sees it all.

        Arguments
        ---------
        wavs : torch.Tensor
            (B, T) 16 kHz audio (speech input).
        wav_lens : torch.Tensor, optional
            (B,) SpeechBrain relative lengths.
        decoder_input_ids : torch.Tensor, optional
            (B, L) ``[</s>, __lang__, tokens...]`` (from ``text_ids.batch_targets``).
        input_ids, attention_mask : torch.Tensor, optional
            (B, S) text-encoder input and mask (text input, instead of ``wavs``).

        Returns
        -------
        ``(hidden, mask)``: encoder states (B, F', d) and mask (B, F'); with
        ``decoder_input_ids`` ``(logits, hidden, mask)``, logits (B, L, V).
        """
        if (wavs is None) == (input_ids is None):
            raise ValueError("give either wavs (speech) or input_ids (text)")
        elif wavs is not None:
            features, mask = self.extract_features(wavs.to(self.device), wav_lens)
            hidden, mask = self.encode_speech(features, mask)
        else:
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            hidden, mask = self.encode_text(input_ids, mask)
        if decoder_input_ids is None:
            return hidden, mask
        return self.decode(hidden, mask, decoder_input_ids), hidden, mask

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Text encoder: (B, L) source ids (from ``text_ids.batch_sources``) -> (B, L, d), mask."""
        grad = torch.is_grad_enabled() and any_trainable(self.model.text_encoder)
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
        """Teacher-forced decoding of ``[</s>, __lang__, ...]`` inputs: logits (B, L, V) in the base dtype."""
        out = self.model.text_decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_mask,
            encoder_hidden_states=encoder_hidden,
            encoder_attention_mask=encoder_mask,
            use_cache=False,
        )
        return self.model.lm_head(out.last_hidden_state)

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
        """Greedy (``num_beams=1``) or beam search from encoder outputs, forced to start with
        ``[</s>, __tgt_lang__]`` (v1's own ``generate`` refuses text-only languages such as ory).
        Returns token ids without that prefix and without ``</s>``/padding.
        """
        eos, pad = self.text_ids.eos_id, self.text_ids.pad_id
        langs = [tgt_lang] * len(encoder_hidden) if isinstance(tgt_lang, str) else list(tgt_lang)
        prefix = torch.tensor([[eos, self.languages.id(lang)] for lang in langs]).to(encoder_hidden.device)
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
        rows = [row[: row.index(eos)] if eos in row else row for row in sequences[:, 2:].tolist()]
        return [[t for t in row if t != pad] for row in rows]

    def decode_tokens(self, token_ids: Sequence[Sequence[int]]) -> list[str]:
        """Token ids -> text, special tokens removed."""
        return self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Every parameter that currently requires grad (what to optimise)."""
        return [p for p in self.parameters() if p.requires_grad]

    @mark_as_saver
    def _save(self, path: str | Path) -> None:
        # A frozen base is never written: only the (small) adapter state.
        if self.freeze:  # every set's weights, not which are active or trainable (the run's choice)
            sets = self.adapters
            weights = {
                name: {k: v.detach().cpu() for k, v in sets.state_dict(name).items()} for name in sets.sets
            }
            torch.save({"weights": weights}, path)
        else:
            torch.save(self.state_dict(), path)

    @mark_as_loader
    def _load(self, path: str | Path, end_of_epoch: bool = False) -> None:
        if self.freeze:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if unknown := sorted(set(state["weights"]) - set(self.adapters.sets)):
                raise ValueError(
                    f"{path}: checkpoint holds adapter set(s) {unknown} that this model does not have "
                    f"(attached: {sorted(self.adapters.sets)}); build the same sets before recovering"
                )
            for name, weights in state["weights"].items():
                self.adapters.load_state_dict(name, weights)
        else:
            self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))
