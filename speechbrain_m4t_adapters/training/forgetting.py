"""Forgetting check: decode other languages' test sets (``forgetting_sets:``, e.g. Hindi) from the
best checkpoint with every adapter set on and off (the base; ``FinetuneConfig`` sets restore the
original weights); the summary records both and the delta
(:func:`~speechbrain_m4t_adapters.evaluation.summary.forgetting_entry`).
"""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..evaluation.summary import forgetting_entry
from .datasets import asr_dataset

logger = logging.getLogger(__name__)
FORGET_PREFIX = "forget_"

#: Suffix of the adapters-off runs' names (their outputs go to ``test/<name>.base``).
BASE_SUFFIX = ".base"


@contextmanager
def adapters_off(brain) -> Iterator[None]:
    """Evaluate with no adapter set active, then restore them (checkpoints hold weights only)."""
    adapters = brain.m4t.adapters
    before = list(adapters.active)
    adapters.set_active([])
    try:
        yield
    finally:
        adapters.set_active(before)


def evaluate_base(brain, datasets: Mapping, loader_kwargs: dict) -> dict[str, dict]:
    """Decode ``datasets`` ({name: dataset}) with every adapter set off (into ``test/<name>.base``)."""
    with adapters_off(brain):
        runs = brain.evaluate_test_sets({n + BASE_SUFFIX: d for n, d in datasets.items()}, loader_kwargs)
    return {name[: -len(BASE_SUFFIX)]: metrics for name, metrics in runs.items()}


def evaluate_forgetting(brain, manifests: Mapping[str, Path], loader_kwargs: dict) -> dict[str, dict]:
    """Decode each forgetting set ({name: manifest}) with adapters on and off; ``{name: forgetting_entry}``
    (without adapter sets, nothing to switch off, the base columns are None)."""
    if not manifests:
        return {}
    m4t = brain.m4t
    # Own names (test/forget_<name>): a test set of the same name keeps its outputs and log line
    data = {FORGET_PREFIX + name: asr_dataset(csv, m4t, "ascending") for name, csv in manifests.items()}
    adapted = brain.evaluate_test_sets(data, loader_kwargs)
    base = evaluate_base(brain, data, loader_kwargs) if m4t.adapters.sets else {}
    if not m4t.adapters.sets:
        logger.warning("forgetting check: no adapter sets to switch off; only the adapted numbers are kept")
    result = {
        name: forgetting_entry(adapted[FORGET_PREFIX + name], base.get(FORGET_PREFIX + name))
        for name in manifests
    }
    for name, entry in result.items():
        if entry["delta_wer"] is not None:
            numbers = (entry[key] for key in ("language", "wer", "base_wer", "delta_wer"))
            logger.info("forgetting %s (%s): WER %.2f with adapters, %.2f without (%+.2f)", name, *numbers)
    return result
