"""Translate throughput (sentences/s) of ``m4t-adapters translate`` on a tiny offline model.

Transcripts are FLORES-200 dev sentences shipped in ``tests/fixtures/real``
(``--lang`` picks the file), written as an ASR manifest; the base model
translates them into English with batched beam search::

    python benchmarks/bench_translate.py
    python benchmarks/bench_translate.py --sentences 200 --batch-size 32 --num-beams 4
    python benchmarks/bench_translate.py --model facebook/hf-seamless-m4t-medium --device cuda

Numbers on the tiny random model measure the pipeline (tokenising, beam
search, TSV writing), not a real model's speed or quality.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from speechbrain_m4t_adapters.data import AsrEntry, write_asr_manifest  # noqa: E402
from speechbrain_m4t_adapters.data.translate import translate_transcripts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FLORES = ROOT / "tests" / "fixtures" / "real" / "flores200" / "dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model (default: a tiny random v2 built offline)")
    parser.add_argument("--lang", default="ben_Beng", help="FLORES-200 file of the transcripts")
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-beams", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from speechbrain_m4t_adapters.tiny import build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny_v2", "v2"))
        lines = (FLORES / f"{args.lang}.dev").read_text(encoding="utf-8").splitlines()[: args.sentences]
        lang = args.lang.split("_")[0]
        rows = [AsrEntry(f"s{i:04d}", 1.0, "/none.wav", lang, t) for i, t in enumerate(lines)]
        manifest = Path(tmp) / "m.csv"
        write_asr_manifest(rows, manifest)
        result = translate_transcripts(
            manifest,
            Path(tmp) / "out.tsv",
            model_source=model,
            num_beams=args.num_beams,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            device=args.device,
        )
        print(
            f"{result.translated} sentences ({args.lang} -> eng), batch {args.batch_size}, "
            f"{args.num_beams} beams, <= {args.max_new_tokens} new tokens: "
            f"{result.sentences_per_second:.1f} sentences/s ({result.seconds:.2f} s)"
        )


if __name__ == "__main__":
    main()
