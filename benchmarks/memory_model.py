"""A memory model of adapter training, fitted to two ``gpu_report.py`` runs, and the batch that fits a GPU.

peak(B utterances x S seconds) = frozen weights + trainable state + fixed + a x B x S

* frozen weights: parameters of the speech-text model (speech encoder, text encoder, decoder) in the
  run's dtype (2 bytes in bf16), counted on the meta device from the real config;
* trainable state: 16 bytes per trainable parameter (fp32 weight, gradient, two AdamW moments);
* ``a`` (bytes per audio second) and ``fixed``: the slope and intercept of the measured peak above the
  step's start between two runs with different batch x seconds (activations grow with the audio).

The fit is checked on the measurements themselves (it passes through both points by construction, so
the check that means something is a third run: pass ``--check`` with one). It then gives the largest
batch of ``--seconds`` utterances whose predicted peak fits 24, 40 and 80 GB, keeping 1.5 GB for the
CUDA context and the allocator's fragmentation. Text-only rows do not depend on audio and are left out.

    python benchmarks/memory_model.py /work/real_b1.md /work/real_b2.md [--check report.md]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

GIB = 2**30
RESERVE = 1.5 * GIB  # CUDA context + fragmentation
DTYPE_BYTES = {"bf16": 2, "fp32": 4}


def read_report(path: Path) -> tuple[float, dict]:
    """(audio seconds per step, {(model, dtype, mode): (trainable params, peak bytes)})."""
    text = path.read_text(encoding="utf-8")
    found = re.search(r"batch (\d+) x ([\d.]+) s", text)
    if found is None:
        raise SystemExit(f"{path}: not a gpu_report.py report (no 'batch B x S s' in its header)")
    batch, seconds = found.groups()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 9 and cells[3].endswith(" M") and cells[6].replace(".", "").isdigit():
            trainable = float(cells[3].rstrip(" M")) * 1e6
            rows[cells[0], cells[1], cells[2]] = (trainable, float(cells[6]) * 2**20)
    return int(batch) * float(seconds), rows


def frozen_bytes(model: str, dtype: str) -> int:
    """Bytes of the speech-text model's weights (no text-to-unit model or vocoder) in ``dtype``."""
    from speechbrain_m4t_adapters.model import SeamlessM4TSpeechTextModel, SeamlessM4Tv2SpeechTextModel
    from speechbrain_m4t_adapters.model.reference_configs import reference_config

    cls = SeamlessM4Tv2SpeechTextModel if model.startswith("v2") else SeamlessM4TSpeechTextModel
    with torch.device("meta"):
        net = cls(reference_config(model))
    return sum(p.numel() for p in net.parameters()) * DTYPE_BYTES[dtype]


def fit(first: tuple[float, dict], second: tuple[float, dict]) -> dict:
    """``{row: (trainable, fixed bytes, bytes per audio second)}`` for rows in both runs."""
    (s1, rows1), (s2, rows2) = first, second
    model = {}
    for key in rows1.keys() & rows2.keys():
        if key[2].startswith("text-only"):
            continue
        (trainable, p1), (_, p2) = rows1[key], rows2[key]
        slope = (p2 - p1) / (s2 - s1)
        model[key] = (trainable, p1 - slope * s1, slope)
    return model


def predicted_peak(key: tuple, entry: tuple, audio_seconds: float) -> float:
    """Predicted total GPU bytes for a step over ``audio_seconds`` of audio."""
    trainable, fixed, slope = entry
    return frozen_bytes(key[0], key[1]) + 16 * trainable + fixed + slope * audio_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs=2, type=Path, help="two gpu_report.py markdown files")
    parser.add_argument("--check", type=Path, help="a third report to compare the predictions with")
    parser.add_argument("--seconds", type=float, default=10.0, help="utterance length for the batch table")
    args = parser.parse_args()
    model = fit(*(read_report(p) for p in args.reports))
    print(
        f"| model | dtype | mode | weights GB | trainable state GB | fixed MB | MB per audio s "
        f"| batch of {args.seconds:g} s in 24 / 40 / 80 GB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(model):
        trainable, fixed, slope = model[key]
        base = frozen_bytes(key[0], key[1]) + 16 * trainable + fixed + RESERVE
        fits = [
            max(0, int((gb * GIB - base) // (slope * args.seconds))) if slope > 0 else "any"
            for gb in (24, 40, 80)
        ]
        print(
            f"| {key[0]} | {key[1]} | {key[2]} | {frozen_bytes(key[0], key[1]) / GIB:.2f} "
            f"| {16 * trainable / GIB:.2f} | {fixed / 2**20:.0f} | {slope / 2**20:.1f} "
            f"| {' / '.join(map(str, fits))} |"
        )
    if args.check:
        seconds, rows = read_report(args.check)
        print(f"\nCheck against {args.check.name} ({seconds:g} audio s per step): peak above start, MB")
        print("| model | mode | measured | predicted | error |")
        print("|---|---|---|---|---|")
        for key in sorted(model.keys() & rows.keys()):
            _, fixed, slope = model[key]
            predicted, measured = fixed + slope * seconds, rows[key][1]
            print(
                f"| {key[0]} | {key[2]} | {measured / 2**20:.0f} | {predicted / 2**20:.0f} "
                f"| {100 * (predicted - measured) / measured:+.0f}% |"
            )


if __name__ == "__main__":
    main()
