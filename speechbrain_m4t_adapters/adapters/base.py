"""What every adapter kind shares: the config base class, the registry of kinds, target lookup.

A kind is one subclass of :class:`AdapterConfig` in its own module; defining it registers it
under its ``kind`` name in :data:`KINDS`. :class:`~.sets.AdapterSets`
hosts sets by the kind's ``role`` and never asks which kind it holds. A set's module at a target
path: ``after`` runs on the target's output (``(output, input) -> output``; bottleneck), ``replace``
computes instead of the target (a trainable copy; finetune), ``inject`` lives inside the target,
which the kind wraps itself (lora, through PEFT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: Stack name -> module path of the ModuleList whose layers an "after" adapter follows.
#: ``length_adaptor`` is transformers' ``speech_encoder.adapter`` (its only place in our names).
LAYER_STACKS = {
    "speech_encoder": "speech_encoder.encoder.layers",
    "text_decoder": "text_decoder.layers",
    "text_encoder": "text_encoder.layers",
    "length_adaptor": "speech_encoder.adapter.layers",
}

#: Component name -> module paths a trainable copy replaces ("*": every element of that list).
#: The paper's "speech encoder" (311M on v1 medium) excludes the length adaptor (46M); the text
#: stacks exclude their token embeddings, which are tied to the LM head and stay shared.
COMPONENTS = {
    "length_adaptor": ["speech_encoder.adapter"],
    "speech_encoder": [
        "speech_encoder.feature_projection",
        "speech_encoder.encoder",
        "speech_encoder.intermediate_ffn",
        "speech_encoder.inner_layer_norm",
    ],
    "conformer": ["speech_encoder.encoder"],
    "text_encoder": ["text_encoder.layers.*", "text_encoder.layer_norm"],
    "text_decoder": ["text_decoder.layers.*", "text_decoder.layer_norm"],
}

#: Kind name -> config class: filled by defining a subclass.
KINDS: dict[str, type[AdapterConfig]] = {}


@dataclass
class AdapterConfig:
    """Fields and hooks common to every adapter kind.

    Arguments
    ---------
    lr : float, optional
        Learning rate of this set's parameters (default: the optimiser's).
    weight_decay : float, optional
        Weight decay of this set's matrices (default: the optimiser's); norms and biases never get any.
    """

    kind: ClassVar[str] = ""
    role: ClassVar[str] = "after"
    lr: float | None = field(default=None, kw_only=True)
    weight_decay: float | None = field(default=None, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            KINDS[cls.kind] = cls

    def __post_init__(self) -> None:
        targets = getattr(self, "targets", None)
        if targets is None:
            return
        self.targets = [targets] if isinstance(targets, str) else list(targets)
        if not self.targets:
            kind = type(self).__name__
            raise ValueError(f"{kind}.targets is empty: name a target")

    def build(self, model: Any, hidden_size: int) -> dict[str, Any]:
        """Module path -> new module of this set (roles after and replace)."""
        raise NotImplementedError(f"kind {self.kind!r} hosts no modules")


def select_layers(selection: str | int | list[int], num_layers: int):
    """Resolve a layer selection ("all", an index, a list, or inclusive "a-b")
    to sorted indices.

    Example
    -------
    >>> select_layers("all", 3), select_layers([0, -1], 4)
    ([0, 1, 2], [0, 3])
    >>> select_layers("1-2", 4)
    [1, 2]
    """
    if selection == "all":
        return list(range(num_layers))
    if isinstance(selection, str):
        match = re.fullmatch(r"\s*(-?\d+)\s*-\s*(-?\d+)\s*", selection)
        if not match:
            hint = "use 'all', a list of ints or 'a-b'"
            raise ValueError(f"layer selection {selection!r}: {hint}")
        bounds = [int(g) for g in match.groups()]
        start, end = (b + num_layers * (b < 0) for b in bounds)
        selection = range(start, end + 1)
    if isinstance(selection, int):
        selection = [selection]
    chosen = [int(i) for i in selection]
    if bad := [i for i in chosen if not -num_layers <= i < num_layers]:
        raise ValueError(f"layer {bad[0]} out of range for {num_layers} layers")
    return sorted({i % num_layers for i in chosen})


def find_module(model: Any, path: str, what: str) -> Any:
    """``model.get_submodule(path)`` with an error naming what asked for it."""
    try:
        module = model.get_submodule(path)
    except AttributeError as error:
        raise ValueError(f"{what}: the model has no module {path!r}") from error
    if module is None:
        raise ValueError(f"{what}: module {path!r} is disabled in this config")
    return module
