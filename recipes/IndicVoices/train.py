#!/usr/bin/env python3
"""Recipe for adapting SeamlessM4T to ASR of a low-resource IndicVoices language.

The base model stays frozen; only the adapter sets its hparams file declares are trained
(bottleneck adapters after every Conformer or text-decoder layer, or a trainable copy of the
length adaptor), with a label-smoothed, teacher-forced cross-entropy on the shared text decoder.
Validation decodes greedily and keeps the checkpoint of lowest WER; the test set is decoded
with beam search and its error rates are written to ``wer_test.txt``.

To run this recipe, do the following:
> python train.py hparams/odia_encoder.yaml --data_folder=/path/to/IndicVoices/odia

Authors
 * speechbrain-m4t-adapters contributors 2026
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataio import read_audio, read_audio_info
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

SAMPLE_RATE = 16000  # what SeamlessM4T's speech encoder expects


class AdapterASR(sb.Brain):
    """SeamlessM4T ASR: the adapter sets of the hparams file trained on a frozen base."""

    @property
    def m4t(self) -> torch.nn.Module:
        """The lobe (unwrapped when DistributedDataParallel holds it)."""
        return getattr(self.modules.m4t, "module", self.modules.m4t)

    def compute_forward(self, batch: PaddedBatch, stage: sb.Stage) -> tuple[torch.Tensor, ...]:
        """Speech -> encoder states, and decoder logits over the shifted targets."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        inputs, self.labels = self.m4t.text_ids.batch_targets(batch.tokens, device=self.device)
        return self.modules.m4t(wavs, wav_lens, decoder_input_ids=inputs)

    def compute_objectives(self, predictions: tuple, batch: PaddedBatch, stage: sb.Stage) -> torch.Tensor:
        """Cross-entropy (padding ignored, smoothed in training); off-train also the error rates."""
        logits, hidden, mask = predictions
        labels = self.labels
        if not self.hparams.loss_on_language_token:  # decoding forces it: nothing to learn
            labels = labels.clone()
            labels[:, 0] = -100
        smoothing = self.hparams.label_smoothing if stage == sb.Stage.TRAIN else 0.0
        loss = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2).float(), labels, label_smoothing=smoothing
        )
        if stage != sb.Stage.TRAIN:
            search = self.hparams.valid_search if stage == sb.Stage.VALID else self.hparams.test_search
            tokens = self.m4t.generate(hidden, mask, self.hparams.language, **search)
            predicted = [text.split() for text in self.m4t.decode_tokens(tokens)]
            targets = [text.split() for text in batch.wrd]
            self.wer_metric.append(batch.id, predicted, targets)
            self.cer_metric.append(batch.id, predicted, targets)
        return loss

    def init_optimizers(self) -> None:
        """One optimizer over the lobe's parameter groups: each trainable adapter set at its
        config's ``lr`` and ``weight_decay`` where it sets them, norms and biases undecayed."""
        self.optimizer = self.opt_class(self.m4t.param_groups())
        for group in self.optimizer.param_groups:
            group["peak_lr"] = group["lr"]  # warmup climbs to it, annealing scales it
        self.optimizers_dict = {"opt_class": self.optimizer}
        self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def optimizers_step(self) -> None:
        """SpeechBrain's step, the gradient norm clipped over all groups first (it clips the
        first group only: here the matrices). With fp16 the gradients are still scaled at this
        point, so there SpeechBrain's clipping alone applies."""
        if self.max_grad_norm > 0 and not self.scaler.is_enabled():
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        super().optimizers_step()

    def on_fit_batch_start(self, batch: PaddedBatch, should_step: bool) -> None:
        """Linear warmup of every group's learning rate over the first ``warmup_steps`` steps."""
        if should_step:
            factor = min(1.0, (self.optimizer_step + 1) / max(1, self.hparams.warmup_steps))
            for group in self.optimizer.param_groups:
                group["lr"] = group["peak_lr"] * factor

    def on_stage_start(self, stage: sb.Stage, epoch: int | None = None) -> None:
        """Fresh error-rate accumulators."""
        if stage != sb.Stage.TRAIN:
            self.wer_metric = self.hparams.error_rate_computer()
            self.cer_metric = self.hparams.cer_computer()

    def on_stage_end(self, stage: sb.Stage, stage_loss: float, epoch: int | None = None) -> None:
        """Anneal, log and checkpoint after validation; log and write the test error rates."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats["CER"] = self.cer_metric.summarize("error_rate")
        stats["WER"] = self.wer_metric.summarize("error_rate")
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["peak_lr"]  # of the first set, before annealing
            old_lr, new_lr = self.hparams.lr_annealing(stats["WER"])
            for group in self.optimizer.param_groups:
                group["peak_lr"] *= new_lr / old_lr
                group["lr"] *= new_lr / old_lr
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(meta={"WER": stats["WER"]}, min_keys=["WER"])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
            with open(self.hparams.test_wer_file, "w", encoding="utf-8") as stream:
                self.wer_metric.write_stats(stream)


def dataio_prepare(
    hparams: dict, text_ids: Callable[[str, str], list[int]]
) -> tuple[DynamicItemDataset, ...]:
    """Datasets of the prepared CSV files: 16 kHz signal, transcript and label ids.

    Arguments
    ---------
    hparams : dict
        The loaded hparams file.
    text_ids : callable
        ``text_ids(transcript, language)`` -> label ids (the lobe's ``text_ids``).

    Returns
    -------
    tuple
        The train, valid and test ``DynamicItemDataset``.
    """
    datasets = [
        DynamicItemDataset.from_csv(csv_path=path, replacements={"data_root": hparams["data_folder"]})
        for path in (hparams["train_csv"], hparams["valid_csv"], hparams["test_csv"])
    ]
    limits = {"duration": hparams["max_duration"]}, {"duration": hparams["min_duration"]}
    if hparams["sorting"] in ("ascending", "descending"):
        datasets[0] = datasets[0].filtered_sorted(
            sort_key="duration",
            reverse=hparams["sorting"] == "descending",
            key_max_value=limits[0],
            key_min_value=limits[1],
        )
        hparams["train_dataloader_opts"]["shuffle"] = False
    else:  # random: shuffled anew each epoch (SpeechBrain's reproducible sampler)
        datasets[0] = datasets[0].filtered_sorted(key_max_value=limits[0], key_min_value=limits[1])
        hparams["train_dataloader_opts"]["shuffle"] = True

    @sb.utils.data_pipeline.takes("wav", "start", "stop")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav: str, start: str, stop: str) -> torch.Tensor:
        """Mono waveform of the file or segment, resampled to 16 kHz if needed."""
        sig = read_audio({"file": wav, "start": int(start), "stop": int(stop)})
        sig = sig.mean(dim=-1) if sig.dim() > 1 else sig
        sample_rate = read_audio_info(wav).sample_rate
        if sample_rate != SAMPLE_RATE:
            import torchaudio  # a SpeechBrain requirement, needed only here

            sig = torchaudio.functional.resample(sig, sample_rate, SAMPLE_RATE)
        return sig

    @sb.utils.data_pipeline.takes("wrd")
    @sb.utils.data_pipeline.provides("wrd", "tokens")
    def text_pipeline(wrd: str) -> Iterator[str | list[int]]:
        """The transcript and its labels ``[__lang__, tokens..., </s>]``."""
        yield wrd
        yield text_ids(wrd, hparams["language"])

    sb.dataio.dataset.add_dynamic_item(datasets, audio_pipeline)
    sb.dataio.dataset.add_dynamic_item(datasets, text_pipeline)
    sb.dataio.dataset.set_output_keys(datasets, ["id", "sig", "wrd", "tokens"])
    return tuple(datasets)


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )

    from indicvoices_prepare import prepare_indicvoices  # noqa: E402

    run_on_main(
        prepare_indicvoices,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "language": hparams["language"],
            "train_hours": hparams["train_hours"],
            "valid_hours": hparams["valid_hours"],
            "seed": hparams["selection_seed"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    source = hparams["model_source"]
    # recipe tests: a tiny random checkpoint, built offline into model_cache
    if str(source).startswith("tiny-"):
        from speechbrain_m4t_adapters.tiny import build_tiny_once

        source = build_tiny_once(source, hparams["model_cache"])
    m4t = hparams["m4t"](source=source)  # the base model (downloaded once) with the new adapter sets
    hparams["checkpointer"].add_recoverable("m4t", m4t)  # adapter weights only
    train_data, valid_data, test_data = dataio_prepare(hparams, m4t.text_ids)

    asr_brain = AdapterASR(
        modules={"m4t": m4t},
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    asr_brain.fit(
        hparams["epoch_counter"],
        train_data,
        valid_data,
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    asr_brain.evaluate(test_data, min_key="WER", test_loader_kwargs=hparams["test_dataloader_opts"])
