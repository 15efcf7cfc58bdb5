"""Training-step cost of adapter placements: time and activation memory kept for backward.

Prints one row per configuration: seconds per step and MB of tensors saved for
backward (measured with saved-tensor hooks, so it is device independent). It
shows the "performance by design" choices: decoder-only adapters keep no
speech-encoder activations, the length adaptor alone keeps none of the
Conformer's, and activation checkpointing trades time for memory.

    python benchmarks/bench_adapter_step.py [--hidden 128] [--layers 4] [--seconds 8] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig, FinetuneConfig
from speechbrain_m4t_adapters.tiny import build_tiny_model

CONFIGS = {
    "decoder adapters": ({"dec": BottleneckConfig(bottleneck=64, targets=["text_decoder"])}, False),
    "length adaptor (finetune)": ({"la": FinetuneConfig(targets=["length_adaptor"])}, False),
    "encoder adapters": ({"enc": BottleneckConfig(bottleneck=64, targets=["speech_encoder"])}, False),
    "encoder adapters + act. ckpt": (
        {"enc": BottleneckConfig(bottleneck=64, targets=["speech_encoder"])},
        True,
    ),
}


def measure(m4t: SeamlessM4T, wavs, decoder_inputs, labels, steps: int) -> tuple[float, float]:
    optimizer = torch.optim.AdamW(m4t.trainable_parameters(), lr=1e-4)
    m4t.train()
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    times = []
    for step in range(steps + 1):
        saved.clear()
        start = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            hidden, mask = m4t(wavs)
            logits = m4t.decode(hidden, mask, decoder_inputs)
            loss = torch.nn.functional.cross_entropy(
                logits.float().transpose(1, 2), labels, ignore_index=-100
            )
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if wavs.is_cuda:
            torch.cuda.synchronize()
        if step:  # the first step warms up
            times.append(time.perf_counter() - start)
    return sum(times) / len(times), sum(saved) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="audio length per utterance")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--version", default="v2", choices=["v1", "v2"])
    args = parser.parse_args()
    torch.manual_seed(0)
    folder = build_tiny_model(tempfile.mkdtemp(), args.version, hidden_size=args.hidden, layers=args.layers)
    wavs = torch.randn(args.batch, int(args.seconds * 16000), device=args.device) * 0.1
    print(
        f"SeamlessM4T {args.version} hidden {args.hidden}, {args.layers} layers/stack, batch {args.batch} x "
        f"{args.seconds:.0f} s, {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(f"{'configuration':32s} {'s/step':>8s} {'saved MB':>9s} {'trainable':>10s}")
    for name, (adapters, checkpointing) in CONFIGS.items():
        m4t = SeamlessM4T(folder, adapters=adapters, activation_checkpointing=checkpointing).to(args.device)
        decoder_inputs, labels = m4t.text_ids.batch_targets(
            ["একটি ছোট পরীক্ষা বাক্য"] * args.batch, "ben", device=m4t.device
        )
        seconds, megabytes = measure(m4t, wavs, decoder_inputs, labels, args.steps)
        trainable = sum(p.numel() for p in m4t.trainable_parameters())
        print(f"{name:32s} {seconds:8.3f} {megabytes:9.1f} {trainable:10d}")


if __name__ == "__main__":
    main()
