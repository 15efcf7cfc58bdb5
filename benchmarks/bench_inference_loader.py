"""Batched beam search vs transformers' own ``generate``, and data-loader speed vs the model step.

1. Transcription: the same weights, the same batch of real clips (one
   language per batch, as HF's ``tgt_lang`` takes one), beam search with the
   same ``num_beams`` / ``max_new_tokens``: ``SeamlessM4T.transcribe`` (torch
   filterbank inside) vs ``SeamlessM4TFeatureExtractor`` +
   ``SeamlessM4Tv2ForSpeechToText.generate``. Interleaved, medians; utterances
   per second, real-time factor, and how many hypotheses agree token for token.
2. Training data: SpeechBrain ``DataLoader`` over an ASR manifest of the clips
   (audio loading + label tokenisation in the workers, ``num_workers`` 0 and 2)
   plus the filterbank on each batch, in utterances per second, against the
   utterances per second of the training step (decoder and encoder adapters).

    OMP_NUM_THREADS=1 python benchmarks/bench_inference_loader.py          # mid-size random v2, CPU
    python benchmarks/bench_inference_loader.py --model v2-large --device cuda
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from speechbrain_m4t_adapters import SeamlessM4T  # noqa: E402
from speechbrain_m4t_adapters.adapters import BottleneckConfig  # noqa: E402
from speechbrain_m4t_adapters.adapters.sets import ADAPTERS_ATTR  # noqa: E402
from speechbrain_m4t_adapters.training.datasets import asr_dataset  # noqa: E402


def bench_generate(folder: Path, args, device: torch.device) -> None:
    from transformers import (
        SeamlessM4TFeatureExtractor,
        SeamlessM4TForSpeechToText,
        SeamlessM4Tv2ForSpeechToText,
    )

    m4t = SeamlessM4T(folder).to(device).eval()
    hf_class = SeamlessM4Tv2ForSpeechToText if m4t.version == "v2" else SeamlessM4TForSpeechToText
    hf = hf_class.from_pretrained(folder)
    base = {k: v for k, v in m4t.model.state_dict().items() if ADAPTERS_ATTR not in k.split(".")}
    hf.load_state_dict(base, strict=False)
    hf.to(device).eval()
    hf.generation_config.text_decoder_lang_to_code_id = (
        m4t.model.generation_config.text_decoder_lang_to_code_id
    )
    extractor = SeamlessM4TFeatureExtractor.from_pretrained(folder)
    clips = [c for c in _common.load_clips() if c[2] == "ben"][: args.batch]
    wavs, lens = _common.pad([c[0] for c in clips])
    wavs, lens = wavs.to(device), lens.to(device)
    audio = sum(c[0].numel() for c in clips) / 16000

    def ours():
        hidden, mask = m4t(wavs, lens)
        return m4t.generate(hidden, mask, "ben", num_beams=args.beams, max_new_tokens=args.max_new_tokens)

    @torch.no_grad()
    def theirs():
        inputs = extractor(
            [c[0].numpy() for c in clips], sampling_rate=16000, return_tensors="pt", padding=True
        )
        out = hf.generate(
            **{k: v.to(device) for k, v in inputs.items()},
            tgt_lang="ben",
            num_beams=args.beams,
            max_new_tokens=args.max_new_tokens,
            do_sample=False,
        )
        return _common.hf_generated_tokens(out, m4t.text_ids.eos_id, m4t.text_ids.pad_id)

    times = {"ours": [], "hf": []}
    outputs = {}
    with torch.no_grad():
        for step in range(1 + args.repeats):
            for name, func in (("ours", ours), ("hf", theirs)):
                seconds, outputs[name] = _common.timed(func, device)
                if step:
                    times[name].append(seconds)
    agree = sum(a == b for a, b in zip(outputs["ours"], outputs["hf"]))
    ours_t, hf_t = _common.median(times["ours"]), _common.median(times["hf"])
    print(
        f"\n## Beam search (beam {args.beams}, <= {args.max_new_tokens} new tokens), "
        f"batch of {len(clips)} real clips ({audio:.1f} s)\n"
    )
    print("| | s/batch | utterances/s | RTF | OURS/HF time |")
    print("|---|---|---|---|---|")
    print(f"| ours | {ours_t:.3f} | {len(clips) / ours_t:.1f} | {ours_t / audio:.4f} | {ours_t / hf_t:.2f} |")
    print(f"| HF generate | {hf_t:.3f} | {len(clips) / hf_t:.1f} | {hf_t / audio:.4f} | |")
    print(f"\nhypotheses identical token for token: {agree}/{len(clips)}")


def bench_loader(folder: Path, args, device: torch.device) -> None:
    clips = sorted((_common.REAL / "respin").glob("*/wav/*.wav"))
    m4t = SeamlessM4T(
        folder,
        adapters={
            "dec": BottleneckConfig(bottleneck=64, targets=["text_decoder"]),
            "enc": BottleneckConfig(bottleneck=64, targets=["speech_encoder"]),
        },
    ).to(device)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "train.csv"
        with open(manifest, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["ID", "duration", "wav", "language", "transcript"])
            for wav in clips:
                lines = (wav.parents[1] / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
                text = dict(line.split("\t", 1) for line in lines)[wav.stem]
                lang = _common.RESPIN_LANGS[wav.parents[1].name]
                writer.writerow([wav.stem, 1.0, str(wav), lang, text])
        dataset = asr_dataset(manifest, m4t, sorting="none")
        print(f"\n## Training data loader vs training step ({len(clips)} real clips, batch {args.batch})\n")
        print("| pipeline (after a warm-up epoch) | utterances/s |")
        print("|---|---|")
        from speechbrain.dataio.batch import PaddedBatch
        from torch.utils.data import DataLoader

        for workers in (0, 2):
            loader = DataLoader(
                dataset,
                batch_size=args.batch,
                collate_fn=PaddedBatch,
                num_workers=workers,
                persistent_workers=workers > 0,
            )
            for _batch in loader:  # warm-up epoch (worker start-up)
                pass
            count, start = 0, time.perf_counter()
            for _ in range(args.loader_epochs):
                for batch in loader:
                    wavs, lens = batch.sig
                    with torch.no_grad():
                        m4t.extract_features(wavs.to(device), lens.to(device))
                    count += len(batch.id)
            rate = count / (time.perf_counter() - start)
            print(f"| loading + features, num_workers={workers} | {rate:.1f} |", flush=True)
        batch = next(iter(DataLoader(dataset, batch_size=args.batch, collate_fn=PaddedBatch))).to(device)
        wavs, lens = batch.sig
        inputs, labels = m4t.text_ids.batch_targets(
            list(batch.transcript), list(batch.language), device=m4t.device
        )
        for set_name, label in (("dec", "decoder adapters"), ("enc", "encoder adapters")):
            m4t.adapters.set_active([set_name])
            m4t.train()
            optimizer = torch.optim.AdamW(m4t.trainable_parameters(), lr=1e-4)

            def step(optimizer=optimizer):
                logits, _, _ = m4t(wavs, lens, decoder_input_ids=inputs)
                F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100).backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

            times = [_common.timed(functools.partial(step), device)[0] for _ in range(1 + args.repeats)][1:]
            print(f"| training step, {label} | {len(batch.id) / _common.median(times):.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mid", help="mid, v1-medium, v2-large")
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loader-epochs", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    folder = _common.build_checkpoint(args.model, hidden=args.hidden, layers=args.layers)
    print(f"# model {args.model}; {_common.machine()}")
    bench_generate(folder, args, device)
    bench_loader(folder, args, device)


if __name__ == "__main__":
    main()
