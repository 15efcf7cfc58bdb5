"""Rows/s of the IndicVoices hub-release reader on a fixture built from the shipped clips.

The 12 real RESPIN clips in ``tests/fixtures/real/respin`` are packed
``--copies`` times into hub-schema parquet shards (``write_hub_shard``, the
same builder the tests use), then timed::

    python benchmarks/bench_parquet_reader.py
    python benchmarks/bench_parquet_reader.py --copies 100 --shards 4 --row-group 64

Prints rows/s for: a raw scan of every column (pyarrow, streaming), the
metadata pass plus a 5-minute seeded subset (only chosen rows decoded), and
a full preparation (every row's audio decoded and written as WAV).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from speechbrain_m4t_adapters.data import read_asr_manifest
from speechbrain_m4t_adapters.data.indicvoices import prepare_indicvoices
from speechbrain_m4t_adapters.data.parquet import iter_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from hub_shard import write_hub_shard  # noqa: E402

RESPIN = ROOT / "tests" / "fixtures" / "real" / "respin"


def build(folder: Path, copies: int, shards: int, row_group: int) -> int:
    rows = []
    for k in range(copies):
        for lang in ("bn", "mt"):
            for line in (RESPIN / lang / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
                utt, text = line.split("\t", 1)
                wav = RESPIN / lang / "wav" / f"{utt}.wav"
                info = sf.info(str(wav))
                rows.append(
                    {
                        "audio": wav.read_bytes(),
                        "path": f"{utt}_{k}.wav",
                        "duration": info.frames / info.samplerate,
                        "samples": info.frames,
                        "verbatim": text,
                        "text": text,
                        "lang": lang,
                        "speaker_id": utt.split("_")[4],
                    }
                )
    per = -(-len(rows) // shards)
    for s in range(shards):
        name = f"train-{s:05d}-of-{shards:05d}.parquet"
        write_hub_shard(rows[s * per : (s + 1) * per], folder / name, row_group_size=row_group)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50, help="copies of the 12 clips")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--row-group", type=int, default=64, help="rows per parquet row group")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "IndicVoices" / "bengali"
        n = build(folder, args.copies, args.shards, args.row_group)
        size = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 1e6
        print(f"fixture: {n} rows in {args.shards} shards, {size:.1f} MB")

        def best(run) -> float:
            times = []
            for r in range(args.repeats):
                start = time.perf_counter()
                run(r)
                times.append(time.perf_counter() - start)
            return min(times)

        def scan(_):
            cols = ["audio_filepath", "text", "duration", "speaker_id"]
            for path in sorted(folder.glob("*.parquet")):
                for _batch in iter_table(path, cols):
                    pass

        def subset(r):
            prepare_indicvoices(folder, Path(tmp) / f"sub{r}.csv", split="train", hours=5 / 60, seed=r)

        def full(r):
            prepare_indicvoices(folder, Path(tmp) / f"all{r}.csv", split="train", verify_decode=True)

        t = best(scan)
        print(f"raw scan (all columns):           {n / t:9.0f} rows/s")
        t = best(subset)
        kept = len(read_asr_manifest(Path(tmp) / "sub0.csv"))
        print(f"metadata pass + 5 min subset:     {n / t:9.0f} rows/s ({kept} rows decoded)")
        t = best(full)
        print(f"full prepare (decode+write+check): {n / t:8.0f} rows/s")


if __name__ == "__main__":
    main()
