"""The one training engine every recipe uses: a SpeechBrain ``Brain`` for adapters.

A batch is speech (``sig``: ASR through the speech encoder) or text (``source``: translation
through the text encoder and the SHARED decoder): ASR-only, text-only and mixed runs are one code.
Validation and test decode with each utterance's language token (zero-shot cross-lingual too).
"""

import hashlib
import logging
import time
from pathlib import Path

import speechbrain as sb
import torch
import torch.distributed as dist
import torch.nn.functional as F
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from speechbrain.utils.distributed import if_main_process, is_distributed_initialized
from torch.nn.parallel import DistributedDataParallel as DDP

from ..evaluation.metrics import compute_error_rates, scores_by_normalizer, write_alignments
from ..lobe import SeamlessM4T
from ..model.decoding import SAMPLE_RATE, split_audio, transcribe_chunks
from ..model.languages import teacher_forcing
from .frozen_cache import FrozenOutputs
from .nonfinite import NonFiniteStepGuard
from .optim import apply_warmup, log_param_groups, scale_peak_lr

logger = logging.getLogger(__name__)
_COLUMNS = ("ids", "refs", "hyps", "langs")


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

    def _running(self) -> float:
        return time.perf_counter() - self._started if self._started is not None else 0.0

    def start(self) -> None:
        """Start (or restart) counting."""
        self._started = time.perf_counter()

    def stop(self) -> None:
        """Add the time since :meth:`start`."""
        self.seconds, self._started = self.seconds + self._running(), None

    @mark_as_saver
    def _save(self, path: str | Path) -> None:
        Path(path).write_text(f"{self.seconds + self._running()}\n")

    @mark_as_loader
    def _load(self, path: str | Path, end_of_epoch: bool = False) -> None:
        self.seconds = float(Path(path).read_text())


def _distributed() -> bool:
    return is_distributed_initialized() and dist.get_world_size() > 1


def _all_gather(value) -> list:
    """``value`` of every rank (``[value]`` outside DDP)."""
    if not _distributed():
        return [value]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def parameters_checksum(params: list[torch.Tensor]) -> str:
    """SHA-256 (16 hex digits) of the exact bytes of ``params`` (replica comparisons).

    Example
    -------
    >>> ones, zeros = [torch.ones(3)], [torch.zeros(3)]
    >>> parameters_checksum(ones) == parameters_checksum([torch.ones(3)]) != parameters_checksum(zeros)
    True
    """
    digest = hashlib.sha256()
    for p in params:
        digest.update(p.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _lengths_mask(padded: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
    """Boolean (B, L) mask of valid positions from SpeechBrain relative lengths."""
    lengths = torch.round(rel_lens * padded.shape[1])
    return length_to_mask(lengths, max_len=padded.shape[1], device=padded.device).bool()


class AdapterBrain(NonFiniteStepGuard, sb.Brain):
    """Train and evaluate adapters on SeamlessM4T (``modules: {m4t: ...}``) with speech and/or text batches.

    Under ``torchrun`` the whole training step runs inside the lobe's ``forward`` (DDP sees it);
    evaluation sets are sharded across ranks and gathered; only rank 0 writes files. Hparams:
    ``label_smoothing``, ``valid_search``/``test_search``, ``output_folder``; optional ``lr_annealing``,
    ``warmup_steps``, ``max_decode_seconds``, ``train_clock``.
    """

    @property
    def m4t(self) -> SeamlessM4T:
        """The lobe itself (unwrapped from DDP)."""
        module = self.modules.m4t
        return module.module if isinstance(module, DDP) else module

    def compute_forward(self, batch, stage):
        """Encode (speech or text), teacher-force the decoder, and decode hypotheses off-train."""
        batch = batch.to(self.device)
        # Training goes through the DDP wrapper (gradient synchronisation); evaluation runs
        # the plain lobe: ranks decode different shards and must not meet in collectives.
        module = self.modules.m4t if stage == sb.Stage.TRAIN else self.m4t
        target, target_lens = batch.target
        labels = target.masked_fill(~_lengths_mask(target, target_lens), -100)
        decoder_inputs = teacher_forcing(labels, self.m4t.text_ids.eos_id, self.m4t.text_ids.pad_id)
        frozen = getattr(self, "frozen_outputs", None) if stage == sb.Stage.TRAIN else None
        if hasattr(batch, "sig"):
            inputs = dict(zip(("wavs", "wav_lens"), batch.sig))
        else:
            source, source_lens = batch.source
            inputs = {"input_ids": source, "attention_mask": _lengths_mask(source, source_lens).long()}
        encoded = frozen.encoded(batch.id, **inputs) if frozen else None
        logits, hidden, mask = module(**inputs, decoder_input_ids=decoder_inputs, encoded=encoded)
        hypotheses = None
        if stage != sb.Stage.TRAIN and hasattr(batch, "sig"):
            search = self.hparams.valid_search if stage == sb.Stage.VALID else self.hparams.test_search
            hypotheses = self._hypotheses(batch, hidden, mask, search)
        return logits, labels, hypotheses

    def _hypotheses(self, batch, hidden, mask, search: dict) -> list[str]:
        """Decode a batch; utterances over ``max_decode_seconds`` are cut into chunks (never truncated)."""
        m4t, (wavs, wav_lens) = self.m4t, batch.sig
        samples = torch.round(wav_lens * wavs.shape[1]).long().tolist()
        limit = getattr(self.hparams, "max_decode_seconds", 30.0)
        long_rows = [i for i, n in enumerate(samples) if limit and n > limit * SAMPLE_RATE]
        short_rows = [i for i in range(len(samples)) if i not in long_rows]
        texts: dict[int, str] = {}
        if short_rows:
            rows = torch.tensor(short_rows, device=hidden.device)
            tokens = m4t.generate(hidden[rows], mask[rows], [batch.language[i] for i in short_rows], **search)
            texts.update(zip(short_rows, m4t.decode_tokens(tokens)))
        for i in long_rows:
            chunks = split_audio(wavs[i, : samples[i]], limit)
            texts[i] = transcribe_chunks(m4t, chunks, batch.language[i], batch_size=len(chunks), **search)
        return [texts[i] for i in range(len(samples))]

    def compute_objectives(self, predictions, batch, stage):
        """Cross-entropy on ``[__lang__, tokens..., </s>]``; error statistics off-train."""
        logits, labels, hypotheses = predictions
        if not self.hparams.loss_on_language_token:
            labels = labels.clone()
            labels[:, 0] = -100
        smoothing = self.hparams.label_smoothing if stage == sb.Stage.TRAIN else 0.0  # -100s are ignored
        loss = F.cross_entropy(logits.float().transpose(1, 2), labels, label_smoothing=smoothing)
        if stage != sb.Stage.TRAIN:
            self.results["loss_sum"] += float(loss.detach())
            self.results["batches"] += 1
        if hypotheses is not None:
            for key, values in zip(_COLUMNS, (batch.id, batch.transcript, hypotheses, batch.language)):
                self.results[key] += list(values)
        return loss

    def init_optimizers(self):
        """One optimizer over parameter groups: per set ``lr``/``weight_decay``; norms/biases undecayed."""
        groups = self.m4t.param_groups()
        if not groups or self.opt_class is None:
            self.optimizer = self.optimizers_dict = None
            logger.info("no trainable parameters: evaluation only")
            return
        self.optimizer = self.opt_class(groups)
        for group in self.optimizer.param_groups:
            group.setdefault("peak_lr", group["lr"])
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)
        log_param_groups(self.optimizer, getattr(self.hparams, "warmup_steps", 0))

    def _wrap_distributed(self):
        """SpeechBrain's DDP wrapping, but a frozen base and buffers (the same on every rank; GBs on v2-large)
        are not broadcast each forward, nor SyncBatchNorm'ed (v1's BatchNorm is frozen; refused on CPU)."""
        m4t = self.m4t
        if not self.distributed_launch or not m4t.freeze:
            return super()._wrap_distributed()
        if not hasattr(m4t, "_ddp_params_and_buffers_to_ignore"):
            frozen = [name for name, p in m4t.named_parameters() if not p.requires_grad]
            m4t._ddp_params_and_buffers_to_ignore = frozen + [name for name, _ in m4t.named_buffers()]
        if any(p.requires_grad for p in m4t.parameters()):
            ids = None if self.distributed_backend == "gloo" else [self.device]
            self.modules["m4t"] = DDP(m4t, device_ids=ids, find_unused_parameters=self.find_unused_parameters)

    def optimizers_step(self):
        """Skip non-finite steps, warm up, unscale, clip the norm over ALL groups (SpeechBrain: one), step."""
        if self.optimizer is None:
            return
        if self.freeze_optimizers(self.optimizers_dict):  # {}: a non-finite step, skipped
            apply_warmup(self.optimizer, self.optimizer_step, getattr(self.hparams, "warmup_steps", 0))
            self.scaler.unscale_(self.optimizer)
            if self.max_grad_norm and self.max_grad_norm > 0:  # SpeechBrain: negative disables
                params = [p for group in self.optimizer.param_groups for p in group["params"]]
                torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.optimizer_step += 1

    def on_fit_start(self):
        """Wrap (DDP), build the optimizer, recover, give every rank rank 0's weights; check them."""
        super().on_fit_start()
        if getattr(self.hparams, "frozen_cache", False):
            max_gb = getattr(self.hparams, "frozen_cache_max_gb", 20.0)
            self.frozen_outputs = FrozenOutputs(self.m4t, self.hparams.frozen_cache_folder, max_gb)
        if _distributed():
            for p in self.m4t.trainable_parameters():
                dist.broadcast(p.data, src=0)
        self.check_replicas("start")

    def fit(self, *args, **kwargs):
        """SpeechBrain's ``fit``, a check that the replicas are still equal, then the plain lobe again:
        the DDP wrapper holds the process group, and SpeechBrain's checkpointer keeps this Brain (so
        the wrapper) alive until exit, where a group still referenced dies with its gloo threads
        running (SIGABRT after a finished run). Evaluation runs the plain lobe anyway."""
        super().fit(*args, **kwargs)
        self.check_replicas("end")
        if isinstance(self.modules.m4t, DDP):
            self.modules["m4t"] = self.modules.m4t.module

    def check_replicas(self, when: str) -> list[str]:
        """Checksums of every rank's trainable weights (logged); unequal replicas are an error."""
        checksums = _all_gather(parameters_checksum(self.m4t.trainable_parameters()))
        logger.info("trainable weights checksum per rank at %s of training: %s", when, checksums)
        if len(set(checksums)) > 1:
            raise RuntimeError(
                f"DDP replicas differ at the {when} of training (trainable weights checksums {checksums})"
            )
        return checksums

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """Evaluation loaders are sharded across DDP ranks, unpadded (unlike ``DistributedSampler``):
        gathered results hold every utterance once."""
        if stage != sb.Stage.TRAIN:
            self._eval_order = {uid: i for i, uid in enumerate(getattr(dataset, "data_ids", []))}
            if _distributed() and "sampler" not in loader_kwargs and "batch_sampler" not in loader_kwargs:
                shard = range(dist.get_rank(), len(dataset), dist.get_world_size())  # keeps the order
                loader_kwargs = {**loader_kwargs, "sampler": shard}
        return super().make_dataloader(dataset, stage, ckpt_prefix=ckpt_prefix, **loader_kwargs)

    def on_stage_start(self, stage, epoch=None):
        """Reset error statistics; start the training clock."""
        self.results = {"ids": [], "refs": [], "hyps": [], "langs": [], "loss_sum": 0.0, "batches": 0}
        if stage == sb.Stage.TRAIN and hasattr(self.hparams, "train_clock"):
            self.hparams.train_clock.start()

    def _gather_results(self, stage_loss: float) -> float:
        """Merge every rank's evaluation results, in dataset order; returns the mean loss (if any batch)."""
        shards = _all_gather(self.results)
        rows = [row for shard in shards for row in zip(*(shard[k] for k in _COLUMNS))]
        order = getattr(self, "_eval_order", {})
        rows.sort(key=lambda row: order.get(row[0], len(order)))
        self.results.update({k: [row[i] for row in rows] for i, k in enumerate(_COLUMNS)})
        batches = sum(shard["batches"] for shard in shards)
        return sum(shard["loss_sum"] for shard in shards) / batches if batches else stage_loss

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, warm up/anneal, checkpoint (VALID) or write the test outputs (TEST)."""
        if stage != sb.Stage.TRAIN:
            stage_loss = self._gather_results(stage_loss)
        stats, errors, ids = {"loss": stage_loss}, {}, self.results["ids"]
        if ids:
            errors = compute_error_rates(ids, self.results["refs"], self.results["hyps"])
            stats.update(WER=errors["wer"], CER=errors["cer"])
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            for line in self.frozen_outputs.summaries() if getattr(self, "frozen_outputs", None) else []:
                logger.info("%s", line)
            if hasattr(self.hparams, "train_clock"):
                self.hparams.train_clock.stop()
        elif stage == sb.Stage.VALID:
            self._end_valid(stats, stage_loss, epoch)
        else:
            self._end_test(stats, errors, stage_loss)

    def _end_valid(self, stats: dict, stage_loss: float, epoch) -> None:
        lr = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else 0.0
        if self.optimizer is not None and getattr(self.hparams, "lr_annealing", None) is not None:
            old_lr, new_lr = self.hparams.lr_annealing(stats.get("WER", stage_loss))
            scale_peak_lr(self.optimizer, new_lr / old_lr if old_lr else 1.0)
        meta, train_stats = {"epoch": epoch, "lr": lr}, getattr(self, "train_stats", None)
        self.hparams.train_logger.log_stats(stats_meta=meta, train_stats=train_stats, valid_stats=stats)
        if self.checkpointer is not None:
            key = self.hparams.checkpoint_metric
            meta = {**stats, key: stats.get(key, stage_loss)}
            self.checkpointer.save_and_keep_only(meta=meta, min_keys=[key], num_to_keep=1)

    def _end_test(self, stats: dict, errors: dict, stage_loss: float) -> None:
        name, results = self.current_test_set, self.results
        extra = getattr(self.hparams, "extra_normalizers", None) or []  # e.g. vistaar, beside our default
        language = ",".join(sorted(set(results["langs"])))
        scores = scores_by_normalizer(*(results[k] for k in _COLUMNS), extra)
        self.test_results[name] = {**errors, "language": language, "loss": stage_loss, **scores}
        # SpeechBrain's logger is main-process-only AND a collective: every rank calls it.
        meta = {"test set": name, "epochs trained": self.hparams.epoch_counter.current}
        self.hparams.train_logger.log_stats(stats_meta=meta, test_stats=stats)
        if not if_main_process():
            return
        folder = Path(self.hparams.output_folder) / "test" / name
        folder.mkdir(parents=True, exist_ok=True)
        ids, refs, hyps = results["ids"], results["refs"], results["hyps"]
        write_alignments(folder / "wer.txt", ids, refs, hyps, cer_path=folder / "cer.txt")
        rows = [("ID", "language", "reference", "hypothesis"), *zip(ids, results["langs"], refs, hyps)]
        (folder / "hypotheses.tsv").write_text("\n".join(map("\t".join, rows)) + "\n", encoding="utf-8")

    def evaluate_test_sets(self, test_sets: dict, loader_kwargs: dict) -> dict:
        """Evaluate the best checkpoint on several named test sets."""
        self.test_results = {}
        for name, dataset in test_sets.items():
            self.current_test_set = name
            self.evaluate(dataset, min_key=self.hparams.checkpoint_metric, test_loader_kwargs=loader_kwargs)
        return self.test_results
