"""Duration-bucketed dynamic batching (``dynamic_batching: True``): the whole epoch, the same losses."""

from __future__ import annotations

from collections import Counter

import torch
import torch.nn.functional as F
from conftest import REAL
from speechbrain.dataio.dataloader import make_dataloader

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.data.manifest import read_asr_manifest, write_asr_manifest
from speechbrain_m4t_adapters.data.prepare import prepare_respin
from speechbrain_m4t_adapters.training.recipe import _train_loader

CLIPS = sorted((REAL / "respin").glob("*/wav/*.wav"))


def _manifest(folder):
    """The 12 shipped RESPIN clips in one ASR manifest, written by the package's own preparer."""
    rows = []
    for lang in ("bn", "mt"):
        prepare_respin(REAL / "respin", lang, folder / f"{lang}.csv")
        rows += read_asr_manifest(folder / f"{lang}.csv")
    write_asr_manifest(rows, folder / "train.csv")
    return folder / "train.csv"


def _utterance_losses(m4t: SeamlessM4T, loader) -> tuple[dict[str, float], list[int]]:
    """Mean token cross-entropy of each utterance, and the batch sizes, over one epoch."""
    losses, sizes = {}, []
    with torch.no_grad():
        for batch in loader:
            wavs, lens = batch.sig
            inputs, labels = m4t.text_ids.batch_targets(list(batch.transcript), list(batch.language))
            logits, _, _ = m4t(wavs, lens, decoder_input_ids=inputs)
            per_token = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
            counts = (labels != -100).sum(1)
            for utt, total, count in zip(batch.id, per_token.sum(1), counts):
                assert utt not in losses, f"{utt} seen twice in one epoch"
                losses[utt] = float(total / count)
            sizes.append(len(batch.id))
    return losses, sizes


def test_dynamic_batching_sees_the_whole_epoch_with_the_losses_of_fixed_batches(tiny_v2, tmp_path):
    csvs = {"train": _manifest(tmp_path)}
    m4t = SeamlessM4T(tiny_v2).eval()
    hparams = {"mode": "asr", "sorting": "ascending", "seed": 0}
    hparams["train_dataloader_opts"] = {"batch_size": 4, "num_workers": 0}
    train, kwargs = _train_loader(hparams, m4t, csvs)
    fixed, fixed_sizes = _utterance_losses(m4t, make_dataloader(train, **kwargs))
    assert fixed_sizes == [4, 4, 4]

    hparams["dynamic_batching"] = True
    hparams["dynamic_batch_sampler"] = {"max_batch_length": 20.0, "num_buckets": 3, "shuffle": True}
    train, kwargs = _train_loader(hparams, m4t, csvs)
    sampler = kwargs["batch_sampler"]
    seen = Counter()
    for epoch in range(2):  # reshuffled per epoch, each utterance exactly once each time
        sampler.set_epoch(epoch)
        dynamic, sizes = _utterance_losses(m4t, make_dataloader(train, **kwargs))
        seen.update(list(dynamic))
        assert set(dynamic) == set(fixed) and len(dynamic) == len(CLIPS)
        assert sizes != [4, 4, 4] and max(sizes) >= 2  # batches by seconds, not by count
        for utt, loss in fixed.items():  # padding and batch mates change nothing
            assert abs(dynamic[utt] - loss) <= 1e-4 * max(1.0, abs(loss)), utt
    assert set(seen.values()) == {2}
