"""Batched vs one-by-one transcription speed with M4TAdaptedASR.

By default: a tiny random SeamlessM4T v2 built offline, with one random
bottleneck adapter set, on the 12 real RESPIN clips shipped in
``tests/fixtures/real/respin`` (46 s of audio), on CPU::

    python benchmarks/bench_transcribe.py
    python benchmarks/bench_transcribe.py --batch-size 4 --max-new-tokens 16 --threads 1
    python benchmarks/bench_transcribe.py --model facebook/seamless-m4t-v2-large --device cuda

Prints clips/s and the real-time factor for both modes (best of
``--repeats`` runs, after one warm-up run each).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import soundfile as sf  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIPS = sorted((ROOT / "tests" / "fixtures" / "real" / "respin").glob("*/wav/*.wav"))


def _tiny_model_with_adapters(folder: Path) -> tuple[Path, Path]:
    from speechbrain_m4t_adapters import SeamlessM4T
    from speechbrain_m4t_adapters.adapters import BottleneckConfig
    from speechbrain_m4t_adapters.tiny import build_tiny_model

    model = build_tiny_model(folder / "tiny_v2", "v2")
    config = BottleneckConfig(bottleneck=8, targets=["speech_encoder", "text_decoder"])
    m4t = SeamlessM4T(model, adapters={"enc": config})
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m4t.adapters.parameters("enc"):
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model, m4t.save_adapters(folder / "adapters", language="ben")


def _best_time(func, repeats: int) -> float:
    func()  # warm-up (allocator, first-call overheads)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="hub id or folder (default: tiny random v2)")
    parser.add_argument("--adapters", action="append", default=None, help="adapter folder(s)")
    parser.add_argument("--lang", default="ben")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: the checkpoint's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers.utils import logging as hf_logging

    from speechbrain_m4t_adapters.inference import M4TAdaptedASR

    hf_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        model, adapters = args.model, args.adapters
        if model is None:
            model, folder = _tiny_model_with_adapters(Path(tmp))
            adapters = [folder]
        asr = M4TAdaptedASR.from_model(
            model, adapter_folders=adapters or [], device=args.device, max_new_tokens=args.max_new_tokens
        )
        audio_s = sum(sf.info(str(c)).duration for c in CLIPS)

        def one_by_one():
            return [asr.transcribe_file(c, lang=args.lang) for c in CLIPS]

        def batched():
            return [r.text for r in asr.transcribe_files(CLIPS, lang=args.lang, batch_size=args.batch_size)]

        single_s = _best_time(one_by_one, args.repeats)
        batch_s = _best_time(batched, args.repeats)
        agree = sum(a == b for a, b in zip(one_by_one(), batched()))
    print(
        f"{len(CLIPS)} clips, {audio_s:.1f} s of audio, model {model if args.model else 'tiny random v2'}, "
        f"device {args.device}, {args.threads} thread(s), max_new_tokens {args.max_new_tokens or 'default'}"
    )
    print(f"one-by-one : {len(CLIPS) / single_s:7.2f} clips/s  (RTF {single_s / audio_s:.3f})")
    print(
        f"batched({args.batch_size:>2}): {len(CLIPS) / batch_s:7.2f} clips/s  (RTF {batch_s / audio_s:.3f})"
        f"  speed-up x{single_s / batch_s:.2f}"
    )
    print(f"identical transcripts: {agree}/{len(CLIPS)}")


if __name__ == "__main__":
    main()
