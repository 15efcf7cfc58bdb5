"""Measure the exported mini SeamlessM4T on held-out synthetic speech and write its model card.

Every language's test clips are made with the package's own generator
(``speechbrain_m4t_adapters.data.synthetic``, split ``test``: FLORES dev
sentences 900-996, held out of all pretraining) and decoded through the public
lobe (``SeamlessM4T(folder).transcribe``, greedy), so the card's numbers come
from the shipped weights and shipped code, not from the training script.

The card says what was heard and how much (``MINI_MODEL.json`` written by
``pretrain.py --export``: clips and hours per language, Odia as a low-resource
language, Maithili never), the pretraining stages, and the held-out CERs
(``--before``: also those of the model the last stage continued from).

Usage, from the repository root::

    python tools/mini/model_card.py --model speechbrain_m4t_adapters/resources/mini_m4t --count 100 \
        --before /tmp/previous_mini/held_out_error_rates.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch
from mini_model import MINI_LANGUAGES, TARGET_LANGUAGES
from speechbrain.utils.data_utils import batch_pad_right

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.bundled import record_checksums
from speechbrain_m4t_adapters.data.manifest import read_asr_manifest
from speechbrain_m4t_adapters.data.synthetic import prepare_synthetic
from speechbrain_m4t_adapters.evaluation.metrics import compute_error_rates
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


def _heard_flag(lang: str, info: dict) -> str:
    """The table's "heard in pretraining" cell, from ``MINI_MODEL.json``."""
    if lang in info.get("low_resource", ()):
        return "yes, **low-resource**"
    return "yes" if lang in info["speech_languages"] else "**no (zero-shot)**"


def _training_lines(info: dict, count: int) -> list[str]:
    """The card's "Training" section: languages, how much speech of each, the stages."""
    cfg, stages = info["config"], info.get("stages") or []
    low, never = info.get("low_resource", []), info.get("never_heard", list(TARGET_LANGUAGES))
    high = [lang for lang in info["speech_languages"] if lang not in low]
    lines = [
        "## Training",
        "",
        f"- Speech (ASR, phrases of 2-4 words): {', '.join(high)}"
        + (f"; **{', '.join(low)} as a low-resource language** (a tenth of the clips)" if low else "")
        + f". **Never {', '.join(never)} speech.** As in the paper, whose base model knows Odia speech",
        "  a little (baseline CER ~17 %) and has never heard Maithili.",
        f"- Text-to-text translation among all 14 languages ({', '.join(cfg['text_languages'])}),",
        "  Odia and Maithili included, so the shared decoder writes their scripts.",
        "- FLORES dev sentences 0-899 only; 900-996 are held out of everything; devtest never read.",
    ]
    for n, stage in enumerate(stages, start=1):
        changes = stage.get("config_changes", [])
        lr = changes[0]["changed"].get("lr", [stage["lr"]])[0] if changes else stage["lr"]
        share = stage.get("low_resource_batch_share", 0.0)
        lines.append(
            f"- Stage {n}, {stage['what']}: {stage['steps']:,} steps of batch {cfg['batch_size']}, "
            f"{stage['train_seconds'] / 3600:.2f} h on 1-2 CPU threads, AdamW peak lr {lr} "
            f"({stage['warmup_steps']} warmup steps, inverse-sqrt decay), speech: "
            f"{', '.join(stage['speech_languages'])}."
            + (f" {share:.0%} of the speech batches from the low-resource clips only." if share else "")
            + "".join(f" {_changes_text(change)}" for change in changes)
        )
    lines += [
        f"- Label smoothing {cfg['label_smoothing']}, text steps {cfg['text_prob']:.0%}, an auxiliary CTC",
        f"  head (weight {cfg['ctc_weight']}) on the Conformer output during pretraining only: it is NOT",
        "  in this folder, which is a plain SeamlessM4T.",
        "- Commands (repository root, MODEL = speechbrain_m4t_adapters/resources/mini_m4t):",
        "  `python tools/mini/make_speech.py --out DATA`; stage 1 `python tools/mini/pretrain.py",
        "  --data DATA --run RUN --set speech_languages=[eng,hin,ben,asm,guj,kan,mal,mar,npi,pan,tam,tel]",
        "  eval_every=1000 curriculum_steps=4000` (re-run to resume); stage 2 `python tools/mini/pretrain.py",
        "  --data DATA --run RUN2 --set init_from=MODEL eval_every=500`; stage 3 the same from stage 2's",
        "  MODEL with `--run RUN3 --set init_from=MODEL lr=0.001 low_resource_batch_share=0.15",
        "  eval_every=500` (docs/mini_model.md: when each stage stopped, and why); `python",
        "  tools/mini/pretrain.py --run RUN3 --export MODEL`, `python tools/mini/model_card.py --model MODEL",
        f"  --count {count}`.",
        "",
    ]
    return lines + _speech_data_lines(stages)


def _changes_text(change: dict) -> str:
    """``From step N: key old -> new, ...`` for the keys a resume changed (run length left out)."""
    keys = {k: v for k, v in change["changed"].items() if k not in ("max_minutes", "max_steps")}
    text = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in keys.items())
    return f"From step {change['step']:,}: {text}."


def _speech_data_lines(stages: list[dict]) -> list[str]:
    """Training clips and hours per language of the last stage that recorded them."""
    recorded = [s for s in stages if s.get("speech_data")]
    if not recorded:
        return []
    data = recorded[-1]["speech_data"]
    lines = [
        "Speech heard in the last stage (clips of at most 4 s; stage 1 heard the same clips of its 12",
        "languages: same spec, same seeds):",
        "",
        "| language | clips | hours |",
        "|---|---:|---:|",
    ]
    order = list(MINI_LANGUAGES)
    for lang in sorted(data, key=order.index):
        lines.append(f"| {lang} | {data[lang]['clips']:,} | {data[lang]['hours']:.2f} |")
    total = sum(d["hours"] for d in data.values())
    return lines + [f"| all | {sum(d['clips'] for d in data.values()):,} | {total:.2f} |", ""]


def _results_lines(rates: dict, info: dict, before: dict | None, count: int) -> list[str]:
    """The held-out error-rate table (and the rates before the last stage, when given)."""
    lines = [
        f"## Held-out error rates (greedy, {count} test clips per language, `model_card.py`)",
        "",
        "| language | heard in pretraining | CER % | WER % | CER % before the last stage | "
        "example: reference -> hypothesis |",
        "|---|---|---|---|---|---|",
    ]
    for lang, r in rates.items():
        ref, hyp = (x.replace("|", "/") for x in r["example"])
        old = f"{before[lang]['cer']:.2f}" if before and lang in before else "-"
        cells = [lang, _heard_flag(lang, info), f"{r['cer']:.2f}", f"{r['wer']:.2f}", old, f"{ref} -> {hyp}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_card(
    folder: Path, rates: dict, info: dict, count: int, seconds: float, before: dict | None = None
) -> Path:
    """``<folder>/README.md``: what the model is, how it was made, what it scores."""
    cfg = info["config"]
    params = sum(p.numel() for p in SeamlessM4T(folder).model.parameters())
    low = info.get("low_resource", [])
    high = [lang for lang in info["speech_languages"] if lang not in low]
    mean_high = sum(rates[lang]["cer"] for lang in high) / len(high)
    others = ", ".join(f"{lang} {rates[lang]['cer']:.2f} %" for lang in TARGET_LANGUAGES)
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
        *_training_lines(info, count),
        "## Config (plain fields of `SeamlessM4Tv2Config`)",
        "",
        f"width {cfg['hidden_size']} (4 heads), {cfg['speech_layers']} Conformer layers, "
        f"{cfg['text_encoder_layers']} text-encoder and {cfg['decoder_layers']} decoder layers, FFN "
        f"{cfg['ffn_multiplier']} x width, depthwise conv kernel {cfg['conv_kernel']},",
        f"**length adaptor stride and kernel {cfg['adaptor_stride']}** (hub models: 8; fast synthetic",
        "speech with a small vocabulary needs more frames per token), vocabulary",
        f"{cfg['vocab_size']} SentencePiece BPE pieces + 14 language tokens.",
        "",
        *_results_lines(rates, info, before, count),
        "",
        f"Mean CER over the {len(high)} high-resource languages: {mean_high:.2f} %. Adaptation targets: "
        f"{others}; Maithili clips are the Hindi voice reading Maithili text, so they sound like the",
        f"Hindi it heard. Measured in {seconds:.0f} s. The pretraining curves are in `docs/mini_model.md`.",
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
    parser.add_argument("--before", type=Path, help="held_out_error_rates.json of the model continued from")
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
    began = time.time()
    model = SeamlessM4T(args.model).eval()
    with tempfile.TemporaryDirectory() as work:
        rates = held_out_error_rates(model, args.flores, args.count, args.seed, Path(work))
    info = json.loads((args.model / "MINI_MODEL.json").read_text(encoding="utf-8"))
    print(write_card(args.model, rates, info, args.count, time.time() - began, before))
    print(record_checksums(args.model))  # SHA256SUMS last: loading 'mini' checks every file against it


if __name__ == "__main__":
    main()
