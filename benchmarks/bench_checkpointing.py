"""Activation checkpointing of encoder adapters: memory saved against time spent, per setting.

One model (random ``mid`` v2, ``--layers`` Conformer layers), encoder adapters on
every layer, one batch of the shipped real clips; for each setting of
``activation_checkpointing`` (off, every layer, every k-th layer, sub-blocks of
every layer): the median
training-step time, the bytes saved for backward and the peak RSS of the step
above its start, each as a ratio to "off". Settings are interleaved step by
step, so machine load hits them alike.

    OMP_NUM_THREADS=1 python benchmarks/bench_checkpointing.py        # ~6 min
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from speechbrain_m4t_adapters import SeamlessM4T  # noqa: E402
from speechbrain_m4t_adapters.adapters import BottleneckConfig  # noqa: E402

SETTINGS = {
    "off": False,
    "every layer": True,
    "every 2nd layer": {"speech_encoder": 2},
    "every 3rd layer": {"speech_encoder": 3},
    "every 4th layer": {"speech_encoder": 4},
    "sub-blocks: self_attn": {"speech_encoder": ["self_attn"]},
    "sub-blocks: self_attn, conv_module": {"speech_encoder": ["self_attn", "conv_module"]},
    "sub-blocks: all four": {"speech_encoder": ["ffn1", "self_attn", "conv_module", "ffn2"]},
}


def main() -> None:
    _common.fixed_mmap_threshold()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    folder = _common.build_checkpoint("mid", hidden=args.hidden, layers=args.layers)
    clips = _common.load_clips()[: args.batch]
    config = BottleneckConfig(bottleneck=64, targets=["speech_encoder"])
    lobes = {name: SeamlessM4T(folder, adapters={"a": config}) for name in SETTINGS}
    state = lobes["off"].model.state_dict()  # random checkpoints differ per load: one set of weights
    for name, lobe in lobes.items():
        lobe.model.load_state_dict(state)
        lobe.set_activation_checkpointing(SETTINGS[name])
        lobe.train()
    optimizers = {n: torch.optim.AdamW(lobe.param_groups(), lr=1e-4) for n, lobe in lobes.items()}
    wavs, lens = _common.pad([c[0] for c in clips])
    inputs, labels = lobes["off"].text_ids.batch_targets([c[1] for c in clips], [c[2] for c in clips])
    batch = (wavs, lens, inputs, labels)
    seconds = {n: [] for n in SETTINGS}
    saved, peak = {}, {}
    for step in range(args.steps + 2):  # two warm-up steps
        for name, lobe in lobes.items():
            with _common.PeakMemory("cpu") as memory, _common.SavedBytes(lobe) as kept:
                took, _ = _common.timed(
                    lambda lobe=lobe, name=name: _step(lobe, optimizers[name], batch), "cpu"
                )
            if step >= 2:
                seconds[name].append(took)
                saved[name], peak[name] = kept.nbytes, memory.peak
    audio = wavs.shape[1] / 16000
    print(f"# activation checkpointing, encoder adapters: mid v2 width {args.hidden}, {args.layers} layers,")
    print(
        f"# batch {args.batch} x {audio:.1f} s (real clips), median of {args.steps} steps; "
        f"{_common.machine()}"
    )
    print("| setting | s/step | time vs off | saved MB | saved vs off | peak MB | peak vs off |")
    print("|---|---|---|---|---|---|---|")
    base_time = _common.median(seconds["off"])
    for name in SETTINGS:
        time = _common.median(seconds[name])
        print(
            f"| {name} | {time:.3f} | {time / base_time:.2f}x | {saved[name] / 2**20:.1f} "
            f"| {saved[name] / saved['off']:.2f}x | {peak[name] / 2**20:.1f} "
            f"| {peak[name] / peak['off']:.2f}x |"
        )


def _step(lobe: SeamlessM4T, optimizer: torch.optim.Optimizer, batch: tuple) -> None:
    """One training step: teacher-forced cross-entropy, backward, AdamW."""
    wavs, lens, inputs, labels = batch
    logits, _, _ = lobe(wavs, lens, decoder_input_ids=inputs)
    F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
