"""Adapter configurations: one dataclass per adaptation method.

These are what users write in hyperpyyaml (``!new:speechbrain_m4t_adapters.adapters.BottleneckConfig``)
and what is stored, as JSON, next to saved adapter weights.

Placement names (``placement``) refer to the stacks of SeamlessM4T:

=================  ==================================================  =================
name               modules an adapter is placed after                  paper's name
=================  ==================================================  =================
speech_encoder     each Conformer layer ``speech_encoder.encoder.layers.i``   encoder adapters
text_decoder       each text-decoder layer ``text_decoder.layers.i``          decoder adapters
text_encoder       each text-encoder layer ``text_encoder.layers.i``
length_adaptor     the length-adaptor layer ``speech_encoder.adapter.layers.0``  length adaptor adapters
=================  ==================================================  =================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Placement name -> module path of the ModuleList whose layers get an adapter.
LAYER_STACKS = {
    "speech_encoder": "speech_encoder.encoder.layers",
    "text_decoder": "text_decoder.layers",
    "text_encoder": "text_encoder.layers",
    "length_adaptor": "speech_encoder.adapter.layers",
}

# Component name -> module paths, for sets that train a component outright ("*": every
# layer of that list). The text stacks exclude their token embeddings, which are tied to
# the LM head and shared by both stacks: those stay frozen and shared.
COMPONENTS = {
    "length_adaptor": ["speech_encoder.adapter"],
    # The paper's "speech encoder" (311M on v1 medium): everything before the length adaptor
    # and after it, but NOT the length adaptor (46M), which is its own component.
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

LayerSelection = str | int | list[int]


@dataclass
class AdapterConfig:
    """Fields common to every adapter kind.

    Arguments
    ---------
    lr : float, optional
        Learning rate of this set's parameters (default: the optimiser's).
    weight_decay : float, optional
        Weight decay of this set's matrices (default: the optimiser's);
        norms and biases never get any.
    """

    kind: ClassVar[str] = ""
    # Keyword-only, so the kinds' own fields keep their positions.
    lr: float | None = field(default=None, kw_only=True)
    weight_decay: float | None = field(default=None, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict including the ``kind`` discriminator."""
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> AdapterConfig:
        """Rebuild a config written by :meth:`to_dict`."""
        data = dict(data)
        kind = data.pop("kind", None)
        classes = {cls.kind: cls for cls in (BottleneckConfig, LoRAConfig, FinetuneConfig)}
        if kind not in classes:
            raise ValueError(f"unknown adapter kind {kind!r}; known: {sorted(classes)}")
        names = {f.name for f in dataclasses.fields(classes[kind])}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown} for adapter kind {kind!r}")
        return classes[kind](**data)


@dataclass
class BottleneckConfig(AdapterConfig):
    """Bottleneck adapters (Houlsby/Pfeiffer style) after whole layers.

    ``y = x + scale * up(act(down(LN(x))))``, with ``up`` zero-initialised so
    the adapted model starts equal to the base model.

    Arguments
    ---------
    bottleneck : int
        Inner size D2 (256: ~6M params on 12 layers of width 1024; 2048: ~50M).
    placement : list of str
        Stacks to adapt: ``speech_encoder``, ``text_decoder``, ``text_encoder``,
        ``length_adaptor`` (see the module docstring).
    layers : "all", int, list of int, or "a-b"
        Which layers of each stack get one (0-based, negatives count from the end,
        "a-b" is inclusive).
    activation : str
        ``relu``, ``gelu``, ``swish``/``silu`` or ``tanh``.
    layer_norm : bool
        Normalise the adapter input (pre-LN), as in the paper's adapters.
    scale : float
        Multiplier on the adapter branch.
    dropout : float
        Dropout inside the adapter branch, training only.

    Example
    -------
    >>> cfg = BottleneckConfig(bottleneck=256, placement=["speech_encoder"])
    >>> AdapterConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    kind: ClassVar[str] = "bottleneck"
    bottleneck: int = 256
    placement: list[str] = field(default_factory=lambda: ["speech_encoder"])
    layers: LayerSelection = "all"
    activation: str = "relu"
    layer_norm: bool = True
    scale: float = 1.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.placement, str):
            self.placement = [self.placement]
        self.placement = list(self.placement)
        bad = [p for p in self.placement if p not in LAYER_STACKS]
        if bad:
            raise ValueError(f"unknown placement {bad}; choose from {sorted(LAYER_STACKS)}")
        if self.bottleneck < 1:
            raise ValueError(f"bottleneck must be >= 1, got {self.bottleneck}")


@dataclass
class LoRAConfig(AdapterConfig):
    """Low-rank updates on chosen Linear / Conv1d modules.

    ``y = W x + (alpha / rank) * B(A(x))``, B zero-initialised.

    Arguments
    ---------
    target_modules : list of str
        Regular expressions matched (``re.fullmatch``) against module names of
        the SeamlessM4T model, e.g. ``text_decoder\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj``
        or ``speech_encoder\\.adapter\\.layers\\.0\\.(residual|self_attn)_conv``.
    rank : int
        Rank of the update.
    alpha : float
        Scale numerator (the update is multiplied by alpha / rank).
    dropout : float
        Dropout on the LoRA input, training only.

    Example
    -------
    >>> LoRAConfig(target_modules=[r"text_decoder\\.layers\\.\\d+\\.ffn\\.fc1"], rank=4).rank
    4
    """

    kind: ClassVar[str] = "lora"
    target_modules: list[str] = field(default_factory=list)
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        self.target_modules = list(self.target_modules)
        if not self.target_modules:
            raise ValueError("LoRAConfig.target_modules is empty: name at least one module regex")
        if self.rank < 1:
            raise ValueError(f"rank must be >= 1, got {self.rank}")


@dataclass
class FinetuneConfig(AdapterConfig):
    """Train whole components outright (e.g. the length adaptor, 46M params).

    The set holds a trainable copy of each component; while the set is
    active the copy replaces the original, which stays untouched, so the set
    can be saved, swapped and removed like any adapter. Full fine-tuning of
    the speech encoder or decoder (the paper's reference) is this config
    with ``components: [speech_encoder]`` etc.

    Arguments
    ---------
    components : list of str
        Names from ``COMPONENTS`` (``length_adaptor``, ``speech_encoder``,
        ``conformer``, ``text_encoder``, ``text_decoder``) or full module paths
        (``text_decoder.layers.*`` = every decoder layer). A module whose weights
        are tied to weights outside it (token embeddings) cannot be copied.

    Example
    -------
    >>> FinetuneConfig(components=["length_adaptor"]).components
    ['length_adaptor']
    """

    kind: ClassVar[str] = "finetune"
    components: list[str] = field(default_factory=lambda: ["length_adaptor"])

    def __post_init__(self) -> None:
        if isinstance(self.components, str):
            self.components = [self.components]
        self.components = list(self.components)
        if not self.components:
            raise ValueError("FinetuneConfig.components is empty")
