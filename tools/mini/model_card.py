"""Measure the exported mini SeamlessM4T on held-out synthetic speech and write its model card.

Every language's test clips are made with the package's own generator
(``speechbrain_m4t_adapters.data.synthetic``, split ``test``: FLORES dev
sentences 900-996, held out of all pretraining) and decoded through the public
lobe (``SeamlessM4T(folder).transcribe``, greedy), so the card's numbers come
from the shipped weights and shipped code, not from the training script.

Usage, from the repository root::

    python tools/mini/model_card.py --model speechbrain_m4t_adapters/resources/mini_m4t \
        --run /work/mini_run/full --count 100
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch
from speechbrain.utils.data_utils import batch_pad_right

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.data.manifest import read_asr_manifest
from speechbrain_m4t_adapters.data.synthetic import prepare_synthetic
from speechbrain_m4t_adapters.evaluation.metrics import compute_error_rates
from speechbrain_m4t_adapters.mini import MINI_LANGUAGES, PRETRAIN_SPEECH_LANGUAGES, TARGET_LANGUAGES
from speechbrain_m4t_adapters.model.decoding import transcribe

REPO = Path(__file__).resolve().parents[2]
SHARED_FLORES = REPO.parent / "shared" / "data" / "flores200"


@torch.no_grad()
def held_out_error_rates(model: SeamlessM4T, flores: Path, count: int, seed: int, work: Path) -> dict:
    """``{lang: {"cer", "wer", "clips", "example"}}`` on ``count`` test clips per language."""
    results = {}
    for lang in MINI_LANGUAGES:
        csv = work / f"{lang}.csv"
        prepare_synthetic(csv, lang, "test", count=count, seed=seed, flores_dir=flores)
        rows = read_asr_manifest(csv)
        hyps = []
        for start in range(0, len(rows), 25):
            chunk = rows[start : start + 25]
            wavs, lens = batch_pad_right(
                [torch.from_numpy(sf.read(r.wav, dtype="float32")[0]) for r in chunk]
            )
            hyps += transcribe(model, wavs, lens, lang, max_new_tokens=32)
        ids, refs = [r.id for r in rows], [r.transcript for r in rows]
        rates = compute_error_rates(ids, refs, hyps, lang=lang)
        results[lang] = {
            "cer": round(rates["cer"], 2),
            "wer": round(rates["wer"], 2),
            "clips": len(rows),
            "example": (refs[0], hyps[0]),
        }
        print(f"{lang}: CER {rates['cer']:.2f} WER {rates['wer']:.2f} ({len(rows)} clips)", flush=True)
    return results


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6


def write_card(folder: Path, rates: dict, info: dict, count: int, seconds: float) -> Path:
    """``<folder>/README.md``: what the model is, how it was made, what it scores."""
    cfg = info["config"]
    params = sum(p.numel() for p in SeamlessM4T(folder).model.parameters())
    heard = [lang for lang in MINI_LANGUAGES if lang in PRETRAIN_SPEECH_LANGUAGES]
    mean_heard = sum(rates[lang]["cer"] for lang in heard) / len(heard)
    zero_shot = ", ".join(f"{lang} {rates[lang]['cer']:.2f} %" for lang in TARGET_LANGUAGES)
    lines = [
        "# mini SeamlessM4T v2 (speechbrain-m4t-adapters)",
        "",
        "A **toy** SeamlessM4T for tests, tutorials and mini-scale experiments: the same",
        "`transformers` classes and layout as `facebook/seamless-m4t-v2-large` (Conformer speech",
        "encoder, length adaptor, text encoder, ONE shared text decoder, `__xxx__` language tokens),",
        f"{params / 1e6:.1f}M parameters, fp16 weights ({_size_mb(folder):.1f} MB folder).",
        'Load it offline by name: `SeamlessM4T("mini")`, or `model_source: mini` in any recipe',
        "(`--mini=True`).",
        "",
        "**Trained on SYNTHETIC speech.** Text is real (FLORES-200 dev, CC BY-SA 4.0, NLLB Team 2022);",
        "speech is espeak-ng reading it (PyPI `espeakng-loader`; random voice variant, rate, pitch,",
        "noise). It has not heard a human voice: it transcribes espeak-ng speech, not recordings.",
        "",
        "## Training",
        "",
        f"- Speech (ASR, phrases of 2-4 words): {', '.join(cfg['speech_languages'])}. **Never Odia or",
        "  Maithili speech.**",
        f"- Text-to-text translation among all 14 languages ({', '.join(cfg['text_languages'])}),",
        "  Odia and Maithili included, so the shared decoder writes their scripts although the",
        "  encoder never heard them (as SeamlessM4T knows Odia text better than Odia speech).",
        "- FLORES dev sentences 0-899 only; 900-996 are held out of everything; devtest never read.",
        f"- {info['steps']:,} steps of batch {cfg['batch_size']}, "
        f"{info['train_seconds'] / 3600:.2f} h on 1-2 CPU threads",
        "  (2-core machine, resumed across restarts), AdamW lr "
        f"{cfg['lr']} with {cfg['warmup_steps']} warmup steps and",
        f"  inverse-sqrt decay, label smoothing {cfg['label_smoothing']}, text steps {cfg['text_prob']:.0%},",
        f"  an auxiliary CTC head (weight {cfg['ctc_weight']}) on the Conformer output during",
        "  pretraining only: it is NOT in this folder, which is a plain SeamlessM4T.",
        "- Commands (repository root, MODEL = speechbrain_m4t_adapters/resources/mini_m4t):",
        "  `python tools/mini/make_speech.py --out DATA`, then",
        "  `python tools/mini/pretrain.py --data DATA --run RUN --set eval_every=1000",
        "  curriculum_steps=4000` (re-run to resume), `python tools/mini/pretrain.py --run RUN",
        f"  --export MODEL`, `python tools/mini/model_card.py --model MODEL --count {count}`.",
        "",
        "## Config (plain fields of `SeamlessM4Tv2Config`)",
        "",
        f"width {cfg['hidden_size']} (4 heads), {cfg['speech_layers']} Conformer layers, "
        f"{cfg['text_encoder_layers']} text-encoder and {cfg['decoder_layers']} decoder layers, FFN "
        f"{cfg['ffn_multiplier']} x width, depthwise conv kernel {cfg['conv_kernel']},",
        f"**length adaptor stride and kernel {cfg['adaptor_stride']}** (hub models: 8; fast synthetic",
        "speech with a small vocabulary needs more frames per token), vocabulary",
        f"{cfg['vocab_size']} SentencePiece BPE pieces + 14 language tokens.",
        "",
        f"## Held-out error rates (greedy, {count} test clips per language, `model_card.py`)",
        "",
        "| language | heard in pretraining | CER % | WER % | example: reference -> hypothesis |",
        "|---|---|---|---|---|",
    ]
    for lang, r in rates.items():
        heard_flag = "yes" if lang in PRETRAIN_SPEECH_LANGUAGES else "**no (zero-shot)**"
        ref, hyp = (x.replace("|", "/") for x in r["example"])
        lines.append(f"| {lang} | {heard_flag} | {r['cer']:.2f} | {r['wer']:.2f} | {ref} -> {hyp} |")
    lines += [
        "",
        f"Mean CER over the 12 heard languages: {mean_heard:.2f} %. Odia and Maithili are zero-shot "
        f"({zero_shot}); Maithili "
        "clips are the Hindi voice reading Maithili text, so they sound like the Hindi it heard.",
        f"Measured in {seconds:.0f} s. The pretraining curve (40 clips per language every 1,000 steps) is in",
        "`docs/mini_model.md`.",
        "",
        "The issue's target was a held-out CER <= 30 % on the pretraining languages; "
        + ("it is met." if mean_heard <= 30 else "it is NOT met within the ~2.5 h CPU budget (see above)."),
        "",
    ]
    card = folder / "README.md"
    card.write_text("\n".join(lines), encoding="utf-8")
    (folder / "held_out_error_rates.json").write_text(
        json.dumps({lang: {k: r[k] for k in ("cer", "wer", "clips")} for lang, r in rates.items()}, indent=1),
        encoding="utf-8",
    )
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="exported model folder")
    parser.add_argument("--flores", type=Path, default=SHARED_FLORES, help="FLORES-200 folder (14 dev files)")
    parser.add_argument("--count", type=int, default=100, help="test clips per language")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the test clips")
    args = parser.parse_args(argv)
    began = time.time()
    model = SeamlessM4T(args.model).eval()
    with tempfile.TemporaryDirectory() as work:
        rates = held_out_error_rates(model, args.flores, args.count, args.seed, Path(work))
    info = json.loads((args.model / "MINI_MODEL.json").read_text(encoding="utf-8"))
    print(write_card(args.model, rates, info, args.count, time.time() - began))


if __name__ == "__main__":
    main()
