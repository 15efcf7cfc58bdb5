"""The mini protocol's learning-rate sweep (docs/mini_protocol.md, rule 5), on the VALIDATION split only.

For each adapter kind (bottleneck: Odia encoder adapters; trainable copy: the
Odia length adaptor) and each learning rate, runs the recipe with
``--mini=True``, seed 1, no test set decoded, and reads the best validation
CER of its epochs from ``train_log.txt``. Writes ``docs/mini_lr_sweep.md``.
A finished run is reused. Usage, from the repository root::

    python tools/mini/lr_sweep.py                 # about 10 minutes on one CPU thread
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RATES = (3e-4, 1e-3, 3e-3, 1e-2)
#: kind -> (experiment, the kind's name in `lr_by_kind`, which gives every set of that kind the lr)
KINDS = {
    "bottleneck (encoder adapters)": ("odia_encoder", "bottleneck"),
    "trainable copy (length adaptor)": ("odia_length_adaptor", "finetune"),
}


def best_valid_cer(folder: Path) -> float:
    """The lowest ``valid CER`` of a run's epochs (its train_log.txt)."""
    log = (folder / "train_log.txt").read_text(encoding="utf-8")
    return min(float(x) for x in re.findall(r"valid CER: ([\d.]+)", log))


def run(experiment: str, kind: str, lr: float, root: Path) -> float:
    """One sweep point (reused when its folder holds a finished log)."""
    out = root / f"lr{lr:g}"
    folder = out / experiment / "1"
    if not (folder / "adapters" / "adapters.json").exists():
        command = [sys.executable, "train.py", f"hparams/{experiment}.yaml", "--mini=True", "--seed=1"]
        command += [f"--output_root={out}", "--test_sets={}", "--compare_base=False"]
        command.append(f"--lr_by_kind={{{kind}: {lr}}}")
        subprocess.run(command, cwd=REPO / "recipes" / "Odia", check=True, capture_output=True)
    return best_valid_cer(folder)


def main(argv: list[str] | None = None) -> None:
    """Run every point, print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO / "results" / "mini_lr_sweep", help="run folders")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "mini_lr_sweep.md", help="the table")
    args = parser.parse_args(argv)
    lines = [
        "# Learning-rate sweep of the mini protocol (validation split only)",
        "",
        "Made by `python tools/mini/lr_sweep.py` (docs/mini_protocol.md, rule 5): Odia, seed 1,",
        "`--mini=True`, best validation CER (%) over the 5 epochs; no test set decoded.",
        "",
        "| kind | " + " | ".join(f"lr {lr:g}" for lr in RATES) + " | chosen |",
        "|---|" + "---:|" * (len(RATES) + 1),
    ]
    for label, (experiment, kind) in KINDS.items():
        cers = [run(experiment, kind, lr, args.root) for lr in RATES]
        chosen = RATES[cers.index(min(cers))]
        lines.append(f"| {label} | " + " | ".join(f"{c:.2f}" for c in cers) + f" | {chosen:g} |")
        print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
