"""Warmup, annealing and logging of the optimiser's groups (``m4t.param_groups()``, per adapter set):
a linear warmup climbs to each group's ``peak_lr``; annealing scales it."""

import logging

import torch

logger = logging.getLogger(__name__)


def apply_warmup(optimizer: torch.optim.Optimizer, step: int, warmup_steps: int) -> None:
    """Set each group's lr for optimiser step ``step`` (0-based): linear up to ``peak_lr``.

    Example
    -------
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
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
