"""Parameter budgets of experiments: what a recipe trains (or loads) vs the paper's figure.

An experiment's *budget* is the number the paper's tables print beside it: its trainable
parameters or, when evaluation-only (a cross-lingual pivot), those of the sets it loads.
:func:`recipe_parameters` counts it on v1 medium built on the meta device (no download).
"""

import dataclasses
import functools
import math
from pathlib import Path

import torch

from ..adapters import SwitchableAdapterSets
from ..adapters.io import parse_folder_entry
from .hparams import load_experiment
from .preflight import find_recipe

#: Relative difference allowed between a recipe's count and the paper's budget ...
BUDGET_TOLERANCE = 0.02
#: ... or the rounding of the poster, which prints whole millions ("6M" is 6.33M: 12 x 527,616).
POSTER_ROUNDING = 0.5e6


def within_budget(ours: int, paper: float) -> bool:
    """True when ``ours`` matches the paper's figure (2 %, or the poster's whole-million rounding).

    Example
    -------
    >>> within_budget(6_331_392, 6e6), within_budget(311_277_888, 311e6), within_budget(52e6, 46e6)
    (True, True, False)
    """
    return abs(ours - paper) <= max(BUDGET_TOLERANCE * paper, POSTER_ROUNDING)


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


def _attach(sets: SwitchableAdapterSets, path: Path, trainable: bool, prefix: str = "") -> None:
    hparams, _ = load_experiment(path, "data_folder: /data")
    for entry in hparams.get("pretrained_adapters") or []:
        folder, options = parse_folder_entry(entry)
        producer = find_recipe(folder.parent.parent.name, path)  # <output_root>/<experiment>/<seed>/adapters
        if producer is None:
            raise FileNotFoundError(f"{path}: no recipe writes {folder}")
        keep = hparams.get("train_pretrained_adapters", False)
        _attach(sets, producer, trainable=keep, prefix=options.get("prefix", ""))
    for name, config in (hparams.get("adapters") or {}).items():
        sets.add(prefix + name, config, activate=True, trainable=trainable)


def recipe_parameters(path: str | Path) -> int:
    """Budget of a recipe YAML on v1 medium (meta device); the recipes writing its
    ``pretrained_adapters`` are found beside it (:func:`~.preflight.recipe_folders`)."""
    path = Path(path).resolve()
    sets = _meta_v1_medium()
    hparams, _ = load_experiment(path, "data_folder: /data")
    if not hparams.get("freeze_base", True):
        return sum(p.numel() for p in sets.model.parameters())
    try:
        # New sets train; sets of pretrained folders train only with train_pretrained_adapters.
        _attach(sets, path, trainable=True)
        trainable = sum(sets.num_parameters(n) for n in sets.sets if sets.sets[n].trainable)
        return trainable or sum(sets.num_parameters(n) for n in sets.sets)  # as experiment_parameters
    finally:
        for name in list(sets.sets):
            sets.remove(name)


@functools.cache
def _meta_v1_medium() -> SwitchableAdapterSets:
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
    paper, ours = _meta_v1_medium(), _meta_sets(base_config)
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
