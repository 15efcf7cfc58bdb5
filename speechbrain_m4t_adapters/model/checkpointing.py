"""Activation checkpointing of the lobe's layer stacks: whole layers, every k-th layer, or sub-blocks.

Whole layers use transformers' own switch (``GradientCheckpointingLayer``). A sub-block (a child
of every layer, e.g. the Conformer's ``self_attn``) gets an instance ``forward`` running its
class's forward under non-reentrant ``torch.utils.checkpoint``: no wrapper module, so state-dict
keys stay the base's and the model pickles (trade-offs: ``benchmarks/README.md``).
"""

import functools
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers.modeling_layers import GradientCheckpointingLayer

from ..adapters.base import LAYER_STACKS
from ..adapters.hosting import ADAPTERS_ATTR

CHECKPOINTABLE_STACKS = ("speech_encoder", "text_decoder", "text_encoder")

#: ``True`` | list of stacks | ``{stack: k}`` (every k-th layer) | ``{stack: [sub-block, ...]}``
CheckpointingSpec = bool | Sequence[str] | dict[str, int | Sequence[str]]


def set_activation_checkpointing(model: nn.Module, spec: CheckpointingSpec) -> None:
    """Switch checkpointing on ``model`` (a SeamlessM4T transformers model) to ``spec``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_m4t_adapters.tiny import build_tiny_model
    >>> from speechbrain_m4t_adapters import SeamlessM4T
    >>> m4t = SeamlessM4T(build_tiny_model(tempfile.mkdtemp(), "v2", vocab_size=400))
    >>> set_activation_checkpointing(m4t.model, {"speech_encoder": ["self_attn", "conv_module"]})
    >>> layer = m4t.model.speech_encoder.encoder.layers[1]
    >>> "forward" in vars(layer.self_attn), "forward" in vars(layer.ffn1), layer.gradient_checkpointing
    (True, False, False)
    """
    per_stack = _parse(spec)
    for stack in CHECKPOINTABLE_STACKS:
        choice = per_stack.get(stack, ())
        for i, layer in enumerate(model.get_submodule(LAYER_STACKS[stack])):
            if not isinstance(layer, GradientCheckpointingLayer):
                continue
            # layers k-1, 2k-1, ...: the first layer of a frozen stack keeps no activations
            # (nothing below it needs gradients), so checkpointing it would save nothing
            layer.gradient_checkpointing = isinstance(choice, int) and (i + 1) % choice == 0
            layer._gradient_checkpointing_func = functools.partial(checkpoint, use_reentrant=False)
            blocks = () if isinstance(choice, int) else choice
            children = {name: child for name, child in layer.named_children() if name != ADAPTERS_ATTR}
            if unknown := sorted(set(blocks) - set(children), key=str):
                raise ValueError(
                    f"activation checkpointing: {stack} layers have no sub-block {unknown}; "
                    f"choose from {sorted(children)}"
                )
            for name, child in children.items():
                _recompute_in_backward(child, name in blocks)


def _parse(spec: CheckpointingSpec) -> dict[str, int | tuple[str, ...]]:
    """``spec`` as {stack: k or tuple of sub-block names}; ValueError names what is wrong."""
    if spec is True:
        spec = CHECKPOINTABLE_STACKS
    per_stack = dict(spec) if isinstance(spec, dict) else dict.fromkeys(spec or (), 1)
    if bad := [s for s in per_stack if s not in CHECKPOINTABLE_STACKS]:
        raise ValueError(f"activation checkpointing applies to {CHECKPOINTABLE_STACKS}, not {bad}")
    for stack, choice in per_stack.items():
        if isinstance(choice, Sequence) and not isinstance(choice, str):  # a bare string: a typo
            per_stack[stack] = tuple(choice)
        elif isinstance(choice, bool) or not isinstance(choice, int) or choice < 1:
            raise ValueError(
                f"activation checkpointing of {stack}: every k-th layer (an integer k >= 1) "
                f"or a list of sub-block names, not {spec[stack]!r}"
            )
    return per_stack


def _recompute_in_backward(module: nn.Module, enabled: bool) -> None:
    """Give ``module`` a checkpointed instance ``forward`` (or take ours away again)."""
    current = vars(module).get("forward")
    if isinstance(current, functools.partial) and current.func is _checkpointed_forward:
        del module.forward
    if enabled:
        module.forward = functools.partial(_checkpointed_forward, module)


def _checkpointed_forward(module: nn.Module, *args, **kwargs):
    """The class's forward of ``module``, its activations recomputed in backward."""
    forward = type(module).forward
    if not torch.is_grad_enabled():
        return forward(module, *args, **kwargs)
    return checkpoint(forward, module, *args, use_reentrant=False, **kwargs)
