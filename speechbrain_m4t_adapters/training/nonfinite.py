"""Skip optimiser steps whose loss or gradients are NaN/infinite (one would turn every weight NaN).

:class:`NonFiniteStepGuard` reuses SpeechBrain's hooks: ``check_loss_isfinite`` only notes a
non-finite loss; ``freeze_optimizers`` (after the gradients are complete and DDP-averaged, before
clipping) skips the step, clears the gradients and logs the utterance ids; more than
``nonfinite_patience`` (default 3) skips in one epoch raise :class:`NonFiniteTrainingError`.
With fp16 on CUDA the GradScaler skips overflowing steps itself (and must see them to lower its
scale): only a non-finite loss is counted there.
"""

import logging

import torch

logger = logging.getLogger(__name__)


class NonFiniteTrainingError(RuntimeError):
    """Training kept producing non-finite losses or gradients."""


class NonFiniteStepGuard:
    """Brain mixin (before ``sb.Brain`` in the bases): a non-finite loss or gradient skips the step.

    ``nonfinite_steps_skipped`` counts the whole run; the patience applies to SpeechBrain's
    per-epoch ``nonfinite_count``.

    Example
    -------
    >>> import speechbrain as sb
    >>> class Guarded(NonFiniteStepGuard, sb.Brain):
    ...     pass
    >>> brain = Guarded(modules={"lin": torch.nn.Linear(2, 1)},
    ...                 opt_class=lambda p: torch.optim.SGD(p, lr=0.1), run_opts={"device": "cpu"})
    >>> brain.init_optimizers(); brain.nonfinite_count = 0
    >>> brain.modules.lin.weight.grad = torch.tensor([[float("nan"), 0.0]])
    >>> brain.freeze_optimizers(brain.optimizers_dict), brain.nonfinite_steps_skipped
    ({}, 1)
    """

    nonfinite_steps_skipped = 0

    def on_fit_batch_start(self, batch, should_step):
        """Remember the ids of the batches that make up the coming step."""
        super().on_fit_batch_start(batch, should_step)
        self._step_ids = getattr(self, "_step_ids", []) + [str(i) for i in getattr(batch, "id", [])]

    def check_loss_isfinite(self, loss):
        """Note a non-finite loss; the step is skipped in :meth:`freeze_optimizers`."""
        if not torch.isfinite(loss).all():
            self._nonfinite_loss = True

    def freeze_optimizers(self, optimizers):
        """Return no optimiser (skip the step) when the loss or a gradient is non-finite."""
        optimizers = super().freeze_optimizers(optimizers)
        ids, self._step_ids = getattr(self, "_step_ids", []), []
        bad_loss, self._nonfinite_loss = getattr(self, "_nonfinite_loss", False), False
        scaler = getattr(self, "scaler", None)
        scaling = scaler is not None and scaler.is_enabled()  # the GradScaler skips such steps itself
        bad_grads = not scaling and not _grads_finite(optimizers)
        if not (bad_loss or bad_grads):
            return optimizers
        self.nonfinite_count = getattr(self, "nonfinite_count", 0) + 1
        self.nonfinite_steps_skipped += 1
        what = "loss" if bad_loss else "gradient"
        shown = ", ".join(ids[:20]) + (f" ... ({len(ids)} in all)" if len(ids) > 20 else "")
        patience = getattr(self, "nonfinite_patience", 3)
        if self.nonfinite_count > patience:
            raise NonFiniteTrainingError(
                f"{self.nonfinite_count} training steps this epoch had a non-finite loss or gradient "
                f"(more than nonfinite_patience={patience}); the last was a non-finite {what} on "
                f"utterances [{shown}]. Check those clips and the learning rate."
            )
        counts = f"{self.nonfinite_count} this epoch, patience {patience}"
        logger.warning("non-finite %s on utterances [%s]: optimiser step skipped (%s)", what, shown, counts)
        if scaling:
            return optimizers  # (and lowers its scale)
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        return {}


def _grads_finite(optimizers: dict) -> bool:
    grads = [p.grad for opt in optimizers.values() for group in opt.param_groups for p in group["params"]]
    checks = [torch.isfinite(grad).all() for grad in grads if grad is not None]  # one device sync
    return bool(torch.stack(checks).all()) if checks else True
