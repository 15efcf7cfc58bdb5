"""Adapter layers: what is computed on top of a frozen module's output.

Each adapter maps ``(output, layer_input) -> new_output`` so that the host
(:mod:`speechbrain_m4t_adapters.adapters.hosting`) can apply any stack of
them after the original computation. Adapters keep their own (trainable)
dtype and cast at the boundary, so a bf16 frozen base works with fp32
adapters.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "swish": nn.SiLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class BottleneckAdapter(nn.Module):
    """Residual bottleneck: ``x + scale * up(act(down(LN(x))))``.

    The up-projection starts at zero, so the adapter is the identity at
    initialisation.

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
    >>> sum(p.numel() for p in adapter.parameters()) == 2 * 16 * 4 + 4 + 3 * 16
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
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        self.norm = nn.LayerNorm(input_size) if layer_norm else nn.Identity()
        self.down = nn.Linear(input_size, bottleneck)
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        self.up = nn.Linear(bottleneck, input_size)
        self.scale = scale
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor, layer_input: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); ``layer_input`` is unused."""
        x = hidden.to(self.down.weight.dtype)
        branch = self.up(self.dropout(self.activation(self.down(self.norm(x)))))
        return (x + self.scale * branch).to(hidden.dtype)

    @staticmethod
    def num_parameters(input_size: int, bottleneck: int, layer_norm: bool = True) -> int:
        """Parameter count of one adapter (the formula the tests check)."""
        return 2 * input_size * bottleneck + bottleneck + input_size + (2 * input_size if layer_norm else 0)


class LoRA(nn.Module):
    """Low-rank update added to the output of a Linear or Conv1d.

    For a Linear ``W`` the update is ``(alpha / rank) * B(A(x))``; for a
    Conv1d, A is a convolution with the host's kernel, stride and padding and B
    a 1x1 convolution, so the update has the host's output length.

    Arguments
    ---------
    host : nn.Linear or nn.Conv1d
        The frozen module being adapted (read for its shapes only).
    rank : int
        Rank r of the update.
    alpha : float
        Scaling numerator.
    dropout : float
        Dropout on the input of A.

    Example
    -------
    >>> base = nn.Linear(8, 6)
    >>> lora = LoRA(base, rank=2)
    >>> x = torch.randn(3, 8)
    >>> torch.equal(lora(base(x), x), base(x))
    True
    """

    def __init__(self, host: nn.Module, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> None:
        super().__init__()
        if isinstance(host, nn.Linear):
            self.lora_A = nn.Linear(host.in_features, rank, bias=False)
            self.lora_B = nn.Linear(rank, host.out_features, bias=False)
            self.channels_last = True
        elif isinstance(host, nn.Conv1d):
            if host.groups != 1:
                raise ValueError("LoRA on grouped/depthwise Conv1d is not supported")
            self.lora_A = nn.Conv1d(
                host.in_channels,
                rank,
                host.kernel_size,
                stride=host.stride,
                padding=host.padding,
                dilation=host.dilation,
                bias=False,
            )
            self.lora_B = nn.Conv1d(rank, host.out_channels, 1, bias=False)
            self.channels_last = False
        else:
            raise TypeError(f"LoRA supports nn.Linear and nn.Conv1d, not {type(host).__name__}")
        nn.init.kaiming_uniform_(self.lora_A.weight, a=5**0.5)
        nn.init.zeros_(self.lora_B.weight)
        self.dropout = nn.Dropout(dropout)
        self.scaling = alpha / rank

    def forward(self, hidden: torch.Tensor, layer_input: torch.Tensor) -> torch.Tensor:
        """Add the low-rank update of ``layer_input`` to the host output ``hidden``."""
        x = self.dropout(layer_input.to(self.lora_A.weight.dtype))
        update = self.lora_B(self.lora_A(x)) * self.scaling
        return (hidden.to(update.dtype) + update).to(hidden.dtype)
