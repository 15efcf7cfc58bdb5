"""The plugin's lobe: the contributed lobe (``model/``) plus adapter folders (``pretrained_adapters``,
``save_adapters``, ``load_adapters``, checked by ``adapters/integrity.py``), the bundled ``mini``
source, an architecture fingerprint, activation checkpointing, the frozen-stage cache's ``encoded``
input and checkpoints that refuse non-finite weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from speechbrain.utils.checkpoints import mark_as_saver, register_checkpoint_hooks

from .adapters.base import AdapterConfig
from .adapters.io import base_fingerprint, load_adapters, parse_folder_entry, require_finite, save_adapters
from .adapters.switching import SwitchableAdapterSets
from .bundled import check_model_source, portable_source, resolve_model_source
from .model import lobe
from .model.checkpointing import CheckpointingSpec, set_activation_checkpointing


@register_checkpoint_hooks
class SeamlessM4T(lobe.SeamlessM4T):
    """SeamlessM4T lobe with adapter folders, the bundled ``mini`` source and checkpointing switches.

    Arguments
    ---------
    source : str
        As in the upstream lobe, or ``"mini"``: the mini model bundled with the package
        (``docs/mini_model.md``; its files are checked first).
    save_path : str, optional
        Cache folder for hub downloads (the build folder of a tiny model).
    activation_checkpointing : bool, list of str or dict
        Recompute activations in backward for these stacks (``speech_encoder``, ``text_decoder``,
        ``text_encoder``); True = all; ``{stack: k}``: every k-th layer; ``{stack: [sub-block, ...]}``:
        those children of every layer, e.g. ``{speech_encoder: [self_attn, conv_module]}``.
    adapters : dict, optional
        Set name -> adapter config of new sets to attach (trainable, active), after the pretrained ones.
    pretrained_adapters : list, optional
        Folders written by :meth:`save_adapters`, attached and activated before ``adapters``; an
        entry may be ``{folder: ..., rename: {saved: new}}`` (or ``prefix``, ``sets``).
    train_pretrained_adapters : bool
        Keep training the pretrained sets (default: frozen).
    **kwargs
        The upstream lobe's other arguments (``freeze``, ``dtype``, ``layerdrop``, ...).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_m4t_adapters.adapters import BottleneckConfig
    >>> enc = BottleneckConfig(bottleneck=8)
    >>> m4t = SeamlessM4T("tiny-v2", save_path=tempfile.mkdtemp(), adapters={"enc": enc})
    >>> folder = m4t.save_adapters(tempfile.mkdtemp())
    >>> SeamlessM4T(m4t.source, pretrained_adapters=[folder]).adapters.active
    ['enc']
    """

    sets_class = SwitchableAdapterSets  # sets switched one by one, removed, LoRA and merged sets

    def __init__(
        self,
        source: str | Path,
        save_path: str | None = None,
        activation_checkpointing: CheckpointingSpec = False,
        adapters: Mapping[str, AdapterConfig] | None = None,
        pretrained_adapters: Sequence[str | Mapping[str, Any]] | None = None,
        train_pretrained_adapters: bool = False,
        **kwargs: Any,
    ) -> None:
        source = resolve_model_source(source, save_path)
        check_model_source(source)
        super().__init__(source, save_path, **kwargs)
        self.fingerprint = base_fingerprint(self.model)
        for entry in pretrained_adapters or []:
            folder, options = parse_folder_entry(entry)
            self.load_adapters(folder, trainable=train_pretrained_adapters, **options)
        for name in adapters or {}:
            if name in self.adapters.sets:
                raise ValueError(
                    f"new adapter set {name!r} has the name of a set loaded from "
                    f"{self.adapters.sets[name].source}; rename one (pretrained_adapters entry "
                    f"{{folder: ..., rename: {{{name}: <new name>}}}})"
                )
        self.add_adapters(adapters or {})
        self.set_activation_checkpointing(activation_checkpointing)

    def forward(
        self, *args: Any, encoded: tuple[str, torch.Tensor, torch.Tensor] | None = None, **kwargs: Any
    ) -> tuple[torch.Tensor, ...]:
        """The upstream ``forward``, or from ``encoded = (point, hidden, mask)`` computed earlier by
        frozen stages (the training cache): ``speech_encoder`` / ``text_encoder`` outputs are decoded
        as they are; ``conformer`` outputs still go through the length adaptor."""
        if encoded is None:
            return super().forward(*args, **kwargs)
        point, hidden, mask = encoded
        if point == "conformer":
            hidden, mask = self.speech_top(hidden, mask)
        if kwargs.get("decoder_input_ids") is None:
            return hidden, mask
        return self.decode(hidden, mask, kwargs["decoder_input_ids"]), hidden, mask

    def set_activation_checkpointing(self, spec: CheckpointingSpec) -> None:
        """Recompute activations in backward (see ``model.checkpointing.set_activation_checkpointing``)."""
        set_activation_checkpointing(self.model, spec)

    def save_adapters(self, folder: str | Path, names: Sequence[str] | None = None, **extra: Any) -> Path:
        """Save adapter sets alone (safetensors + JSON) to ``folder``."""
        # The hub commit the base was loaded from (None for a local folder), for the model card.
        revision = getattr(self.model.config, "_commit_hash", None)
        extra = {"base_revision": revision, **extra} if revision else extra
        base = portable_source(self.source, folder)  # 'mini' or a hub id, not this machine's path
        return save_adapters(self.adapters, folder, names=names, base_model=base, extra=extra or None)

    def load_adapters(self, folder: str | Path, **options: Any) -> list[str]:
        """Attach sets saved with :meth:`save_adapters`; ``options`` as in ``adapters.load_adapters``
        (``names``, ``activate``, ``trainable``, ``rename``, ``prefix``)."""
        return load_adapters(
            self.adapters, folder, base_description=f"{self.source} ({self.version})", **options
        )

    @mark_as_saver
    def _save(self, path: str | Path) -> None:
        """The upstream checkpoint, refused when an adapter weight is not finite (a diverged run)."""
        if self.freeze:
            sets = self.adapters
            require_finite({f"{n}/{k}": v for n in sets.sets for k, v in sets.state_dict(n).items()}, path)
        super()._save(path)
