"""tools/mini/run_experiments.py: the plan's dependency order and the report written from summaries."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools" / "mini"
sys.path.insert(0, str(TOOLS))
runner = importlib.import_module("run_experiments")


def test_plan_runs_every_row_per_language_and_seed_with_its_prerequisites():
    jobs = runner.plan([1, 2])
    keys = [job.key for job in jobs]
    assert len(jobs) == len(set(keys)) == 2 * (1 + 2 * len(runner.ROWS))
    by_key = {job.key: job for job in jobs}
    assert by_key["odia_bengali_pivot_length_adaptor_text_only/2"].needs == [
        "odia_text_only_full/2",
        "bengali_length_adaptor/2",
    ]
    assert by_key["maithili_text_then_encoder/1"].needs == ["maithili_text_only_full/1"]
    assert by_key["odia_encoder/1"].needs == []
    for job in jobs:  # every run is a real recipe file, run with --mini=True
        command = job.command(Path("/out"))
        assert Path(command[2]).is_file() and "--mini=True" in command and f"--seed={job.seed}" in command


def _summary(folder: Path, cer: float, wer: float, trainable: int = 0) -> None:
    folder.mkdir(parents=True)
    result = {"held_out": {"wer": wer, "cer": cer, "language": "x", "num_utterances": 150}}
    summary = {"test_sets": result, "train_time_s": 12.0, "trainable_params": trainable}
    summary |= {"total_params": 3_691_580, "extra": {"adapter_sets": []}}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_report_gives_mean_and_spread_beside_the_paper_and_checks_the_findings(tmp_path):
    root = tmp_path / "runs"
    for seed, shift in ((1, 0.0), (2, 2.0)):
        for _, stem, _, _ in runner.ROWS:
            for prefix, base in (("odia", 80.0), ("maithili", 60.0)):
                cer = base - (10.0 if stem == "encoder" else 0.0) + shift
                trainable = 19_503 if stem == "encoder" else 0
                _summary(root / f"{prefix}_{stem}" / str(seed), cer, 100.0, trainable)
    table = runner.collect(root, [1, 2])
    md, png = tmp_path / "r.md", tmp_path / "r.png"
    md.write_text(f"old table\n{runner.DISCUSSION}\nWhy: kept by hand.\n")
    runner.write_report(table, [1, 2], md, png, "python tools/mini/run_experiments.py --seeds 1 2")
    text = md.read_text(encoding="utf-8")
    row = "| Encoder adapters 6M (A) (`<language>_encoder`) | P3 | 19,503 (0.53 %; 0.50 %) "
    row += "| 100.0 ± 0.0 | 71.0 ± 1.4 |"
    assert row in text and "old table" not in text
    assert text.endswith(f"{runner.DISCUSSION}\nWhy: kept by hand.\n")  # the discussion survives
    assert "- Odia: encoder adapters beat decoder adapters at equal size: holds: 71.0 vs 81.0 % CER" in text
    assert "- Odia: text-only adaptation alone beats the baseline: within the spread" in text
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
