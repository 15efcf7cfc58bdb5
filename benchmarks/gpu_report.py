"""One-command performance report of the adapter training step and batched inference.

For each model (random weights with the REAL configs: ``v1-medium``,
``v2-large``; or ``tiny`` / ``mid`` for a CPU check), each base dtype
(``bf16``, ``fp32``) and each mode (encoder adapters with activation
checkpointing off and on, decoder adapters, length adaptor, LoRA, text-only),
it measures the training step (median of ``--steps`` after ``--warmup``):
seconds, audio seconds (or target tokens) per second, peak memory and model
FLOPs utilisation; then batched beam-search transcription and its real-time
factor. It writes a markdown table to ``benchmarks/results/`` and prints it.

MFU = FLOPs(step) / (step seconds x peak FLOP/s of the device in that dtype).
FLOPs(step) is counted by ``torch.utils.flop_counter.FlopCounterMode`` over one
step without activation checkpointing (model FLOPs, recomputation excluded):
the matmul/convolution/attention FLOPs of the forward of every stack run (the
frozen ones included, about 2 x parameters x frames or tokens) plus those of
the backward actually run (activation gradients down to the lowest trainable
module and the adapters' weight gradients, about 2x and 1x their forward).
Peak FLOP/s: ``--peak-tflops`` or the dense tensor-core figure for known GPUs
(H100/H200 SXM: 989 TFLOP/s bf16, 67 fp32 without TF32); n/a on CPU unless given.

    python benchmarks/gpu_report.py          # GPU: v1-medium + v2-large, bf16 + fp32
    OMP_NUM_THREADS=1 python benchmarks/gpu_report.py --models tiny --steps 1     # CPU check
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from speechbrain_m4t_adapters import SeamlessM4T  # noqa: E402
from speechbrain_m4t_adapters.adapters import BottleneckConfig, FinetuneConfig, LoRAConfig  # noqa: E402
from speechbrain_m4t_adapters.model.decoding import transcribe as transcribe_batch  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DTYPES = {"bf16": "bfloat16", "fp32": "float32"}
# Dense peak TFLOP/s by device-name substring: (bf16, fp32 without TF32).
PEAK_TFLOPS = {"H100": (989.0, 67.0), "H200": (989.0, 67.0), "A100": (312.0, 19.5), "L40S": (362.0, 91.6)}
SETS = {
    "enc": BottleneckConfig(bottleneck=256, targets=["speech_encoder"]),
    "dec": BottleneckConfig(bottleneck=256, targets=["text_decoder"]),
    "la": FinetuneConfig(targets=["length_adaptor"]),
    "lora": LoRAConfig(
        targets=[
            r"speech_encoder\.encoder\.layers\.\d+\.self_attn\.linear_[qv]",
            r"text_decoder\.layers\.\d+\.self_attn\.[qv]_proj",
        ],
        rank=8,
    ),
}
# row name -> (adapter set, input kind, activation checkpointing)
MODES = {
    "encoder adapters": ("enc", "speech", False),
    "encoder adapters + act. ckpt": ("enc", "speech", True),
    "decoder adapters": ("dec", "speech", False),
    "length adaptor": ("la", "speech", False),
    "LoRA q,v (enc+dec)": ("lora", "speech", False),
    "text-only (decoder adapters)": ("dec", "text", False),
}


def peak_flops(device: torch.device, dtype: str, override: float | None) -> float | None:
    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, (bf16, fp32) in PEAK_TFLOPS.items():
        if key in name:
            return (bf16 if dtype == "bf16" else fp32) * 1e12
    return None


def make_batch(m4t: SeamlessM4T, batch: int, seconds: float, device: torch.device) -> dict:
    """``batch`` utterances of exactly ``seconds`` s made of the shipped real clips (and their text)."""
    pairs = _common.load_text_pairs(count=16)
    wavs, texts, langs = (list(column) for column in zip(*_common.clips_of(seconds, batch)))
    inputs, labels = m4t.text_ids.batch_targets(texts, langs, device=device)
    sources, source_mask = m4t.text_ids.batch_sources(
        [pairs[i % len(pairs)][0] for i in range(batch)], "eng", device=device
    )
    text_inputs, text_labels = m4t.text_ids.batch_targets(
        [pairs[i % len(pairs)][1] for i in range(batch)], ["ben"] * batch, device=device
    )
    return dict(
        wavs=torch.stack(wavs).to(device),
        langs=langs,
        inputs=inputs,
        labels=labels,
        sources=sources,
        source_mask=source_mask,
        text_inputs=text_inputs,
        text_labels=text_labels,
    )


def train_step(m4t: SeamlessM4T, batch: dict, kind: str, optimizer) -> None:
    if kind == "speech":
        logits, _, _ = m4t(batch["wavs"], None, decoder_input_ids=batch["inputs"])
        labels = batch["labels"]
    else:
        logits, _, _ = m4t(
            input_ids=batch["sources"],
            attention_mask=batch["source_mask"],
            decoder_input_ids=batch["text_inputs"],
        )
        labels = batch["text_labels"]
    F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def report_model(name: str, dtype: str, args, device: torch.device) -> list[str]:
    folder = _common.build_checkpoint(name, hidden=args.hidden, layers=args.layers)
    torch.manual_seed(0)
    m4t = SeamlessM4T(folder, dtype=DTYPES[dtype]).to(device)
    for set_name, config in SETS.items():
        m4t.adapters.add(set_name, config, activate=False)
    batch = make_batch(m4t, args.batch, args.seconds, device)
    audio = args.batch * args.seconds
    tokens = int((batch["text_labels"] != -100).sum())
    peak = peak_flops(device, dtype, args.peak_tflops)
    rows = []
    flops_cache: dict[tuple[str, str], int] = {}
    for mode, (set_name, kind, checkpointing) in MODES.items():
        m4t.adapters.set_active([set_name])
        m4t.set_activation_checkpointing(["speech_encoder"] if checkpointing else False)
        m4t.train()
        optimizer = torch.optim.AdamW(m4t.trainable_parameters(), lr=1e-5)
        if (set_name, kind) not in flops_cache:  # model FLOPs: counted without recomputation
            m4t.set_activation_checkpointing(False)
            with FlopCounterMode(display=False) as counter:
                train_step(m4t, batch, kind, optimizer)
            flops_cache[(set_name, kind)] = counter.get_total_flops()
            m4t.set_activation_checkpointing(["speech_encoder"] if checkpointing else False)
        flops = flops_cache[(set_name, kind)]
        times, peaks = [], []
        step_fn = functools.partial(train_step, m4t, batch, kind, optimizer)
        try:
            for step in range(args.warmup + args.steps):
                with _common.PeakMemory(device) as meter:
                    seconds, _ = _common.timed(step_fn, device)
                if step >= args.warmup:
                    times.append(seconds)
                    peaks.append(meter.peak)
        except torch.OutOfMemoryError:
            optimizer.zero_grad(set_to_none=True)
            rows.append(f"| {name} | {dtype} | {mode} | - | out of memory | - | - | - | - |")
            print(rows[-1], flush=True)
            continue
        t = _common.median(times)
        rate = f"{audio / t:.1f} audio s/s" if kind == "speech" else f"{tokens / t:.0f} tokens/s"
        mfu = f"{flops / t / peak:.1%}" if peak else "n/a"
        trainable = sum(p.numel() for p in m4t.trainable_parameters())
        rows.append(
            f"| {name} | {dtype} | {mode} | {trainable / 1e6:.2f} M | {t:.3f} | {rate} "
            f"| {max(peaks) / 2**20:.0f} | {flops / 1e9:.4g} | {mfu} |"
        )
        print(rows[-1], flush=True)
        del optimizer
    m4t.set_activation_checkpointing(False)
    m4t.adapters.set_active(["enc", "dec"])
    m4t.eval()
    run = functools.partial(
        transcribe_batch, m4t, batch["wavs"], None, batch["langs"], args.beams, args.max_new_tokens
    )
    run()  # warm-up
    with _common.PeakMemory(device) as meter:
        seconds, _ = _common.timed(run, device)
    rows.append(
        f"| {name} | {dtype} | transcribe, beam {args.beams}, <= {args.max_new_tokens} tokens, "
        "enc+dec adapters "
        f"| - | {seconds:.3f} | RTF {seconds / audio:.4f} ({audio / seconds:.1f} audio s/s) "
        f"| {meter.peak / 2**20:.0f} | - | - |"
    )
    print(rows[-1], flush=True)
    del m4t
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gpu = torch.cuda.is_available()
    parser.add_argument("--models", nargs="+", default=["v1-medium", "v2-large"] if gpu else ["mid"])
    parser.add_argument(
        "--dtypes", nargs="+", default=["bf16", "fp32"] if gpu else ["fp32"], choices=list(DTYPES)
    )
    parser.add_argument("--hidden", type=int, default=384, help="width of the mid model")
    parser.add_argument("--layers", type=int, default=4, help="layers per stack of the mid model")
    parser.add_argument("--batch", type=int, default=4 if gpu else 2)
    parser.add_argument("--seconds", type=float, default=10.0 if gpu else 4.0, help="audio per utterance")
    parser.add_argument("--steps", type=int, default=5 if gpu else 2)
    parser.add_argument("--warmup", type=int, default=2 if gpu else 1)
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=64 if gpu else 16)
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="device peak for MFU (known GPUs: auto)"
    )
    parser.add_argument("--device", default="cuda" if gpu else "cpu")
    parser.add_argument(
        "--output", type=Path, default=None, help="markdown file (default: benchmarks/results/)"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    start = time.perf_counter()
    header = [
        f"Machine: {_common.machine()}. Random weights with the named configs; batch {args.batch} x "
        f"{args.seconds:g} s of real speech (shipped RESPIN clips, concatenated); medians of {args.steps} "
        f"steps after {args.warmup} warm-up; peak memory = "
        + (
            "CUDA max allocated above the step's start."
            if device.type == "cuda"
            else "peak RSS above the step's start."
        )
        + " Bottleneck 256, LoRA rank 8 (q,v of Conformer and decoder self-attention),"
        + " length adaptor fully trained."
        + " MFU: model FLOPs (FlopCounterMode, frozen forward + backward actually run, no recomputation)"
        + " / (step time x peak).",
        "",
        "| model | dtype | mode | trainable | s/step | throughput | peak MB | GFLOP/step | MFU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(header), flush=True)
    rows = []
    for name in args.models:
        for dtype in args.dtypes:
            rows += report_model(name, dtype, args, device)
    footer = f"\nTotal wall time {time.perf_counter() - start:.0f} s."
    print(footer)
    output = args.output
    if output is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        tag = torch.cuda.get_device_name(device).replace(" ", "_") if device.type == "cuda" else "cpu"
        output = RESULTS / f"gpu_report_{tag}.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        "# Performance report\n\n" + "\n".join(header + rows) + "\n" + footer + "\n", encoding="utf-8"
    )
    print(f"written {output}")
    return output


if __name__ == "__main__":
    _common.fixed_mmap_threshold()
    main()
