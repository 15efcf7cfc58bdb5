"""SeamlessM4T as a SpeechBrain lobe with pluggable adapters.

One module holds the speech encoder (Conformer + length adaptor), the text encoder, ONE text
decoder shared by speech and text inputs, and the LM head (no speech-output towers). Explicit
stages let frozen stacks below the lowest trainable module run without autograd and text-only
training skip the speech encoder. The recipes' YAMLs show it built with ``!name:``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from transformers import AutoConfig, AutoTokenizer, GenerationMixin
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput

from ..adapters.base import AdapterConfig
from ..adapters.hosting import ADAPTERS_ATTR, active_module
from ..adapters.sets import AdapterSets, any_trainable
from .features import SeamlessM4TFbank
from .languages import LanguageMap, TextIds
from .speech_text_model import MODEL_CLASSES

#: Short name -> torch name.
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
FLOATS = (torch.float32, torch.bfloat16, torch.float16)


def _as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"bfloat16"``, ``"bf16"`` or ``torch.bfloat16`` -> ``torch.bfloat16``."""
    if isinstance(dtype, str):
        dtype = getattr(torch, DTYPES.get(dtype, dtype), dtype)
    if dtype not in FLOATS:
        raise ValueError(f"unknown dtype {dtype!r}; use {FLOATS} or {DTYPES}")
    return dtype


class _ZeroPadding:
    """Forward hook zeroing the padded frames of ``mask`` (B, F) in the length adaptor's LayerNorm outputs:
    the stride-8 convolution after each norm reaches 4 frames past an utterance's end, where a lone
    utterance reads zeros (not LayerNorm's bias). An object, not a closure: a model pickles."""

    mask: torch.Tensor | None = None

    def __deepcopy__(self, memo: dict) -> _ZeroPadding:
        # a trained copy of the length adaptor reads the lobe's mask too
        return self

    def __call__(self, module: nn.Module, args: tuple, out: torch.Tensor):
        mask = self.mask
        if mask is None or out.shape[:2] != mask.shape:
            return out
        return out * mask.unsqueeze(-1).to(out.dtype)


def _load_base(source: str, attention: str, layerdrop: float, dtype, **hub):
    """The speech+text model of ``source`` (hub id or folder) in ``dtype``;
    ``hub``: ``from_pretrained``'s download options."""
    config = AutoConfig.from_pretrained(source, **hub)
    model_type = config.model_type
    if model_type not in MODEL_CLASSES:
        raise ValueError(
            f"{source}: model_type {model_type!r} is not SeamlessM4T "
            f"(expected one of {sorted(MODEL_CLASSES)})"
        )
    if attention == "eager" and model_type == "seamless_m4t_v2":
        raise ValueError(
            "attn_implementation='eager' ignores speech padding in SeamlessM4T "
            "v2's Conformer (its 4-D boolean chunk mask is added, not applied); "
            "use 'sdpa'"
        )
    for stack in ("speech_encoder_", "encoder_", "decoder_"):
        setattr(config, stack + "layerdrop", layerdrop)
    return MODEL_CLASSES[model_type].from_pretrained(
        source, config=config, dtype=dtype, attn_implementation=attention, **hub
    )


def _needs_grad(*modules: nn.Module | None, inputs=None) -> bool:
    """Whether autograd must run: it is on and ``inputs`` need grad or a
    module (None skipped) has a trainable parameter."""
    needs = inputs is not None and inputs.requires_grad
    return torch.is_grad_enabled() and (needs or any_trainable(*modules))


@register_checkpoint_hooks
class SeamlessM4T(nn.Module):
    """SeamlessM4T (v2 or v1) speech+text lobe with named adapter sets.

    Arguments
    ---------
    source : str
        Hub id (e.g. ``facebook/seamless-m4t-v2-large``) or local folder of a
        full SeamlessM4T checkpoint.
    save_path : str, optional
        Cache folder for hub downloads.
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
    >>> enc = BottleneckConfig(bottleneck=8)
    >>> m4t = SeamlessM4T(folder, adapters={"enc": enc})
    >>> wavs = torch.randn(2, 16000)
    >>> hidden, mask = m4t(wavs, torch.tensor([1.0, 0.7]))
    >>> hidden.shape, mask.sum(1).tolist()
    (torch.Size([2, 7, 32]), [7, 5])
    >>> tokens = m4t.generate(hidden, mask, "ory", max_new_tokens=5)
    >>> len(tokens), max(len(t) for t in tokens) <= 5
    (2, True)
    """

    #: What holds the adapter sets (a subclass may manage more).
    sets_class: type[AdapterSets] = AdapterSets

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
        self.source = str(source)
        self.freeze = freeze
        self.base_dropout = base_dropout
        self.dtype = _as_dtype(dtype)
        hub = {"cache_dir": save_path, "revision": revision}
        hub["local_files_only"] = local_files_only
        self.model = _load_base(self.source, attn_implementation, layerdrop, self.dtype, **hub)
        config, generation = self.model.config, self.model.generation_config
        self.version = "v2" if config.model_type == "seamless_m4t_v2" else "v1"
        self.tokenizer = AutoTokenizer.from_pretrained(self.source, **hub)
        lang_ids = getattr(generation, "text_decoder_lang_to_code_id", None)
        self.languages = LanguageMap(lang_ids or {})
        eos, pad = int(config.eos_token_id), int(config.pad_token_id)
        self.text_ids = TextIds(self.tokenizer, self.languages, eos, pad)
        self.fbank = SeamlessM4TFbank()
        self._frame_mask = _ZeroPadding()
        # transformers' name of the length adaptor: ``adapter``
        for layer in getattr(self.model.speech_encoder.adapter, "layers", []):
            layer.residual_layer_norm.register_forward_hook(self._frame_mask)
            layer.self_attn_layer_norm.register_forward_hook(self._frame_mask)
        if freeze:
            self.model.requires_grad_(False)
        dtype = _as_dtype(adapter_dtype)
        self.adapters = self.sets_class(self.model, config.hidden_size, dtype)
        self.add_adapters(adapters or {})

    def add_adapters(self, adapters: Mapping[str, AdapterConfig]) -> None:
        """Attach new sets (trainable, active), in order; a known name is refused."""
        for name, adapter_config in adapters.items():
            if name in self.adapters.sets:
                raise ValueError(f"adapter set {name!r} is already attached")
            self.adapters.add(name, adapter_config)
        # a frozen base keeps inference behaviour
        self.train(self.training)

    def train(self, mode: bool = True) -> SeamlessM4T:
        """Train mode for adapters; a frozen base keeps inference behaviour (unless ``base_dropout``),
        except the checkpointed layers' own flag, so activation checkpointing still applies."""
        super().train(mode)
        if mode and self.freeze:
            for name, module in self.model.named_modules():
                if ADAPTERS_ATTR in name.split("."):
                    continue
                checkpointed = isinstance(module, GradientCheckpointingLayer)
                keep = self.base_dropout or checkpointed
                if isinstance(module, _BatchNorm) or not keep:
                    module.training = False
        return self

    @property
    def device(self) -> torch.device:
        """Device of the base weights."""
        return self.model.shared.weight.device

    def extract_features(self, wavs, wav_lens=None, sample_rate: int = 16000):
        """(B, T) 16 kHz audio -> features (B, F, 160) and mask (B, F)."""
        return self.fbank(wavs, wav_lens, sample_rate=sample_rate)

    def encode_speech(self, features, attention_mask, length_adaptor=True):
        """Speech encoder: features (B, F, 160) and mask (B, F) -> hidden (B, F', d) and mask (B, F').

        F' = F // 8 + 1 with the length adaptor; ``length_adaptor=False`` keeps F frames.
        """
        hidden = self.encode_conformer(features, attention_mask)
        return self.speech_top(hidden, attention_mask, length_adaptor)

    def encode_conformer(self, features, attention_mask) -> torch.Tensor:
        """Feature projection + Conformer: (B, F, 160) -> (B, F, d).

        Stages below the lowest trainable module run without autograd."""
        # a fine-tuning set may replace the speech encoder by its trained copy
        encoder = active_module(self.model.speech_encoder)
        stages = (encoder.feature_projection, encoder.encoder)
        with torch.set_grad_enabled(_needs_grad(*stages)):
            dtype = next(encoder.parameters()).dtype
            hidden = encoder.feature_projection(features.to(dtype))
            return encoder.encoder(hidden, attention_mask=attention_mask)

    def speech_top(self, hidden, attention_mask, length_adaptor=True):
        """Conformer output (B, F, d) -> intermediate FFN, length adaptor,
        final LayerNorm: (B, F', d) and mask (B, F')."""
        encoder = active_module(self.model.speech_encoder)
        adaptor, mask = encoder.adapter, attention_mask
        top = (encoder.intermediate_ffn, adaptor, encoder.inner_layer_norm)
        with torch.set_grad_enabled(_needs_grad(*top, inputs=hidden)):
            hidden = hidden + 0.5 * encoder.intermediate_ffn(hidden)
            if length_adaptor and adaptor is not None:
                self._frame_mask.mask = mask
                try:
                    hidden = adaptor(hidden, attention_mask=mask)
                finally:
                    self._frame_mask.mask = None
                mask = self._adapted_mask(attention_mask, hidden.shape[1])
            hidden = encoder.inner_layer_norm(hidden)
        return hidden.to(self.dtype), mask

    def _adapted_mask(self, mask: torch.Tensor, frames: int) -> torch.Tensor:
        """(B, F) frame mask -> (B, frames) mask after the length adaptor."""
        subsample = self.model._compute_sub_sample_lengths_from_attention_mask
        lengths = subsample(mask).long().to(mask.device)
        positions = torch.arange(frames, device=mask.device)
        return (positions < lengths[:, None]).long()

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
            features = self.extract_features(wavs.to(self.device), wav_lens)
            hidden, mask = self.encode_speech(*features)
        else:
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            hidden, mask = self.encode_text(input_ids, attention_mask)
        if decoder_input_ids is None:
            return hidden, mask
        return self.decode(hidden, mask, decoder_input_ids), hidden, mask

    def encode_text(self, input_ids, attention_mask):
        """Text encoder: (B, L) ids (``text_ids.batch_sources``) and mask ->
        (B, L, d) and the mask."""
        encoder = self.model.text_encoder
        with torch.set_grad_enabled(_needs_grad(encoder)):
            out = encoder(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state, attention_mask

    def decode(self, encoder_hidden, encoder_mask, decoder_input_ids, decoder_mask=None) -> torch.Tensor:
        """Teacher-forced decoding of (B, L) ``[</s>, __lang__, ...]`` inputs
        over (B, F, d) encoder states: logits (B, L, V) in the base dtype."""
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
        if isinstance(tgt_lang, str):
            tgt_lang = [tgt_lang] * len(encoder_hidden)
        prefix = [[eos, self.languages.id(lang)] for lang in tgt_lang]
        limit = self.model.generation_config.max_new_tokens or 256
        prefix = torch.tensor(prefix, device=encoder_hidden.device)
        encoded = BaseModelOutput(last_hidden_state=encoder_hidden)
        previous = self.model.current_modality
        # "text" modality: the given mask is already the encoder-output mask
        self.model.set_modality("text")
        try:
            sequences = GenerationMixin.generate(
                self.model,
                encoder_outputs=encoded,
                attention_mask=encoder_mask,
                decoder_input_ids=prefix,
                num_beams=num_beams,
                do_sample=False,
                max_new_tokens=max_new_tokens or limit,
                **generate_kwargs,
            )
        finally:
            self.model.set_modality(previous)
        if not isinstance(sequences, torch.Tensor):
            sequences = sequences.sequences
        rows = [row + [eos] for row in sequences[:, 2:].tolist()]
        return [[t for t in row[: row.index(eos)] if t != pad] for row in rows]

    def decode_tokens(self, token_ids: Sequence[Sequence[int]]) -> list[str]:
        """Token ids -> text, special tokens removed."""
        return self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Every parameter that currently requires grad (what to optimise)."""
        return [p for p in self.parameters() if p.requires_grad]

    def param_groups(self) -> list[dict]:
        """``torch.optim`` groups of the trainable parameters: per active set (at its config's
        ``lr`` and ``weight_decay`` where set), then the base's (``freeze=False``); norms and
        biases (ndim < 2) never decay."""
        groups, seen, adapters = [], set(), self.adapters
        owners = [(n, adapters.sets[n].config) for n in adapters.active]
        for name, config in [*owners, ("base model", None)]:
            found = adapters.parameters(name) if config else self.parameters()
            params = [p for p in found if p.requires_grad and id(p) not in seen]
            seen.update(map(id, params))
            decay = getattr(config, "weight_decay", None)
            for part, matrices in ((name, True), (f"{name} (norms, biases)", False)):
                group = {"lr": getattr(config, "lr", None), "name": part}
                group["weight_decay"] = decay if matrices else 0.0
                group = {k: v for k, v in group.items() if v is not None}
                group["params"] = [p for p in params if (p.ndim >= 2) == matrices]
                groups += [group] if group["params"] else []
        return groups

    @mark_as_saver
    def _save(self, path: str | Path) -> None:
        # A frozen base is never written, only every set's weights (not which
        # are active or trainable: the run's choice).
        if not self.freeze:
            return torch.save(self.state_dict(), path)
        sets = self.adapters
        weights = {name: sets.state_dict(name) for name in sets.sets}
        weights = {name: {k: v.detach().cpu() for k, v in w.items()} for name, w in weights.items()}
        torch.save({"weights": weights}, path)

    @mark_as_loader
    def _load(self, path: str | Path, end_of_epoch: bool = False) -> None:
        device = "cpu" if self.freeze else self.device
        state = torch.load(path, map_location=device, weights_only=True)
        if not self.freeze:
            return self.load_state_dict(state)
        if unknown := sorted(set(state["weights"]) - set(self.adapters.sets)):
            raise ValueError(
                f"{path}: checkpoint holds adapter set(s) {unknown} that this model "
                f"does not have (attached: {sorted(self.adapters.sets)}); "
                "build the same sets before recovering"
            )
        for name, weights in state["weights"].items():
            self.adapters.load_state_dict(name, weights)
