"""CPU transcription speed: ours (fp32, int8) against transformers' ``generate`` in fp32.

The same clips, in the same batches (sorted by duration, as ``transcribe_files``
batches them), greedy decoding with the same token limit:

* ``hf``: ``SeamlessM4TFeatureExtractor`` + ``SeamlessM4T(v2)ForSpeechToText.generate``
  (what a transformers user runs), fp32;
* ``ours``: ``M4TAdaptedASR.transcribe_batch`` (torch filterbank + encoder + ``generate``), fp32;
* ``ours int8-encoder`` / ``ours int8``: the same with ``quantize=`` (int8 dynamic
  quantisation of the linear layers of the speech encoder / also of the decoder and
  output projection, and float32 features; ``inference/quantize.py``), the same weights.

On the mini model (default) the clips are its held-out Odia test set (synthetic,
sentences 900-996, as the main job makes it) and CER is scored; on a real config
(random weights, ``--model v1-medium``) only speed and token agreement mean anything::

    python benchmarks/bench_cpu_inference.py                                   # mini, 150 held-out clips
    python benchmarks/bench_cpu_inference.py --model v1-medium --clips 16 --max-new-tokens 16

Prints seconds for all clips (best of ``--repeats`` interleaved passes after a warm-up), clips/s,
speed-up against ``hf``, CER/WER, and hypotheses equal token for token to ours fp32 and to ``hf``.
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from speechbrain.utils.data_utils import batch_pad_right  # noqa: E402

from speechbrain_m4t_adapters.evaluation.metrics import compute_error_rates  # noqa: E402
from speechbrain_m4t_adapters.inference import M4TAdaptedASR  # noqa: E402
from speechbrain_m4t_adapters.inference.quantize import quantize_lobe  # noqa: E402


def held_out_clips(folder: Path, count: int) -> list[dict]:
    """The main job's held-out Odia clips (synthetic test split, seed 1234), made once in ``folder``."""
    from speechbrain_m4t_adapters.data.synthetic import prepare_synthetic

    manifest = folder / "held_out.csv"
    if not manifest.is_file():
        prepare_synthetic(manifest, "ory", split="test", count=150, seed=1234)
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))[:count]
    for row in rows:
        row["audio"] = torch.from_numpy(sf.read(row["wav"], dtype="float32")[0])
    return sorted(rows, key=lambda r: -r["audio"].numel())


def hf_transcriber(folder: Path, asr: M4TAdaptedASR, args):
    """transformers' own pipeline on the same weights as ``asr``."""
    from transformers import (
        SeamlessM4TFeatureExtractor,
        SeamlessM4TForSpeechToText,
        SeamlessM4Tv2ForSpeechToText,
    )

    m4t = asr.m4t
    hf_class = SeamlessM4Tv2ForSpeechToText if m4t.version == "v2" else SeamlessM4TForSpeechToText
    # fp32, as ours: transformers 5 loads a checkpoint in its saved dtype (the mini model is fp16)
    hf = hf_class.from_pretrained(folder, dtype=torch.float32)
    hf.load_state_dict(m4t.model.state_dict(), strict=False)  # random real configs: same weights
    languages = m4t.model.generation_config.text_decoder_lang_to_code_id
    hf.generation_config.text_decoder_lang_to_code_id = languages
    hf.eval()
    extractor = SeamlessM4TFeatureExtractor.from_pretrained(folder)

    @torch.no_grad()
    def transcribe(wavs: list[torch.Tensor]) -> list[tuple[str, list[int]]]:
        inputs = extractor([w.numpy() for w in wavs], sampling_rate=16000, return_tensors="pt", padding=True)
        out = hf.generate(
            **inputs, tgt_lang="ory", num_beams=1, do_sample=False, max_new_tokens=args.max_new_tokens
        )
        tokens = _common.hf_generated_tokens(out, m4t.text_ids.eos_id, m4t.text_ids.pad_id)
        return list(zip(m4t.decode_tokens(tokens), tokens))

    return transcribe


def our_transcriber(asr: M4TAdaptedASR):
    def transcribe(wavs: list[torch.Tensor]) -> list[tuple[str, list[int]]]:
        return list(zip(*asr.transcribe_batch(*batch_pad_right(wavs), lang="ory")))

    return transcribe


def run_interleaved(runs: dict, clips: list[dict], batch: int, repeats: int) -> dict:
    """Best wall time per pipeline over ``repeats`` passes over all clips, the pipelines taking
    turns pass by pass (so a slow spell of a shared machine hits all), after one warm-up pass each."""
    best, outputs = dict.fromkeys(runs, float("inf")), {}
    for step in range(1 + repeats):
        for name, transcribe in runs.items():
            start, outputs[name] = time.perf_counter(), []
            for i in range(0, len(clips), batch):
                outputs[name] += transcribe([c["audio"] for c in clips[i : i + batch]])
            if step:
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: (best[name], outputs[name]) for name in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mini", help="mini, or a real config (v1-medium, v2-large)")
    parser.add_argument("--clips", type=int, default=150, help="held-out clips used (longest dropped last)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clips = held_out_clips(Path(tmp), args.clips)
        if args.model == "mini":
            from speechbrain_m4t_adapters.bundled import resolve_model_source

            folder = Path(resolve_model_source("mini"))
        else:
            folder = _common.build_checkpoint(args.model, Path(tmp) / args.model)
        audio = sum(c["audio"].numel() for c in clips) / 16000
        print(
            f"# model {args.model}; {len(clips)} held-out Odia clips ({audio:.0f} s), batch {args.batch}, "
            f"greedy, <= {args.max_new_tokens} tokens; {args.threads} thread(s); {_common.machine()}\n"
        )
        # The same weights everywhere (random real configs differ per load): the int8 pipelines
        # quantise copies of our fp32 model, with the function quantize= calls.
        asr = M4TAdaptedASR.from_model(folder, device="cpu", num_beams=1, max_new_tokens=args.max_new_tokens)
        runs = {"hf": hf_transcriber(folder, asr, args), "ours": our_transcriber(asr)}
        for scope in ("int8-encoder", "int8"):
            quantised = copy.deepcopy(asr)
            quantize_lobe(quantised.m4t, scope)
            runs[f"ours {scope}"] = our_transcriber(quantised)
        results = run_interleaved(runs, clips, args.batch, args.repeats)
        refs, ids = [c["transcript"] for c in clips], [c["ID"] for c in clips]
        header = ["pipeline", "s (all clips)", "clips/s", "speed-up vs hf", "CER", "WER", "tokens/clip"]
        print("| " + " | ".join(header + ["= ours fp32", "= hf"]) + " |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, (seconds, outputs) in results.items():
            scores = compute_error_rates(ids, refs, [text for text, _ in outputs], lang="ory")
            same = [sum(a[1] == b[1] for a, b in zip(outputs, results[k][1])) for k in ("ours", "hf")]
            speed_up = results["hf"][0] / seconds
            cells = [name, f"{seconds:.2f}", f"{len(clips) / seconds:.1f}", f"{speed_up:.2f}x"]
            cells += [f"{scores['cer']:.2f}", f"{scores['wer']:.2f}"]
            cells += [f"{sum(len(t) for _, t in outputs) / len(clips):.1f}"]
            cells += [f"{same[0]}/{len(clips)}", f"{same[1]}/{len(clips)}"]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
