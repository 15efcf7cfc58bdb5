"""Benchmarks run end to end on CPU at the smallest sizes (the GPU report, the frozen-output cache)."""

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


def test_frozen_cache_benchmark_runs_and_the_cache_changes_no_loss():
    # The benchmarks call the library as users do (m4t.param_groups(), FrozenOutputs): this one ran
    # into an attribute the cache no longer has; at the smallest size an API change now fails here.
    import subprocess

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_frozen_cache.py"
    command = [
        sys.executable,
        str(script),
        "--hidden",
        "64",
        "--layers",
        "2",
        "--batch",
        "4",
        "--epochs",
        "2",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.split("|") for line in run.stdout.splitlines() if line.startswith("| ") and "x |" in line]
    assert {row[1].strip() for row in rows} == {"decoder adapters", "length adaptor"}
    for row in rows:
        assert float(row[6]) > 0  # cache MB written
        assert float(row[7]) < 1e-5  # max loss difference, cached vs recomputed
