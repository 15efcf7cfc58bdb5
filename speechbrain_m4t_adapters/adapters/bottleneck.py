"""Bottleneck adapters after whole layers (the paper's encoder, decoder and length-adaptor adapters)."""

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from .base import LAYER_STACKS, AdapterConfig, find_module, select_layers

ACTIVATIONS = dict(relu=nn.ReLU, gelu=nn.GELU, swish=nn.SiLU, silu=nn.SiLU, tanh=nn.Tanh)


class BottleneckAdapter(nn.Module):
    """Residual bottleneck ``x + scale * up(act(down(LN(x))))``; ``up`` starts at zero (identity).

    Casts to its own dtype and back, so a bf16 base works with fp32 adapters.

    Arguments
    ---------
    input_size : int
        Width d of the hidden states.
    bottleneck : int
        Inner width D2.
    activation : str
        Name in ``ACTIVATIONS``.
    layer_norm : bool
        Apply a LayerNorm to the adapter input.
    scale : float
        Multiplier on the adapter branch.
    dropout : float
        Dropout after the nonlinearity.

    Example
    -------
    >>> adapter = BottleneckAdapter(input_size=16, bottleneck=4)
    >>> x = torch.randn(2, 5, 16)
    >>> torch.equal(adapter(x), x)
    True
    >>> sum(p.numel() for p in adapter.parameters()) == BottleneckAdapter.num_parameters(16, 4)
    True
    """

    def __init__(
        self,
        input_size: int,
        bottleneck: int,
        activation: str = "relu",
        layer_norm: bool = True,
        scale: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            known = sorted(ACTIVATIONS)
            raise ValueError(f"unknown activation {activation!r}; choose from {known}")
        self.norm = nn.LayerNorm(input_size) if layer_norm else nn.Identity()
        self.down = nn.Linear(input_size, bottleneck)
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        self.up = nn.Linear(bottleneck, input_size)
        self.scale = scale
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor, layer_input=None) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); ``layer_input`` is unused."""
        x = hidden.to(self.down.weight.dtype)
        branch = self.up(self.dropout(self.activation(self.down(self.norm(x)))))
        return (x + self.scale * branch).to(hidden.dtype)

    @staticmethod
    def num_parameters(input_size: int, bottleneck: int, layer_norm=True) -> int:
        """Parameter count of one adapter (the formula the tests check)."""
        norm = 2 * input_size if layer_norm else 0
        return 2 * input_size * bottleneck + bottleneck + input_size + norm


@dataclass
class BottleneckConfig(AdapterConfig):
    """Bottleneck adapters after every selected layer of the named stacks.

    Arguments
    ---------
    bottleneck : int
        Inner size D2 (256: ~6M params on 12 layers of width 1024; 2048: ~50M).
    targets : list of str
        Stacks: ``speech_encoder`` (Conformer layers), ``text_decoder``, ``text_encoder``,
        ``length_adaptor`` (see ``LAYER_STACKS``).
    layers : "all", int, list of int, or "a-b"
        Which layers of each stack (0-based, negatives from the end, "a-b" inclusive).
    activation, layer_norm, scale, dropout
        As in :class:`BottleneckAdapter`: ``relu``, ``gelu``, ``swish``/``silu`` or ``tanh``; pre-LN
        (the paper's); multiplier on the branch; dropout inside it (training only).

    Example
    -------
    >>> BottleneckConfig(bottleneck=256, layers="0-1").kind
    'bottleneck'
    """

    kind: ClassVar[str] = "bottleneck"
    role: ClassVar[str] = "after"
    bottleneck: int = 256
    targets: list[str] = field(default_factory=lambda: ["speech_encoder"])
    layers: str | int | list[int] = "all"
    activation: str = "relu"
    layer_norm: bool = True
    scale: float = 1.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if bad := [t for t in self.targets if t not in LAYER_STACKS]:
            known = sorted(LAYER_STACKS)
            raise ValueError(f"unknown targets {bad}; choose from {known}")
        if self.bottleneck < 1:
            raise ValueError(f"bottleneck must be >= 1, got {self.bottleneck}")

    def build(self, model: nn.Module, hidden_size: int) -> dict[str, nn.Module]:
        """One adapter after each selected layer of each target stack."""
        options = (self.activation, self.layer_norm, self.scale, self.dropout)
        modules = {}
        for target in self.targets:
            path = LAYER_STACKS[target]
            stack = find_module(model, path, f"target {target!r}")
            for i in select_layers(self.layers, len(stack)):
                adapter = BottleneckAdapter(hidden_size, self.bottleneck, *options)
                modules[f"{path}.{i}"] = adapter
        return modules
