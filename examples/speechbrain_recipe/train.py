#!/usr/bin/env python3
"""SeamlessM4T encoder adapters in a plain SpeechBrain recipe (no plugin framework).

The lobe is an ``nn.Module`` with SpeechBrain checkpoint hooks: a Brain subclass
here, SpeechBrain's data pipeline, ``DynamicBatchSampler`` and ``Checkpointer``.

Usage: python train.py hparams.yaml [--number_of_epochs=2] [--model_source=<hub id or folder>]
"""

import sys
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataio import read_audio, read_audio_info
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.dataio.sampler import DynamicBatchSampler


class AdapterASR(sb.Brain):
    """Teacher-forced cross-entropy on the decoder; greedy decoding for the error rates."""

    def compute_forward(self, batch, stage):
        """Speech -> encoder states, and decoder logits over the shifted targets."""
        inputs, self.labels = self.modules.m4t.text_ids.batch_targets(batch.tokens, device=self.device)
        logits, hidden, mask = self.modules.m4t(*batch.sig, decoder_input_ids=inputs)
        return logits, hidden, mask

    def compute_objectives(self, predictions, batch, stage):
        """Cross-entropy (padding ignored); on validation/test also the WER/CER of greedy decoding."""
        logits, hidden, mask = predictions
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2).float(), self.labels)
        if stage != sb.Stage.TRAIN:
            m4t = self.modules.m4t
            tokens = m4t.generate(
                hidden, mask, self.hparams.language, self.hparams.num_beams, self.hparams.max_new_tokens
            )
            hyps = [text.split() for text in m4t.decode_tokens(tokens)]
            self.wer.append(batch.id, hyps, [text.split() for text in batch.words])
            self.cer.append(batch.id, [list(" ".join(h)) for h in hyps], [list(t) for t in batch.words])
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Fresh error-rate accumulators."""
        if stage != sb.Stage.TRAIN:
            self.wer, self.cer = self.hparams.error_stats(), self.hparams.error_stats()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, checkpoint after validation, remember the test error rates."""
        if stage == sb.Stage.TRAIN:
            return
        stats = {
            "loss": stage_loss,
            "WER": self.wer.summarize("error_rate"),
            "CER": self.cer.summarize("error_rate"),
        }
        print(f"{stage.name.lower()} epoch {epoch}: " + ", ".join(f"{k} {v:.2f}" for k, v in stats.items()))
        if stage == sb.Stage.VALID:
            self.checkpointer.save_and_keep_only(meta=stats, min_keys=["CER"])
        else:
            self.test_stats = stats


def clips_dataset(hparams) -> DynamicItemDataset:
    """The shipped clips as a SpeechBrain dataset: signal, transcript, tokens (ids with the language)."""
    folder = Path(hparams["clips_folder"])
    rows = [
        line.split("\t") for line in (folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
    ]
    wavs = {utt: str(folder / "wav" / f"{utt}.wav") for utt, _ in rows}
    # durations in the data: DynamicBatchSampler groups utterances by them before any audio is read
    infos = {utt: read_audio_info(wav) for utt, wav in wavs.items()}
    seconds = {utt: info.num_frames / info.sample_rate for utt, info in infos.items()}
    data = {utt: {"wav": wavs[utt], "text": text, "duration": seconds[utt]} for utt, text in rows}
    text_ids = hparams["m4t"].text_ids

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio(wav):
        """The waveform (the shipped clips are 16 kHz mono, as the model expects)."""
        return read_audio(wav)

    @sb.utils.data_pipeline.takes("text")
    @sb.utils.data_pipeline.provides("words", "tokens")
    def text(transcript):
        """The transcript and its label ids ``[__ben__, tokens..., </s>]``."""
        yield transcript
        yield text_ids(transcript, hparams["language"])

    return DynamicItemDataset(data, dynamic_items=[audio, text], output_keys=["id", "sig", "words", "tokens"])


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file, encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file)
    clips = clips_dataset(hparams)
    sampler = DynamicBatchSampler(
        clips, hparams["max_batch_length"], num_buckets=2, length_func=lambda x: x["duration"], shuffle=True
    )
    brain = AdapterASR(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(hparams["epoch_counter"], clips, clips, train_loader_kwargs={"batch_sampler": sampler})
    brain.evaluate(clips, min_key="CER", test_loader_kwargs={"batch_size": 3})
    print(f"test on the training clips: WER {brain.test_stats['WER']:.2f}, CER {brain.test_stats['CER']:.2f}")
