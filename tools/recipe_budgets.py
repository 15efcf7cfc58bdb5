"""A recipe's parameter budget on v1 medium (meta device) and whether it is the paper's.

The checks of the recipes against the paper's tables use it (``tests/test_recipe_budgets.py``,
``benchmarks/param_counts.py``); a run logs its own count (``training/budget.py``).
"""

from __future__ import annotations

from pathlib import Path

from speechbrain_m4t_adapters.adapters import SwitchableAdapterSets
from speechbrain_m4t_adapters.adapters.io import parse_folder_entry
from speechbrain_m4t_adapters.training.budget import paper_model_sets
from speechbrain_m4t_adapters.training.hparams import load_experiment
from speechbrain_m4t_adapters.training.preflight import find_recipe

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
    ``pretrained_adapters`` are found beside it (``training.preflight.recipe_folders``)."""
    path = Path(path).resolve()
    sets = paper_model_sets()
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
