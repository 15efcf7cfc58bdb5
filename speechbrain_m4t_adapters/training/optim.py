"""Optimiser parameter groups, warmup and annealing for adapter training.

Each adapter config may carry its own ``lr`` and ``weight_decay`` (e.g. a 46M length-adaptor copy
at 1e-4 beside fresh adapters at 1e-3), else the YAML optimiser's defaults apply; norms and biases
get no weight decay. A linear warmup climbs to each group's ``peak_lr``; annealing scales it.
"""

import logging

import torch
from torch import nn

from ..adapters.counting import base_parameters
from ..lobe import SeamlessM4T

logger = logging.getLogger(__name__)


def _split(name: str, params: list[nn.Parameter], lr: float | None, weight_decay: float | None) -> list[dict]:
    decayed = {"name": name, "params": [p for p in params if p.ndim >= 2]}
    if weight_decay is not None:
        decayed["weight_decay"] = weight_decay
    plain = {"name": f"{name} (norms, biases)", "params": [p for p in params if p.ndim < 2]}
    groups = [group for group in (decayed, {**plain, "weight_decay": 0.0}) if group["params"]]
    return [{**group, "lr": lr} for group in groups] if lr is not None else groups


def param_groups(m4t: SeamlessM4T) -> list[dict]:
    """``torch.optim`` parameter groups (each ``name``d) of everything trainable: per set, then the base.

    ``lr``/``weight_decay`` are present only where they differ from the optimiser's defaults.

    Example
    -------
    >>> from speechbrain_m4t_adapters.tiny import build_tiny_model
    >>> from speechbrain_m4t_adapters.adapters import BottleneckConfig
    >>> import tempfile
    >>> m4t = SeamlessM4T(build_tiny_model(tempfile.mkdtemp(), "v2", vocab_size=400),
    ...     adapters={"enc": BottleneckConfig(bottleneck=4, lr=1e-4)})
    >>> [(g["name"], g["lr"], g.get("weight_decay")) for g in param_groups(m4t)]
    [('enc', 0.0001, None), ('enc (norms, biases)', 0.0001, 0.0)]
    """
    groups: list[dict] = []
    seen: set[int] = set()
    for name in m4t.adapters.active:
        params = [p for p in m4t.adapters.parameters(name) if p.requires_grad and id(p) not in seen]
        seen.update(id(p) for p in params)
        config = m4t.adapters.sets[name].config
        groups += _split(name, params, getattr(config, "lr", None), getattr(config, "weight_decay", None))
    base = [p for _, p in base_parameters(m4t.model) if p.requires_grad and id(p) not in seen]
    groups += _split("base model", base, None, None)
    return groups


def apply_warmup(optimizer: torch.optim.Optimizer, step: int, warmup_steps: int) -> None:
    """Set each group's lr for optimiser step ``step`` (0-based): linear up to ``peak_lr``.

    Example
    -------
    >>> opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> opt.param_groups[0]["peak_lr"] = 1.0
    >>> apply_warmup(opt, 0, 4); opt.param_groups[0]["lr"]
    0.25
    >>> apply_warmup(opt, 9, 4); opt.param_groups[0]["lr"]
    1.0
    """
    factor = min(1.0, (step + 1) / warmup_steps) if warmup_steps and warmup_steps > 0 else 1.0
    for group in optimizer.param_groups:
        group["lr"] = group["peak_lr"] * factor


def scale_peak_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Anneal: multiply every group's ``peak_lr`` (and current lr) by ``factor``."""
    for group in optimizer.param_groups:
        group["peak_lr"] *= factor
        group["lr"] *= factor


def log_param_groups(optimizer: torch.optim.Optimizer, warmup_steps: int = 0) -> list[str]:
    """Log (and return) one line per resolved parameter group."""
    lines = [
        f"optimizer group {g.get('name', i)!r}: {sum(p.numel() for p in g['params']):,} parameters, "
        f"lr {g['peak_lr']:g}, weight decay {g.get('weight_decay', 0.0):g}"
        for i, g in enumerate(optimizer.param_groups)
    ]
    lines.append(f"optimizer {type(optimizer).__name__}, linear warmup over {warmup_steps or 0} steps")
    for line in lines:
        logger.info(line)
    return lines
