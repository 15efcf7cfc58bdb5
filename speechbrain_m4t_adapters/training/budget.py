"""Parameter budgets of experiments: what a recipe trains (or loads) vs the paper's figure.

An experiment's *budget* is the number the paper's tables print beside it: its trainable
parameters or, when evaluation-only (a cross-lingual pivot), those of the sets it loads.
``tools/recipe_budgets.py`` counts a recipe's on v1 medium built on the meta device (no download).
"""

import dataclasses
import functools
import math

import torch

from ..adapters import SwitchableAdapterSets


def experiment_parameters(report: dict) -> int:
    """Budget of a ``parameter_report``: trainable parameters, else those of the active sets.

    Example
    -------
    >>> experiment_parameters({"trainable_parameters": 0,
    ...     "adapter_sets": [{"parameters": 46, "active": True}, {"parameters": 6, "active": False}]})
    46
    """
    if report["trainable_parameters"]:
        return report["trainable_parameters"]
    return sum(s["parameters"] for s in report["adapter_sets"] if s["active"])


#: Base parameters of v1 medium (speech encoder, text encoder, decoder), the paper's model.
PAPER_BASE = 1.2e9


def budget_line(ours: int, paper: float | None, base: int | None = None) -> str:
    """Log line comparing a count (and its share of ``base``) with the paper's budget (of 1.2B).

    Example
    -------
    >>> budget_line(6_331_392, 6e6)
    "experiment parameters: 6,331,392 (6.33M); the paper's budget: 6.00M (+5.5%)"
    >>> budget_line(19_000, 6e6, base=3_700_000)
    "experiment parameters: 19,000 (0.02M, 0.51% of the base); the paper's budget: 6.00M (0.50% of 1.2B)"
    """
    share = f", {100 * ours / base:.2f}% of the base" if base else ""
    line = f"experiment parameters: {ours:,} ({ours / 1e6:.2f}M{share})"
    if not paper:
        return line + "; no budget in the paper for this experiment"
    # Another base: compare shares, not counts.
    versus = f"{100 * paper / PAPER_BASE:.2f}% of 1.2B" if base else f"{100 * (ours - paper) / paper:+.1f}%"
    return line + f"; the paper's budget: {paper / 1e6:.2f}M ({versus})"


@functools.cache
def paper_model_sets() -> SwitchableAdapterSets:
    """Adapter sets on v1 medium, the paper's model, on the meta device (cached)."""
    from ..model.reference_configs import reference_config

    return _meta_sets(reference_config("v1-medium"))


def _meta_sets(config) -> SwitchableAdapterSets:
    """Adapter sets on a model of ``config`` built on the meta device (no weights, no memory)."""
    from ..model import SeamlessM4TSpeechTextModel

    with torch.device("meta"):
        model = SeamlessM4TSpeechTextModel(config)
    model.requires_grad_(False)
    return SwitchableAdapterSets(model, hidden_size=config.hidden_size)


#: The integer field that sets a kind's size (parameters grow linearly with it).
SIZE_FIELDS = ("bottleneck", "rank")


def _count(sets: SwitchableAdapterSets, config) -> int:
    sets.add("_probe", config, activate=False)
    try:
        return sets.num_parameters("_probe")
    finally:
        sets.remove("_probe")


def scale_to_paper_fraction(adapters: dict, model_source: str) -> list[str]:
    """Resize each set's ``bottleneck`` (or LoRA ``rank``), in place, so its share of ``model_source``'s
    base is its share of v1 medium's 1.2B (6M = 0.52 %: the paper's budgets are absolute, and on a much
    smaller base the same size is a far larger share); one log line per set."""
    from transformers import AutoConfig

    from ..adapters.counting import base_parameters
    from ..bundled import resolve_model_source

    base_config = AutoConfig.from_pretrained(resolve_model_source(model_source))
    paper, ours = paper_model_sets(), _meta_sets(base_config)
    our_base = sum(p.numel() for _, p in base_parameters(ours.model))
    lines = []
    for name, config in adapters.items():
        field = next((f for f in SIZE_FIELDS if isinstance(getattr(config, f, None), int)), None)
        if field is None:
            continue
        fraction = _count(paper, config) / PAPER_BASE  # the paper's shares: 6M = 0.52% of 1.2B
        one, two = (_count(ours, dataclasses.replace(config, **{field: n})) for n in (1, 2))
        size = max(1, round((fraction * our_base - (2 * one - two)) / (two - one)))  # params = a*size + b
        lines.append(
            f"budget scaling: set {name!r} {field} {getattr(config, field)} -> {size} "
            f"({100 * fraction:.2f}% of the base, as {getattr(config, field)} is of v1 medium's 1.2B)"
        )
        setattr(config, field, size)
    return lines


def apply_lr_by_kind(adapters: dict, lr_by_kind: dict) -> list[str]:
    """Give every new set of a kind named in ``lr_by_kind`` that learning rate (in place; one log line each):
    the mini protocol picks one rate per kind by a validation sweep (``docs/mini_lr_sweep.md``).

    Example
    -------
    >>> from speechbrain_m4t_adapters.adapters import BottleneckConfig, FinetuneConfig
    >>> la = FinetuneConfig(targets=["length_adaptor"], lr=1e-4)
    >>> sets = {"enc": BottleneckConfig(bottleneck=8), "la": la}
    >>> apply_lr_by_kind(sets, {"finetune": 1e-3})
    ["lr_by_kind: set 'la' (finetune) lr 0.0001 -> 0.001"]
    >>> sets["la"].lr, sets["enc"].lr
    (0.001, None)
    """
    from ..adapters.base import KINDS
    from ..adapters.io import BUILTIN_KINDS

    known = set(KINDS) | set(BUILTIN_KINDS)
    if unknown := sorted(set(lr_by_kind) - known):
        raise ValueError(f"lr_by_kind names unknown adapter kinds {unknown}; known: {sorted(known)}")
    bad = {
        k: v
        for k, v in lr_by_kind.items()
        if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0)
    }
    if bad:
        raise ValueError(f"lr_by_kind: learning rates must be finite numbers > 0, not {bad}")
    lines = []
    for name, config in adapters.items():
        if config.kind in lr_by_kind:
            lr = float(lr_by_kind[config.kind])
            lines.append(f"lr_by_kind: set {name!r} ({config.kind}) lr {config.lr} -> {lr:g}")
            config.lr = lr
    return lines
