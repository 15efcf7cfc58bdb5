"""Inference cost of a LoRA set run as extra modules vs merged into the base weights.

Builds a small random SeamlessM4T, attaches LoRA on every attention and FFN
projection of the Conformer and the decoder (and the length adaptor's convs),
then times a no-grad speech forward + teacher-forced decoding and a greedy
transcription, LoRA unmerged vs merged, and prints the max abs difference of
the logits (merged vs unmerged, and after unmerging). With ``--peft`` (peft
installed) it also prints the PEFT round-trip differences: our logits vs
``PeftModel.from_pretrained`` on transformers' ForSpeechToText model.

    python benchmarks/bench_lora_merge.py [--hidden 256] [--layers 6] [--seconds 8] [--rank 16] [--peft]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import LoRAConfig, base_parameters
from speechbrain_m4t_adapters.adapters.lora import merge_lora, unmerge_lora
from speechbrain_m4t_adapters.tiny import build_tiny_model

TARGETS = [
    r"speech_encoder\.encoder\.layers\.\d+\.(self_attn\.linear_(q|k|v|out)|ffn[12]\.(intermediate|output)_dense)",
    r"speech_encoder\.adapter\.layers\.0\.(residual|self_attn)_conv",
    r"text_decoder\.layers\.\d+\.((self_attn|cross_attention)\.(q|k|v|out)_proj|ffn\.fc[12])",
]


def timed(fn, repeats: int, cuda: bool) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=20, help="greedy decoding steps")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peft", action="store_true", help="also print PEFT round-trip differences")
    args = parser.parse_args()

    folder = build_tiny_model(tempfile.mkdtemp(), "v2", hidden_size=args.hidden, layers=args.layers)
    m4t = SeamlessM4T(folder, adapters={"lora": LoRAConfig(targets=TARGETS, rank=args.rank)})
    m4t.to(args.device).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in m4t.adapters.parameters("lora"):
            p.normal_(std=0.02)
    cuda = args.device.startswith("cuda")
    wavs = torch.randn(args.batch, int(16000 * args.seconds), device=args.device)
    features, mask = m4t.extract_features(wavs)
    decoder_ids = torch.randint(10, 100, (args.batch, 40), device=args.device)
    decoder_ids[:, 0] = m4t.text_ids.eos_id

    @torch.no_grad()
    def logits() -> torch.Tensor:
        hidden, hidden_mask = m4t.encode_speech(features, mask)
        return m4t.decode(hidden, hidden_mask, decoder_ids)

    def greedy() -> None:
        hidden, hidden_mask = m4t.encode_speech(features, mask)
        m4t.generate(hidden, hidden_mask, "ory", max_new_tokens=args.tokens, min_new_tokens=args.tokens)

    n_lora = len(m4t.adapters.sets["lora"].targets)
    print(
        f"v2 hidden={args.hidden} layers={args.layers} batch={args.batch}x{args.seconds:g}s "
        f"LoRA r={args.rank} on {n_lora} modules ({m4t.adapters.num_parameters('lora'):,} params), "
        f"device={args.device}, threads={torch.get_num_threads()}"
    )
    reference = logits()
    if args.peft:  # first, while the base weights are exactly the checkpoint's
        peft_round_trip(m4t, folder, features, mask, decoder_ids, reference)
    rows = [("unmerged", timed(logits, args.repeats, cuda), timed(greedy, args.repeats, cuda))]
    merge_lora(m4t.adapters, "lora")
    merged_diff = (logits() - reference).abs().max().item()
    rows.append(("merged", timed(logits, args.repeats, cuda), timed(greedy, args.repeats, cuda)))
    unmerge_lora(m4t.adapters, "lora")
    unmerged_diff = (logits() - reference).abs().max().item()
    print(f"{'LoRA':10s} {'forward+decode ms':>18s} {f'greedy {args.tokens} tok ms':>20s}")
    for name, forward_s, greedy_s in rows:
        print(f"{name:10s} {forward_s * 1e3:18.1f} {greedy_s * 1e3:20.1f}")
    print(f"speed-up merged: forward x{rows[0][1] / rows[1][1]:.2f}, greedy x{rows[0][2] / rows[1][2]:.2f}")
    print(
        f"float32: max |logits| {reference.abs().max().item():.3f}; max abs diff merged vs unmerged "
        f"{merged_diff:.2e}, after unmerge {unmerged_diff:.2e}; "
        f"from 1e-7 relative noise on the base weights alone {noise_sensitivity(m4t, logits, reference):.2e}"
    )
    # A random model amplifies float32 rounding; in float64 the merge is exact to rounding.
    m4t.double()
    m4t.dtype = torch.float64
    features = features.double()
    reference = logits()
    merge_lora(m4t.adapters, "lora")
    merged_diff = (logits() - reference).abs().max().item()
    unmerge_lora(m4t.adapters, "lora")
    print(
        f"float64: max abs diff merged vs unmerged {merged_diff:.2e}, "
        f"after unmerge {(logits() - reference).abs().max().item():.2e}"
    )


def noise_sensitivity(m4t, logits, reference) -> float:
    """Logit change from 1e-7 relative noise on every base matrix (then undone)."""
    saved = {n: p.detach().clone() for n, p in base_parameters(m4t.model) if p.dim() > 1}
    generator = torch.Generator().manual_seed(1)
    params = dict(m4t.model.named_parameters())
    with torch.no_grad():
        for n, value in saved.items():
            noise = torch.randn(value.shape, generator=generator).to(value.device)
            params[n].mul_(1 + 1e-7 * noise)
        change = (logits() - reference).abs().max().item()
        for n, value in saved.items():
            params[n].copy_(value)
    return change


def peft_round_trip(m4t, folder, features, mask, decoder_ids, reference) -> None:
    """Print max abs logit differences: export -> PeftModel, and PEFT folder -> import."""
    from peft import PeftModel
    from transformers import SeamlessM4Tv2ForSpeechToText

    from speechbrain_m4t_adapters.adapters.lora import export_peft, import_peft

    exported = export_peft(m4t.adapters, "lora", tempfile.mkdtemp(), base_model=str(folder))
    hf = SeamlessM4Tv2ForSpeechToText.from_pretrained(folder).to(features.device).eval()
    model = PeftModel.from_pretrained(hf, exported).eval()
    with torch.no_grad():
        theirs = model(input_features=features, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    print(f"PEFT export: max abs diff ours vs PeftModel {(theirs - reference).abs().max().item():.2e}")
    m4t.adapters.deactivate("lora")
    import_peft(m4t.adapters, exported, "reimported")
    with torch.no_grad():
        hidden, hidden_mask = m4t.encode_speech(features, mask)
        again = m4t.decode(hidden, hidden_mask, decoder_ids)
    print(
        f"PEFT import: max abs diff re-imported set vs original {(again - reference).abs().max().item():.2e}"
    )
    m4t.adapters.remove("reimported")
    m4t.adapters.activate("lora")


if __name__ == "__main__":
    main()
