"""This package's training step vs the loop users write today with transformers, side by side.

Same checkpoint, same real audio (the 12 RESPIN clips in ``tests/fixtures/real``),
same adapters, same optimiser (AdamW):

* OURS: ``SeamlessM4T`` with an adapter set; the training step is the one
  ``AdapterBrain`` runs: ``m4t(wavs, wav_lens, decoder_input_ids=...)`` (the
  torch filterbank inside), cross-entropy, ``AdamW`` over ``m4t.param_groups()``.
* HF: ``SeamlessM4Tv2ForSpeechToText`` (``ForTextToText`` for the text row),
  frozen, a hand-written bottleneck adapter attached to every layer with
  ``register_forward_hook`` (PEFT has no bottleneck adapter), PEFT LoRA for
  the LoRA row, the length adaptor unfrozen for its row,
  ``SeamlessM4TFeatureExtractor`` on each batch, ``model(..., labels=...)``,
  ``AdamW``.

First both sides get identical (random, non-identity) adapter weights and must
give the same loss on the same batch (to ``--tolerance``), so the comparison is of
equal work. Then steps are interleaved (ours, HF, ours, ...), after warm-up,
and medians are printed per mode: step time, feature-extraction share, model
time, saved-for-backward bytes (activations kept for backward, measured with
``saved_tensors_hooks``), peak memory (CUDA max allocated, or peak RSS above
the step's start on CPU) and the OURS/HF ratios (< 1 means ours is faster or smaller).

Tokenisation is done before timing on both sides; data loading is not included.

    OMP_NUM_THREADS=1 python benchmarks/compare_hf_loop.py            # mid-size random v2, CPU, ~3 min
    python benchmarks/compare_hf_loop.py --model v2-large --device cuda --batch 8
    python benchmarks/compare_hf_loop.py --model v1-medium --device cuda
    OMP_NUM_THREADS=2 python benchmarks/compare_hf_loop.py --model v2-large --dtype bfloat16 \
        --batch 2 --seconds 10 --steps 2 --warmup 1 --tolerance 0.15      # real size on CPU
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from speechbrain_m4t_adapters import SeamlessM4T  # noqa: E402
from speechbrain_m4t_adapters.adapters import BottleneckConfig, FinetuneConfig, LoRAConfig  # noqa: E402
from speechbrain_m4t_adapters.adapters.base import LAYER_STACKS  # noqa: E402
from speechbrain_m4t_adapters.adapters.sets import ADAPTERS_ATTR  # noqa: E402

LORA_TARGETS = (
    r"(speech_encoder\.encoder\.layers\.\d+\.self_attn\.linear_[qv]"
    r"|text_decoder\.layers\.\d+\.self_attn\.[qv]_proj)"
)
BOTTLENECK = 64

# mode -> (our adapter config, speech or text input, our activation checkpointing)
MODES = {
    "encoder adapters": (
        BottleneckConfig(bottleneck=BOTTLENECK, targets=["speech_encoder"]),
        "speech",
        False,
    ),
    "encoder adapters + act. ckpt (ours)": (
        BottleneckConfig(bottleneck=BOTTLENECK, targets=["speech_encoder"]),
        "speech",
        True,
    ),
    "decoder adapters": (
        BottleneckConfig(bottleneck=BOTTLENECK, targets=["text_decoder"]),
        "speech",
        False,
    ),
    "length adaptor": (FinetuneConfig(targets=["length_adaptor"]), "speech", False),
    "LoRA (q,v)": (LoRAConfig(targets=[LORA_TARGETS], rank=8, alpha=16.0), "speech", False),
    "text-only (decoder adapters)": (
        BottleneckConfig(bottleneck=BOTTLENECK, targets=["text_decoder"]),
        "text",
        False,
    ),
}
NO_DROPOUT = dict(
    speech_encoder_layerdrop=0.0,
    encoder_layerdrop=0.0,
    decoder_layerdrop=0.0,
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    adaptor_dropout=0.0,
    speech_encoder_dropout=0.0,
)


class UserBottleneck(nn.Module):
    """The bottleneck a user writes by hand: ``x + up(relu(down(LN(x))))``, fp32 on any base dtype."""

    def __init__(self, width: int, bottleneck: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.down = nn.Linear(width, bottleneck)
        self.up = nn.Linear(bottleneck, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        return (h + self.up(F.relu(self.down(self.norm(h))))).to(x.dtype)


def _hook(adapter: nn.Module):
    def hook(module, args, output):
        if isinstance(output, tuple):
            return (adapter(output[0]),) + output[1:]
        return adapter(output)

    return hook


class HFLoop:
    """The user's loop: a transformers model, hooks or PEFT, the HF feature extractor, model(labels=...)."""

    def __init__(
        self, folder: Path, mode: str, ours: SeamlessM4T, device: torch.device, dtype: torch.dtype
    ) -> None:
        from transformers import (
            SeamlessM4TFeatureExtractor,
            SeamlessM4TForSpeechToText,
            SeamlessM4TForTextToText,
            SeamlessM4Tv2ForSpeechToText,
            SeamlessM4Tv2ForTextToText,
        )

        config, kind, _ = MODES[mode]
        self.kind = kind
        v2 = ours.version == "v2"
        if kind == "speech":
            cls = SeamlessM4Tv2ForSpeechToText if v2 else SeamlessM4TForSpeechToText
        else:
            cls = SeamlessM4Tv2ForTextToText if v2 else SeamlessM4TForTextToText
        model = cls.from_pretrained(folder, dtype=dtype, **NO_DROPOUT)
        # The same base weights as ours (real configs draw random weights at each load).
        # (our LoRA sets live in PEFT layers: a target's weight is ``<path>.base_layer.weight``)
        base = {
            k.replace(".base_layer.", "."): v
            for k, v in ours.model.state_dict().items()
            if ADAPTERS_ATTR not in k.split(".") and ".lora_" not in k
        }
        missing = model.load_state_dict(base, strict=False).missing_keys
        if missing:
            raise RuntimeError(f"HF model weights not found in ours: {missing[:5]}")
        model.requires_grad_(False)
        self.extractor = SeamlessM4TFeatureExtractor.from_pretrained(folder)
        self.tokenizer = ours.tokenizer
        self.adapters = nn.ModuleDict()
        if isinstance(config, BottleneckConfig):
            width = model.config.hidden_size
            for stack in config.targets:
                for i, layer in enumerate(model.get_submodule(LAYER_STACKS[stack])):
                    adapter = UserBottleneck(width, config.bottleneck)
                    self.adapters[f"{stack}_{i}"] = adapter
                    layer.register_forward_hook(_hook(adapter))
            # The user's own weights, copied from ours so both compute the same function.
            ours_modules = list(ours.adapters.modules_of(next(iter(ours.adapters.sets))).values())
            for mine, theirs in zip(self.adapters.values(), ours_modules, strict=True):
                mine.load_state_dict(theirs.state_dict())
        elif isinstance(config, FinetuneConfig):
            model.speech_encoder.adapter.requires_grad_(True)
        elif isinstance(config, LoRAConfig):
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(
                model,
                LoraConfig(
                    r=config.rank, lora_alpha=config.alpha, target_modules=LORA_TARGETS, task_type=None
                ),
            )
            for path, theirs in ours.adapters.modules_of(next(iter(ours.adapters.sets))).items():
                layer = model.base_model.model.get_submodule(path)
                layer.lora_A["default"].weight.data.copy_(theirs.lora_A.weight)
                layer.lora_B["default"].weight.data.copy_(theirs.lora_B.weight)
        self.model = model.to(device)
        self.adapters.to(device)
        self.model.train()
        for module in self.model.modules():  # v1's Conformer BatchNorm: frozen statistics, as ours
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        self.device = device
        params = [p for p in self.model.parameters() if p.requires_grad]
        params += list(self.adapters.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=1e-4)

    def labels(self, texts: list[str], langs: list[str]) -> torch.Tensor:
        """Per utterance ``tokenizer(text_target=, tgt_lang=)``, leading ``</s>`` dropped, -100 padded."""
        rows = [
            self.tokenizer(text_target=t, tgt_lang=lang)["input_ids"][1:] for t, lang in zip(texts, langs)
        ]
        labels = torch.full((len(rows), max(map(len, rows))), -100)
        for i, row in enumerate(rows):
            labels[i, : len(row)] = torch.tensor(row)
        return labels.to(self.device)

    def features(self, wavs: list[torch.Tensor]) -> dict:
        inputs = self.extractor(
            [w.numpy() for w in wavs], sampling_rate=16000, return_tensors="pt", padding=True
        )
        # the user casts the extractor's fp32 features to the model's dtype (v1 does not)
        dtype = self.model.dtype
        return {k: v.to(self.device, dtype if v.is_floating_point() else v.dtype) for k, v in inputs.items()}

    def loss(self, batch: dict, timings: dict | None = None) -> torch.Tensor:
        if self.kind == "speech":
            seconds, inputs = _common.timed(lambda: self.features(batch["wav_list"]), self.device)
            if timings is not None:
                timings["features"] = seconds
        else:
            inputs = self.tokenizer(batch["sources"], src_lang="eng", padding=True, return_tensors="pt")
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
        return self.model(**inputs, labels=batch["hf_labels"]).loss

    def step(self, batch: dict, timings: dict) -> float:
        loss = self.loss(batch, timings)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())


class OurLoop:
    """This package's training step (``AdapterBrain``'s, without SpeechBrain's bookkeeping)."""

    def __init__(self, folder: Path, mode: str, device: torch.device, dtype: str) -> None:
        config, self.kind, checkpointing = MODES[mode]
        self.m4t = SeamlessM4T(
            folder, dtype=dtype, adapters={"a": config}, activation_checkpointing=checkpointing
        ).to(device)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():  # non-identity adapters, so the loss check means something
            for p in self.m4t.adapters.parameters("a"):
                if p.ndim >= 2 and not isinstance(config, FinetuneConfig):
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        self.m4t.train()
        self.device = device
        self.optimizer = torch.optim.AdamW(self.m4t.param_groups(), lr=1e-4)

    def loss(self, batch: dict, timings: dict | None = None) -> torch.Tensor:
        if self.kind == "speech":
            logits, _, _ = self.m4t(
                batch["wavs"], batch["wav_lens"], decoder_input_ids=batch["decoder_inputs"]
            )
        else:
            logits, _, _ = self.m4t(
                input_ids=batch["source_ids"],
                attention_mask=batch["source_mask"],
                decoder_input_ids=batch["decoder_inputs"],
            )
        return F.cross_entropy(logits.float().transpose(1, 2), batch["labels"], ignore_index=-100)

    def feature_seconds(self, batch: dict) -> float:
        """The filterbank runs inside ``forward``: timed alone (outside the step) for its share."""
        if self.kind != "speech":
            return 0.0
        with torch.no_grad():
            seconds, _ = _common.timed(
                lambda: self.m4t.extract_features(batch["wavs"], batch["wav_lens"]), self.device
            )
        return seconds

    def step(self, batch: dict, timings: dict) -> float:
        loss = self.loss(batch)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())


def make_batches(
    m4t: SeamlessM4T, hf: HFLoop, batch_size: int, device: torch.device, seconds: float | None = None
) -> list[dict]:
    clips = _common.clips_of(seconds, 12) if seconds else _common.load_clips()
    pairs = _common.load_text_pairs(count=len(clips))
    batches = []
    for start in range(0, len(clips), batch_size):
        chunk = clips[start : start + batch_size]
        wav_list = [c[0] for c in chunk]
        texts, langs = [c[1] for c in chunk], [c[2] for c in chunk]
        wavs, wav_lens = _common.pad(wav_list)
        sources = [p[0] for p in pairs[start : start + batch_size]]
        targets = [p[1] for p in pairs[start : start + batch_size]]
        if hf.kind == "text":
            texts, langs = targets, ["ben"] * len(targets)
        decoder_inputs, labels = m4t.text_ids.batch_targets(texts, langs, device=device)
        source_ids, source_mask = m4t.text_ids.batch_sources(sources, "eng", device=device)
        batches.append(
            dict(
                wav_list=wav_list,
                wavs=wavs.to(device),
                wav_lens=wav_lens.to(device),
                audio_seconds=sum(w.numel() for w in wav_list) / 16000,
                sources=sources,
                source_ids=source_ids,
                source_mask=source_mask,
                decoder_inputs=decoder_inputs,
                labels=labels,
                hf_labels=hf.labels(texts, langs),
            )
        )
    return batches


def run_mode(folder: Path, mode: str, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    ours = OurLoop(folder, mode, device, args.dtype)
    hf = HFLoop(folder, mode, ours.m4t, device, getattr(torch, args.dtype))
    batches = make_batches(ours.m4t, hf, args.batch, device, args.seconds)
    first = batches[0]
    if not torch.equal(first["labels"].cpu(), first["hf_labels"].cpu()):
        raise SystemExit(f"{mode}: label layouts differ:\n{first['labels']}\n{first['hf_labels']}")
    with torch.no_grad():
        # Equal work: every utterance alone (no padding) must give the same loss on both sides.
        singles = make_batches(ours.m4t, hf, 1, device, args.seconds)[: 4 if args.seconds else None]
        alone = [abs(float(ours.loss(b)) - float(hf.loss(b))) for b in singles]
        # On padded speech batches HF's length adaptor convolves LayerNorm(padding) into the last
        # frames of shorter utterances (ours zeroes padding first), so those losses differ slightly.
        padded = [
            abs(float(ours.loss(b)) - float(hf.loss(b))) for b in batches[: 2 if args.seconds else None]
        ]
    checked = alone + (padded if hf.kind == "text" else [])
    if max(checked) > args.tolerance:
        raise SystemExit(f"{mode}: losses differ by {max(checked):.2e} > {args.tolerance}: not equal work")
    sides = {"ours": (ours, ours.m4t), "hf": (hf, nn.ModuleList([hf.model, hf.adapters]))}
    stats = {side: {"step": [], "features": [], "saved": [], "peak": []} for side in sides}
    for step in range(args.warmup + args.steps):
        batch = batches[step % len(batches)]
        for side, (loop, modules) in sides.items():
            timings: dict = {"features": loop.feature_seconds(batch)} if side == "ours" else {}
            meter = _common.SavedBytes(modules)
            with _common.PeakMemory(device) as peak, meter:
                seconds, _ = _common.timed(functools.partial(loop.step, batch, timings), device)
            if step >= args.warmup:
                stats[side]["step"].append(seconds)
                stats[side]["features"].append(timings.get("features", 0.0))
                stats[side]["saved"].append(meter.nbytes)
                stats[side]["peak"].append(peak.peak)
    row = {"mode": mode, "loss_diff": max(alone), "padded_diff": max(padded)}
    for side in sides:
        for key, values in stats[side].items():
            row[f"{side}_{key}"] = _common.median(values)
    return row


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def main() -> None:
    _common.fixed_mmap_threshold()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="mid", help="mid (random v2 of --hidden/--layers), v1-medium, v2-large"
    )
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--modes", nargs="*", default=list(MODES), help=f"subset of {list(MODES)}")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="base weights")
    parser.add_argument("--seconds", type=float, help="utterances of exactly this long (joined real clips)")
    args = parser.parse_args()
    device = torch.device(args.device)
    folder = _common.build_checkpoint(args.model, hidden=args.hidden, layers=args.layers)
    # Both sides without dropout (the real configs have some): our trainable length-adaptor copy
    # would otherwise apply the config's adaptor_dropout while the HF side is loaded without it.
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **NO_DROPOUT}))
    print(
        f"# OURS vs HF loop: model {args.model}, {args.dtype}, batch {args.batch}"
        f"{f' x {args.seconds:g} s' if args.seconds else ' (real clips)'}, "
        f"{args.steps} steps after {args.warmup} warm-up"
    )
    print(f"# {_common.machine()}")
    header = (
        "| mode | ours s/step | HF s/step | time OURS/HF | features share ours / HF | model-only OURS/HF "
        "| saved MB ours / HF | saved OURS/HF | peak MB ours / HF | peak OURS/HF | loss diff alone / padded |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for mode in args.modes:
        r = run_mode(folder, mode, args, device)
        ours_model = r["ours_step"] - r["ours_features"]
        hf_model = r["hf_step"] - r["hf_features"]
        print(
            f"| {mode} | {r['ours_step']:.3f} | {r['hf_step']:.3f} | {ratio(r['ours_step'], r['hf_step'])} "
            f"| {r['ours_features'] / r['ours_step']:.0%} / {r['hf_features'] / r['hf_step']:.0%} "
            f"| {ratio(ours_model, hf_model)} "
            f"| {r['ours_saved'] / 2**20:.1f} / {r['hf_saved'] / 2**20:.1f} "
            f"| {ratio(r['ours_saved'], r['hf_saved'])} "
            f"| {r['ours_peak'] / 2**20:.1f} / {r['hf_peak'] / 2**20:.1f} "
            f"| {ratio(r['ours_peak'], r['hf_peak'])} "
            f"| {r['loss_diff']:.1e} / {r['padded_diff']:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
