"""Parameter counts of the paper's adapter sets on the real-size configs (no download).

Builds SeamlessM4T v1 medium (the paper's model) and v2-large from their config
classes on the meta device, attaches each experiment's adapter sets and prints
trainable parameters and their share of the model (speech encoder + text
encoder + shared decoder + embeddings; no speech-output towers).

    python benchmarks/param_counts.py              # components and adapter sets, v1 medium and v2 large
    python benchmarks/param_counts.py --recipes    # every recipe YAML vs the paper's budget (v1 medium)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from speechbrain_m4t_adapters.adapters import (
    BottleneckConfig,
    FinetuneConfig,
    SwitchableAdapterSets,
    base_parameters,
)
from speechbrain_m4t_adapters.model import SeamlessM4TSpeechTextModel, SeamlessM4Tv2SpeechTextModel
from speechbrain_m4t_adapters.model.reference_configs import reference_config

EXPERIMENTS = {
    "length adaptor": {"la": FinetuneConfig(targets=["length_adaptor"])},
    "encoder adapters D2=256": {"enc": BottleneckConfig(bottleneck=256, targets=["speech_encoder"])},
    "encoder adapters D2=2048": {"enc": BottleneckConfig(bottleneck=2048, targets=["speech_encoder"])},
    "decoder adapters D2=256": {"dec": BottleneckConfig(bottleneck=256, targets=["text_decoder"])},
    "full fine-tuning: text decoder": {"dec_ft": FinetuneConfig(targets=["text_decoder"])},
    "full fine-tuning: speech encoder": {"enc_ft": FinetuneConfig(targets=["speech_encoder"])},
    "length adaptor + encoder D2=256": {
        "la": FinetuneConfig(targets=["length_adaptor"]),
        "enc": BottleneckConfig(bottleneck=256, targets=["speech_encoder"]),
    },
}


def recipes_table() -> None:
    """Every recipe's parameters on v1 medium (what the run logs at start) beside the paper's budget."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from recipe_budgets import recipe_parameters, within_budget

    from speechbrain_m4t_adapters.training.hparams import load_experiment

    print(f"{'recipe':60s} {'ours':>14s} {'paper':>8s} {'diff':>7s}")
    for path in sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*/hparams/*.yaml")):
        hparams, _ = load_experiment(path, "data_folder: /data")
        if path.stem.endswith("_data"):
            continue
        ours, paper = recipe_parameters(path), hparams.get("paper_params")
        diff = f"{100 * (ours - paper) / paper:+.1f}%" if paper else "-"
        flag = "" if not paper or within_budget(ours, paper) else "  OUT OF BUDGET"
        print(f"{path.stem:60s} {ours:>14,} {f'{paper / 1e6:g}M' if paper else '-':>8s} {diff:>7s}{flag}")


def main() -> None:
    for title, model_cls, config in (
        (
            "SeamlessM4T v1 medium (facebook/hf-seamless-m4t-medium)",
            SeamlessM4TSpeechTextModel,
            reference_config("v1-medium"),
        ),
        (
            "SeamlessM4T v2 large (facebook/seamless-m4t-v2-large)",
            SeamlessM4Tv2SpeechTextModel,
            reference_config("v2-large"),
        ),
    ):
        with torch.device("meta"):
            model = model_cls(config)
        total = sum(p.numel() for _, p in base_parameters(model))
        print(f"\n{title}: {total:,} parameters")
        for component in ("speech_encoder", "speech_encoder.adapter", "text_encoder", "text_decoder"):
            count = sum(p.numel() for n, p in base_parameters(model) if n.startswith(component + "."))
            print(f"  {component:28s} {count:>14,}")
        print(f"  {'experiment':34s} {'trainable':>12s} {'% of model':>10s}")
        for name, sets in EXPERIMENTS.items():
            adapters = SwitchableAdapterSets(model, hidden_size=config.hidden_size)
            for set_name, set_config in sets.items():
                adapters.add(set_name, set_config)
            trainable = sum(adapters.num_parameters(n) for n in adapters.sets)
            print(f"  {name:34s} {trainable:>12,} {100 * trainable / total:>9.2f}%")
            for set_name in list(adapters.sets):
                adapters.remove(set_name)


if __name__ == "__main__":
    recipes_table() if "--recipes" in sys.argv[1:] else main()
