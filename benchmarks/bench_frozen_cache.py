"""Epoch 1 vs epoch 2+ training speed with the frozen-output cache (``frozen_cache: True``).

Trains on the 12 real RESPIN clips (3 batches of 4) for ``--epochs`` epochs,
once with the cache and once without, and prints seconds per epoch, the
epoch-2+ speed-up over epoch 1, the cache size and the largest loss difference
between the cached and uncached runs (they must agree: the cache is exact).

    OMP_NUM_THREADS=1 python benchmarks/bench_frozen_cache.py     # mid-size random v2, CPU
    python benchmarks/bench_frozen_cache.py --model v1-medium --device cuda
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from speechbrain_m4t_adapters import SeamlessM4T  # noqa: E402
from speechbrain_m4t_adapters.adapters import BottleneckConfig, FinetuneConfig  # noqa: E402
from speechbrain_m4t_adapters.training.frozen_cache import FrozenOutputs  # noqa: E402

MODES = {
    "decoder adapters": {"dec": BottleneckConfig(bottleneck=64, targets=["text_decoder"])},
    "length adaptor": {"la": FinetuneConfig(targets=["length_adaptor"])},
}


def train(folder, adapters, batches, epochs, device, cache_folder=None):
    """Seconds per epoch, losses, and the frozen-output cache (None without ``cache_folder``)."""
    torch.manual_seed(0)
    m4t = SeamlessM4T(
        folder,
        adapters=adapters,
    ).to(device)
    frozen = FrozenOutputs(m4t, cache_folder) if cache_folder is not None else None
    m4t.train()
    optimizer = torch.optim.AdamW(m4t.param_groups(), lr=1e-4)
    seconds, losses = [], []
    for _ in range(epochs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for batch in batches:
            logits, _, _ = m4t(
                batch["wavs"],
                batch["wav_lens"],
                decoder_input_ids=batch["inputs"],
                encoded=frozen.encoded(batch["ids"], batch["wavs"], batch["wav_lens"]) if frozen else None,
            )
            loss = F.cross_entropy(logits.float().transpose(1, 2), batch["labels"], ignore_index=-100)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds, losses, frozen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mid", help="mid, v1-medium, v2-large")
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    folder = _common.build_checkpoint(args.model, hidden=args.hidden, layers=args.layers)
    clips = _common.load_clips()
    probe = SeamlessM4T(folder)
    batches = []
    for start in range(0, len(clips), args.batch):
        chunk = clips[start : start + args.batch]
        wavs, lens = _common.pad([c[0] for c in chunk])
        inputs, labels = probe.text_ids.batch_targets([c[1] for c in chunk], [c[2] for c in chunk])
        ids = [f"clip{start + i}" for i in range(len(chunk))]
        batches.append(
            dict(
                wavs=wavs.to(device),
                wav_lens=lens.to(device),
                inputs=inputs.to(device),
                labels=labels.to(device),
                ids=ids,
            )
        )
    del probe
    audio = sum(c[0].numel() for c in clips) / 16000
    print(
        f"# frozen-output cache: model {args.model}, {len(clips)} clips ({audio:.0f} s), "
        f"batches of {args.batch}"
    )
    print(f"# {_common.machine()}")
    print(
        "| mode | epoch 1 s (cached run) | epoch 2+ s | speed-up | uncached epoch s "
        "| cache MB | max loss diff |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode, adapters in MODES.items():
        plain_s, plain_losses, _ = train(folder, adapters, batches, args.epochs, device)
        with tempfile.TemporaryDirectory() as cache_folder:
            cached = train(folder, adapters, batches, args.epochs, device, cache_folder)
            cached_s, cached_losses, frozen = cached
            size = sum(cache.nbytes for _, cache in frozen._caches.values())  # on disk, all kinds
        later = _common.median(cached_s[1:])
        diff = max(abs(a - b) for a, b in zip(plain_losses, cached_losses))
        print(
            f"| {mode} | {cached_s[0]:.2f} | {later:.2f} | {cached_s[0] / later:.1f}x "
            f"| {_common.median(plain_s):.2f} | {size / 2**20:.1f} | {diff:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
