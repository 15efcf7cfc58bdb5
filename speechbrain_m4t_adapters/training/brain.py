"""The one training engine every recipe uses: a SpeechBrain ``Brain`` for adapters.

A batch is either speech (``sig``: ASR through speech encoder, length adaptor
and decoder) or text (``source``: translation through the text encoder and the
SHARED decoder); the Brain picks the path from the batch, so ASR-only,
text-only and mixed runs are the same code. Validation and test decode with
the language token of each utterance (from its manifest), which is also how
zero-shot cross-lingual evaluation on several test sets works.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import speechbrain as sb
import torch
import torch.distributed as dist
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks

from ..evaluation.metrics import compute_error_rates, scores_by_normalizer, write_alignments
from ..model.lobe import SeamlessM4T

logger = logging.getLogger(__name__)


@register_checkpoint_hooks
class TrainClock:
    """Training wall time that survives resumption (a Checkpointer recoverable).

    Example
    -------
    >>> clock = TrainClock()
    >>> clock.start(); clock.stop(); clock.seconds >= 0
    True
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def start(self) -> None:
        """Start (or restart) counting."""
        self._started = time.perf_counter()

    def stop(self) -> None:
        """Add the time since :meth:`start`."""
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    @mark_as_saver
    def _save(self, path: str | Path) -> None:
        running = time.perf_counter() - self._started if self._started is not None else 0.0
        Path(path).write_text(f"{self.seconds + running}\n")

    @mark_as_loader
    def _load(self, path: str | Path, end_of_epoch: bool = False) -> None:
        self.seconds = float(Path(path).read_text())


def _lengths_mask(padded: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
    """Boolean (B, L) mask of valid positions from SpeechBrain relative lengths."""
    abs_lens = torch.round(rel_lens * padded.shape[1]).long()
    return torch.arange(padded.shape[1], device=padded.device)[None, :] < abs_lens[:, None].to(padded.device)


class AdapterBrain(sb.Brain):
    """Train and evaluate adapters on SeamlessM4T with speech and/or text batches.

    Expects ``modules: {m4t: SeamlessM4T}`` and these hparams:
    ``label_smoothing``, ``valid_search`` / ``test_search`` (dicts with
    ``num_beams`` and ``max_new_tokens``), ``output_folder``, optional
    ``lr_annealing`` and ``train_clock``.
    """

    # ------------------------------------------------------------- properties
    @property
    def m4t(self) -> SeamlessM4T:
        """The SeamlessM4T lobe being trained."""
        module = self.modules.m4t
        return module.module if hasattr(module, "module") else module

    # ---------------------------------------------------------------- forward
    def compute_forward(self, batch, stage):
        """Encode (speech or text), teacher-force the decoder, and decode hypotheses off-train."""
        batch = batch.to(self.device)
        m4t = self.m4t
        if hasattr(batch, "sig"):
            wavs, wav_lens = batch.sig
            hidden, mask = m4t(wavs, wav_lens)
        else:
            source, source_lens = batch.source
            hidden, mask = m4t.encode_text(source, _lengths_mask(source, source_lens).long())
        target, target_lens = batch.target
        valid = _lengths_mask(target, target_lens)
        labels = target.masked_fill(~valid, -100)
        decoder_inputs = torch.cat([torch.full_like(target[:, :1], m4t.eos_id), target[:, :-1]], dim=1)
        decoder_inputs = decoder_inputs.masked_fill(
            ~torch.cat([valid[:, :1], valid[:, :-1]], dim=1), m4t.pad_id
        )
        logits = m4t.decode(hidden, mask, decoder_inputs)
        hypotheses = None
        if stage != sb.Stage.TRAIN and hasattr(batch, "sig"):
            search = self.hparams.valid_search if stage == sb.Stage.VALID else self.hparams.test_search
            tokens = m4t.generate(hidden, mask, batch.language, **search)
            hypotheses = m4t.decode_tokens(tokens)
        return logits, labels, hypotheses

    def compute_objectives(self, predictions, batch, stage):
        """Cross-entropy on ``[__lang__, tokens..., </s>]``; error statistics off-train."""
        logits, labels, hypotheses = predictions
        if not self.hparams.loss_on_language_token:
            labels = labels.clone()
            labels[:, 0] = -100
        loss = torch.nn.functional.cross_entropy(
            logits.float().transpose(1, 2),
            labels,
            ignore_index=-100,
            label_smoothing=self.hparams.label_smoothing if stage == sb.Stage.TRAIN else 0.0,
        )
        if hypotheses is not None:
            self.results["ids"] += list(batch.id)
            self.results["refs"] += list(batch.transcript)
            self.results["hyps"] += hypotheses
            self.results["langs"] += list(batch.language)
        return loss

    # ---------------------------------------------------------- optimisation
    def init_optimizers(self):
        """Optimise only what requires grad (adapters, or unfrozen base)."""
        params = self.m4t.trainable_parameters()
        if not params or self.opt_class is None:
            self.optimizer = None
            self.optimizers_dict = None
            logger.info("no trainable parameters: evaluation only")
            return
        self.optimizer = self.opt_class(params)
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def _wrap_distributed(self):
        # Gradients of the (small) trainable set are averaged by hand in
        # optimizers_step, so the lobe keeps its full API instead of DDP's.
        return

    def optimizers_step(self):
        """Average gradients across DDP ranks, then SpeechBrain's step (scaler, clipping)."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            world = dist.get_world_size()
            for p in self.m4t.trainable_parameters():
                if p.grad is None:
                    p.grad = torch.zeros_like(p)  # unused this step on this rank (e.g. text batch)
                dist.all_reduce(p.grad)
                p.grad /= world
        super().optimizers_step()

    # ----------------------------------------------------------------- stages
    def on_fit_start(self):
        """Log the parameter report before the first batch."""
        super().on_fit_start()
        report = self.m4t.parameter_report()
        logger.info(
            "trainable parameters: %d of %d (%.3f%%); sets: %s",
            report["trainable_parameters"],
            report["base_parameters"],
            report["trainable_percent"],
            report["adapter_sets"],
        )

    def on_stage_start(self, stage, epoch=None):
        """Reset error statistics; start the training clock."""
        self.results = {"ids": [], "refs": [], "hyps": [], "langs": []}
        if stage == sb.Stage.TRAIN:
            sampler = getattr(getattr(self, "train_loader", None), "batch_sampler", None)
            if epoch is not None and hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            if hasattr(self.hparams, "train_clock"):
                self.hparams.train_clock.start()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, anneal, checkpoint (VALID) or write the test outputs (TEST)."""
        stats = {"loss": stage_loss}
        errors = {}
        if self.results["ids"]:
            errors = compute_error_rates(self.results["ids"], self.results["refs"], self.results["hyps"])
            stats.update(WER=errors["wer"], CER=errors["cer"])
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            if hasattr(self.hparams, "train_clock"):
                self.hparams.train_clock.stop()
            return
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else 0.0
            if self.optimizer is not None and getattr(self.hparams, "lr_annealing", None) is not None:
                _, new_lr = self.hparams.lr_annealing(stats.get("WER", stage_loss))
                sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            if self.checkpointer is not None:
                key = self.hparams.checkpoint_metric
                self.checkpointer.save_and_keep_only(
                    meta={**stats, key: stats.get(key, stage_loss)}, min_keys=[key], num_to_keep=1
                )
            return
        # TEST
        name = self.current_test_set
        folder = Path(self.hparams.output_folder) / "test" / name
        folder.mkdir(parents=True, exist_ok=True)
        write_alignments(
            folder / "wer.txt",
            self.results["ids"],
            self.results["refs"],
            self.results["hyps"],
            cer_path=folder / "cer.txt",
        )
        with open(folder / "hypotheses.tsv", "w", encoding="utf-8") as out:
            out.write("ID\tlanguage\treference\thypothesis\n")
            for row in zip(*(self.results[k] for k in ("ids", "langs", "refs", "hyps"))):
                out.write("\t".join(row) + "\n")
        languages = sorted(set(self.results["langs"]))
        self.test_results[name] = {
            **errors,
            "language": languages[0] if len(languages) == 1 else ",".join(languages),
            "loss": stage_loss,
        }
        extra = getattr(self.hparams, "extra_normalizers", None) or []  # e.g. vistaar, beside our default
        self.test_results[name].update(
            scores_by_normalizer(*(self.results[k] for k in ("ids", "refs", "hyps", "langs")), extra)
        )
        self.hparams.train_logger.log_stats(
            stats_meta={"test set": name, "epochs trained": self.hparams.epoch_counter.current},
            test_stats=stats,
        )

    def evaluate_test_sets(self, test_sets: dict, loader_kwargs: dict) -> dict:
        """Evaluate the best checkpoint on several named test sets."""
        self.test_results = {}
        for name, dataset in test_sets.items():
            self.current_test_set = name
            self.evaluate(dataset, min_key=self.hparams.checkpoint_metric, test_loader_kwargs=loader_kwargs)
        return self.test_results
