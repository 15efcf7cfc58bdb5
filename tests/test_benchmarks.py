"""The GPU report runs end to end on CPU with the tiniest model and writes its table."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import gpu_report  # noqa: E402


def test_gpu_report_runs_on_cpu(tmp_path):
    out = gpu_report.main(
        [
            "--models",
            "tiny",
            "--device",
            "cpu",
            "--dtypes",
            "fp32",
            "--batch",
            "1",
            "--seconds",
            "1",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--beams",
            "2",
            "--max-new-tokens",
            "3",
            "--output",
            str(tmp_path / "r.md"),
        ]
    )
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| tiny | fp32 |")]
    assert len(rows) == len(gpu_report.MODES) + 1  # every training mode + transcription
    assert all("out of memory" not in row for row in rows)
    enc = next(r for r in rows if "| encoder adapters |" in r).split("|")
    dec = next(r for r in rows if "| decoder adapters |" in r).split("|")
    # decoder adapters need no backward through the speech encoder: fewer FLOPs than encoder adapters
    assert 0 < float(dec[8]) < float(enc[8])
    assert "RTF" in rows[-1]
