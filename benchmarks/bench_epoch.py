"""Training EPOCHS end to end: ours vs transformers' Seq2SeqTrainer vs a plain shuffled loop.

One run, one model, the same adapters (identical initial weights), the same
utterances and the same optimiser (AdamW, constant lr, gradient clipping):

* ``ours``: this package's step on our recipe defaults (``sorting: ascending``:
  fixed-size batches of duration-sorted utterances, the filterbank inside the
  lobe); ``ours+cache`` adds the frozen-output cache (``frozen_cache: True``) for
  the modes it applies to (decoder adapters, the length adaptor);
* ``trainer``: ``Seq2SeqTrainer`` with ``train_sampling_strategy="group_by_length"``
  (lengths from the first model input of each item, here the waveform),
  transformers' ``SeamlessM4TForSpeechToText`` with a hand-written bottleneck per
  layer (forward hooks, adapters registered on the model) and the HF feature
  extractor in the data collator;
* ``plain``: the same transformers model in a loop over shuffled fixed-size batches.

Utterances follow an IndicVoices-like duration distribution (log-normal, median
5 s, clipped to 1-30 s), made by cutting and joining the shipped real RESPIN
clips. Printed per mode and loop: seconds per epoch (epoch 1 and the mean over
``--epochs``), audio-seconds per second, the padding fraction, peak RSS, and the
mean training loss of the first and last epoch (the curves must agree).

    OMP_NUM_THREADS=1 python benchmarks/bench_epoch.py            # CPU, ~25 min
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from compare_hf_loop import NO_DROPOUT, UserBottleneck, _hook  # noqa: E402
from torch import nn  # noqa: E402

from speechbrain_m4t_adapters import SeamlessM4T  # noqa: E402
from speechbrain_m4t_adapters.adapters import BottleneckConfig, FinetuneConfig  # noqa: E402
from speechbrain_m4t_adapters.adapters.base import LAYER_STACKS  # noqa: E402
from speechbrain_m4t_adapters.adapters.sets import ADAPTERS_ATTR  # noqa: E402
from speechbrain_m4t_adapters.training.frozen_cache import FrozenOutputs  # noqa: E402

RATE = 16000
MODES = {
    "encoder adapters": BottleneckConfig(bottleneck=64, targets=["speech_encoder"]),
    "decoder adapters": BottleneckConfig(bottleneck=64, targets=["text_decoder"]),
    "length adaptor": FinetuneConfig(targets=["length_adaptor"]),
    "text-only (decoder adapters)": BottleneckConfig(bottleneck=64, targets=["text_decoder"]),
}
CACHED = ("decoder adapters", "length adaptor", "text-only (decoder adapters)")
TEXT = "text-only (decoder adapters)"


def utterances(count: int, seed: int = 0) -> list[dict]:
    """``count`` utterances of log-normal duration (median 5 s, 1-30 s) cut from the real clips."""
    clips = _common.load_clips()
    rng = random.Random(seed)
    out = []
    for i in range(count):
        seconds = min(30.0, max(1.0, math.exp(rng.gauss(math.log(5.0), 0.65))))
        pieces, texts, need = [], [], int(seconds * RATE)
        while sum(p.numel() for p in pieces) < need:
            wav, text, lang = clips[rng.randrange(len(clips))]
            pieces.append(wav)
            texts.append(text)
        wav = torch.cat(pieces)[:need]
        words = " ".join(texts).split()  # the text of the part kept (by share of samples)
        kept = max(1, round(len(words) * need / sum(p.numel() for p in pieces)))
        out.append({"id": f"utt{i}", "wav": wav, "text": " ".join(words[:kept]), "lang": lang})
    return out


def text_pairs(count: int) -> list[dict]:
    """``count`` FLORES-200 dev pairs English -> Bengali (the bundled copy): text-only items."""
    from speechbrain_m4t_adapters.data.synthetic import read_flores_dev

    pairs = zip(read_flores_dev(None, "eng_Latn"), read_flores_dev(None, "ben_Beng"))
    return [
        {"id": f"pair{i}", "source": s, "text": t, "lang": "ben"}
        for i, (s, t) in enumerate(pairs)
        if i < count
    ]


def _size(item: dict) -> int:
    """Padding unit of an item: audio samples, or source characters (text)."""
    if "source" in item:
        return len(item["source"])
    return item.get("wav", item.get("input_features")).numel()


def padding_fraction(batches: list[list[dict]]) -> float:
    """Share of the padded inputs (speech samples, source characters) that are padding."""
    sizes = [[_size(u) for u in b] for b in batches]
    real = sum(sum(b) for b in sizes)
    padded = sum(len(b) * max(b) for b in sizes)
    return 1 - real / padded


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def our_batches(data: list[dict], size: int) -> list[list[dict]]:
    """Our recipe default: sorted (duration; text: target length), fixed size, the same order every epoch."""
    ordered = sorted(data, key=lambda u: len(u["text"]) if "source" in u else u["wav"].numel())
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def dynamic_batches(data: list[dict], size: int, epoch: int, buckets: int) -> list[list[dict]]:
    """SpeechBrain's ``DynamicBatchSampler`` (``dynamic_batching: True``): duration buckets, shuffled
    per epoch, each batch at most ``size`` times the mean duration (the same audio per step as ours)."""
    from speechbrain.dataio.sampler import DynamicBatchSampler

    lengths = [u["wav"].numel() / RATE for u in data]
    sampler = DynamicBatchSampler(
        data, size * sum(lengths) / len(lengths), num_buckets=buckets, lengths_list=lengths, shuffle=True
    )
    sampler.set_epoch(epoch)
    return [[data[i] for i in batch] for batch in sampler]


def shuffled_batches(data: list[dict], size: int, epoch: int) -> list[list[dict]]:
    order = list(data)
    random.Random(1000 + epoch).shuffle(order)
    return [order[i : i + size] for i in range(0, len(order), size)]


def update(loss: torch.Tensor, trainable: list, optimizer: torch.optim.Optimizer, clip: float) -> float:
    """Backward, clip the global norm, step: the same update in our loop and the plain one."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def init_weights(m4t: SeamlessM4T) -> None:
    """Non-identity adapters (the same draw for every loop), so that training moves from a known start."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m4t.adapters.parameters("a"):
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def _prepare(m4t: SeamlessM4T, mode: str, batches: list[list[dict]]) -> list[tuple]:
    """Tokenised targets and padded inputs of each batch (made before the clock starts, for every loop)."""
    prepared = []
    for batch in batches:
        inputs, labels = m4t.text_ids.batch_targets([u["text"] for u in batch], [u["lang"] for u in batch])
        if mode == TEXT:
            speech = m4t.text_ids.batch_sources([u["source"] for u in batch], "eng")
        else:
            speech = _common.pad([u["wav"] for u in batch])
        prepared.append((speech, inputs, labels, [u["id"] for u in batch]))
    return prepared


def run_ours(folder: Path, mode: str, data: list[dict], args, reference: dict, loop: str) -> dict:
    """Our lobe on our default batching (``ours+dynamic``: DynamicBatchSampler), with the
    frozen-output cache for ``ours+cache`` and ``ours+dynamic`` where it applies."""
    m4t = SeamlessM4T(folder, adapters={"a": MODES[mode]})
    m4t.model.load_state_dict(reference["state"])
    m4t.train()
    optimizer = torch.optim.AdamW(m4t.param_groups(), lr=args.lr, weight_decay=0.0)
    trainable = [p for p in m4t.parameters() if p.requires_grad]
    if loop == "ours+dynamic":
        epochs = [dynamic_batches(data, args.batch, epoch, args.buckets) for epoch in range(args.epochs)]
    else:
        epochs = [our_batches(data, args.batch)] * args.epochs
    ready = {id(batches): _prepare(m4t, mode, batches) for batches in epochs}  # fixed batches: once
    cache = loop != "ours" and mode in CACHED
    with tempfile.TemporaryDirectory() as cache_folder:
        frozen = FrozenOutputs(m4t, cache_folder) if cache else None
        seconds, losses = [], []
        for batches in epochs:
            start, epoch_losses = time.perf_counter(), []
            for speech, inputs, labels, ids in ready[id(batches)]:
                if mode == TEXT:
                    ids_, mask = speech
                    encoded = frozen.encoded(ids, input_ids=ids_, attention_mask=mask) if frozen else None
                    kwargs = {"input_ids": ids_, "attention_mask": mask}
                else:
                    encoded = frozen.encoded(ids, *speech) if frozen else None
                    kwargs = {"wavs": speech[0], "wav_lens": speech[1]}
                logits, _, _ = m4t(**kwargs, decoder_input_ids=inputs, encoded=encoded)
                loss = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100)
                epoch_losses.append(update(loss, trainable, optimizer, args.clip))
            seconds.append(time.perf_counter() - start)
            losses.append(sum(epoch_losses) / len(epoch_losses))
    padding = sum(padding_fraction(b) for b in epochs) / len(epochs)
    return {"seconds": seconds, "losses": losses, "padding": padding, "steps": sum(map(len, epochs))}


def hf_model(folder: Path, mode: str, reference: dict) -> nn.Module:
    """transformers' speech-to-text model, our base weights, hand-written bottlenecks via hooks."""
    from transformers import SeamlessM4Tv2ForSpeechToText, SeamlessM4Tv2ForTextToText

    cls = SeamlessM4Tv2ForTextToText if mode == TEXT else SeamlessM4Tv2ForSpeechToText
    model = cls.from_pretrained(folder, **NO_DROPOUT)
    base = {k: v for k, v in reference["state"].items() if ADAPTERS_ATTR not in k.split(".")}
    missing = model.load_state_dict(base, strict=False).missing_keys
    if missing:
        raise RuntimeError(f"HF model weights not found in ours: {missing[:5]}")
    model.requires_grad_(False)
    config = MODES[mode]
    if isinstance(config, BottleneckConfig):
        adapters, weights = nn.ModuleDict(), iter(reference["adapters"])
        for stack in config.targets:
            for i, layer in enumerate(model.get_submodule(LAYER_STACKS[stack])):
                adapter = UserBottleneck(model.config.hidden_size, config.bottleneck)
                adapter.load_state_dict(next(weights))
                adapters[f"{stack}_{i}"] = adapter
                layer.register_forward_hook(_hook(adapter))
        model.user_adapters = adapters  # a submodule, so the Trainer's optimiser sees it
    else:
        model.speech_encoder.adapter.requires_grad_(True)
    return model.train()


class Collator:
    """The HF feature extractor and ``text_target`` labels per batch; records each batch for padding."""

    def __init__(self, folder: Path, tokenizer) -> None:
        from transformers import SeamlessM4TFeatureExtractor

        self.extractor = SeamlessM4TFeatureExtractor.from_pretrained(folder)
        self.tokenizer = tokenizer
        self.seen: list[list[dict]] = []

    def __call__(self, items: list[dict]) -> dict:
        self.seen.append(items)
        if "source" in items[0]:
            sources = [u["source"] for u in items]
            inputs = self.tokenizer(sources, src_lang="eng", padding=True, return_tensors="pt")
        else:
            waves = [u["input_features"].numpy() for u in items]
            inputs = self.extractor(waves, sampling_rate=RATE, return_tensors="pt", padding=True)
        rows = [self.tokenizer(text_target=u["text"], tgt_lang=u["lang"])["input_ids"][1:] for u in items]
        labels = torch.full((len(rows), max(map(len, rows))), -100)
        for i, row in enumerate(rows):
            labels[i, : len(row)] = torch.tensor(row)
        return {**inputs, "labels": labels}


def hf_items(data: list[dict], tokenizer) -> list[dict]:
    """Dataset items as transformers users build them: the model input first (the length key)."""
    if "source" in data[0]:
        ids = tokenizer([u["source"] for u in data], src_lang="eng")["input_ids"]
        return [{"input_ids": i, **u} for i, u in zip(ids, data)]
    return [{"input_features": u["wav"], "text": u["text"], "lang": u["lang"]} for u in data]


def run_trainer(folder: Path, mode: str, data: list[dict], args, reference: dict, tokenizer) -> dict:
    """``Seq2SeqTrainer`` with length-grouped sampling; epoch times and losses from a callback."""
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.seconds, self.losses, self.step_losses = [], [], []

        def on_epoch_begin(self, *_, **__):
            self.start, self.step_losses = time.perf_counter(), []

        def on_log(self, _args, _state, _control, logs=None, **__):
            if logs and "loss" in logs:
                self.step_losses.append(logs["loss"])

        def on_epoch_end(self, *_, **__):
            self.seconds.append(time.perf_counter() - self.start)
            self.losses.append(sum(self.step_losses) / max(1, len(self.step_losses)))

    model, collator, clock = hf_model(folder, mode, reference), Collator(folder, tokenizer), Clock()
    items = hf_items(data, tokenizer)
    with tempfile.TemporaryDirectory() as out:
        training = Seq2SeqTrainingArguments(
            output_dir=out,
            per_device_train_batch_size=args.batch,
            num_train_epochs=args.epochs,
            learning_rate=args.lr,
            lr_scheduler_type="constant",
            weight_decay=0.0,
            max_grad_norm=args.clip,
            train_sampling_strategy="group_by_length",
            logging_strategy="steps",
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            dataloader_num_workers=0,
            remove_unused_columns=False,
            disable_tqdm=True,
            use_cpu=True,
            seed=0,
        )
        trainer = Seq2SeqTrainer(
            model=model,
            args=training,
            train_dataset=items,
            data_collator=collator,
            processing_class=tokenizer if mode == TEXT else collator.extractor,  # gives the length key
            callbacks=[clock],
        )
        trainer.train()
    return {"seconds": clock.seconds, "losses": clock.losses, "padding": padding_fraction(collator.seen)}


def run_plain(folder: Path, mode: str, data: list[dict], args, reference: dict, tokenizer) -> dict:
    """The loop many users write: shuffled fixed-size batches, ``model(**features, labels=...)``."""
    model, collator = hf_model(folder, mode, reference), Collator(folder, tokenizer)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)
    seconds, losses, seen = [], [], []
    for epoch in range(args.epochs):
        batches = shuffled_batches(data, args.batch, epoch)
        seen += batches
        start, epoch_losses = time.perf_counter(), []
        for batch in batches:
            inputs = collator(hf_items(batch, tokenizer))
            epoch_losses.append(update(model(**inputs).loss, trainable, optimizer, args.clip))
        seconds.append(time.perf_counter() - start)
        losses.append(sum(epoch_losses) / len(epoch_losses))
    return {"seconds": seconds, "losses": losses, "padding": padding_fraction(seen)}


LOOPS = ("ours", "ours+cache", "ours+dynamic", "trainer", "plain")


def make_reference(folder: Path, mode: str, path: Path) -> None:
    """One draw of base + adapter weights for every loop of ``mode`` (random checkpoints differ per load)."""
    m4t = SeamlessM4T(folder, adapters={"a": MODES[mode]})
    if isinstance(MODES[mode], BottleneckConfig):
        init_weights(m4t)
    adapters = [m.state_dict() for m in m4t.adapters.modules_of("a").values()]
    torch.save({"state": m4t.model.state_dict(), "adapters": adapters}, path)


def worker(args) -> None:
    """One (mode, loop) in this process, so that peak RSS is its own; prints one RESULT line."""
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    mode, loop = args.worker
    data = text_pairs(args.utterances) if mode == TEXT else utterances(args.utterances)
    reference = torch.load(args.reference, weights_only=False)
    if loop.startswith("ours"):
        result = run_ours(args.folder, mode, data, args, reference, loop)
    else:
        tokenizer = AutoTokenizer.from_pretrained(args.folder)
        run = run_trainer if loop == "trainer" else run_plain
        result = run(args.folder, mode, data, args, reference, tokenizer)
    # throughput unit: audio seconds (speech) or sentence pairs (text)
    result["audio"] = len(data) if mode == TEXT else sum(u["wav"].numel() for u in data) / RATE
    result["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(result), flush=True)


def row(mode: str, loop: str, r: dict) -> str:
    mean = sum(r["seconds"]) / len(r["seconds"])
    return (
        f"| {mode} | {loop} | {r['seconds'][0]:.1f} | {mean:.1f} | {sum(r['seconds']):.1f} "
        f"| {r['audio'] * len(r['seconds']) / sum(r['seconds']):.1f} | {100 * r['padding']:.0f}% "
        f"| {r['peak_rss_mb']:.0f} | {r['losses'][0]:.3f} -> {r['losses'][-1]:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--clip", type=float, default=5.0)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument("--loops", nargs="+", default=list(LOOPS), choices=LOOPS)
    parser.add_argument("--buckets", type=int, default=20, help="ours+dynamic: DynamicBatchSampler buckets")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "LOOP"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    folder = _common.build_checkpoint("mid", hidden=args.hidden, layers=args.layers)
    data = utterances(args.utterances)
    seconds = sorted(u["wav"].numel() / RATE for u in data)
    print(
        f"# epochs: mid v2 (width {args.hidden}, {args.layers} layers/stack), {len(data)} utterances, "
        f"{sum(seconds) / 3600:.2f} h, median {seconds[len(seconds) // 2]:.1f} s, "
        f"{seconds[0]:.1f}-{seconds[-1]:.1f} s; batch {args.batch}; {args.epochs} epochs; "
        f"lr {args.lr} constant"
    )
    print(f"# {_common.machine()}")
    print(
        "| mode | loop | epoch 1 s | mean epoch s | total s | audio-s/s (text: pairs/s) | padding "
        "| peak RSS MB | mean loss first -> last epoch |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results = {}
    for mode in args.modes:
        reference = Path(tempfile.mkdtemp()) / "reference.pt"
        make_reference(folder, mode, reference)
        for loop in args.loops:
            if (loop == "ours+cache" and mode not in CACHED) or (loop == "ours+dynamic" and mode == TEXT):
                continue
            command = [sys.executable, __file__, "--worker", mode, loop, "--folder", str(folder)]
            command += ["--reference", str(reference), "--utterances", str(args.utterances)]
            command += ["--epochs", str(args.epochs), "--batch", str(args.batch), "--lr", str(args.lr)]
            command += ["--clip", str(args.clip), "--buckets", str(args.buckets)]
            out = subprocess.run(command, capture_output=True, text=True)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise RuntimeError(f"{mode}/{loop} failed:\n{out.stderr[-3000:]}")
            results[mode, loop] = json.loads(line[7:])
            print(row(mode, loop, results[mode, loop]), flush=True)
    print()
    print(
        "| mode | trainer / ours, epoch 1 | trainer / ours, all epochs | plain / ours, all epochs "
        "| best ours | ours / ours+dynamic, all epochs |"
    )
    print("|---|---|---|---|---|---|")
    for mode in args.modes:
        sorted_loops = [loop for loop in ("ours", "ours+cache") if (mode, loop) in results]
        if not sorted_loops:
            continue
        best = min(sorted_loops, key=lambda loop: sum(results[mode, loop]["seconds"]))
        ours = results[mode, best]

        def ratio(loop: str, epochs: slice = slice(None), mode=mode, ours=ours) -> str:
            other = results.get((mode, loop))
            return f"{sum(other['seconds'][epochs]) / sum(ours['seconds'][epochs]):.2f}x" if other else "-"

        dynamic = results.get((mode, "ours+dynamic"))
        versus = f"{sum(ours['seconds']) / sum(dynamic['seconds']):.2f}x" if dynamic else "-"
        print(
            f"| {mode} | {ratio('trainer', slice(0, 1))} | {ratio('trainer')} | {ratio('plain')} | {best} "
            f"| {versus} |"
        )


if __name__ == "__main__":
    main()
