"""The paper's experiments at mini scale: every recipe row on the mini model, several seeds.

Runs each experiment's recipe with ``--mini=True`` (bundled mini SeamlessM4T,
synthetic espeak-ng speech; see ``hparams/mini.yaml``) for Odia and Maithili
and each seed, in dependency order (the Bengali length adaptor before the
pivots, the full-transcript text-only adapters before the runs stacked on
them), a few at a time, then writes ``docs/mini_results.md`` (mean and spread
over seeds beside the paper's numbers, and which of the paper's findings hold
at this scale) and ``docs/mini_results.png``.

A finished run is reused (its ``summary.json``), so an interrupted command
resumes where it stopped. Usage, from the repository root::

    python tools/mini/run_experiments.py --seeds 1 2 3 --jobs 2
    python tools/mini/run_experiments.py --report-only      # tables/plot from finished runs
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LANGUAGES = {"ory": ("Odia", "odia"), "mai": ("Maithili", "maithili")}

#: (row label, experiment stem without the language prefix, paper table, paper (WER, CER) per language)
ROWS = [
    ("None (baseline)", "baseline", "P1", {"ory": (42.81, 17.38), "mai": (82.20, 43.39)}),
    ("Length adaptor (A)", "length_adaptor", "P1/P3", {"ory": (35.48, 13.75), "mai": (54.97, 26.10)}),
    ("Encoder adapters 6M (A)", "encoder", "P3", {"ory": (32.03, 10.57), "mai": (52.95, 22.86)}),
    ("Encoder adapters (L) 50M (A)", "encoder_large", "P3", {"ory": (30.04, 10.01), "mai": (46.08, 19.20)}),
    ("Decoder adapters 6M (A)", "decoder", "P3", {"ory": (38.55, 14.50), "mai": (63.52, 31.60)}),
    ("Text-only (full transcripts)", "text_only_full", "P2", {"ory": (38.39, 16.22), "mai": (68.24, 36.84)}),
    # ours: FLORES human translations of full sentences, beside the model-made ones (paper: P2 Full)
    (
        "Text-only (human translations)",
        "text_only_human",
        "P2*",
        {"ory": (38.39, 16.22), "mai": (68.24, 36.84)},
    ),
    (
        "Text then encoder adapters (T-A)",
        "text_then_encoder",
        "P3",
        {"ory": (32.97, 11.25), "mai": (48.14, 21.58)},
    ),
    (
        "Bengali-pivot length adaptor",
        "bengali_pivot_length_adaptor",
        "P4",
        {"ory": (41.05, 15.07), "mai": (79.77, 40.04)},
    ),
    (
        "Bengali-pivot length adaptor + text",
        "bengali_pivot_length_adaptor_text_only",
        "P4",
        {"ory": (35.45, 13.92), "mai": (72.52, 39.31)},
    ),
]


#: The paper's findings checked per language: (claim, row that should have the lower CER, the other row).
CLAIMS = [
    ("encoder adapters beat decoder adapters at equal size", "encoder", "decoder"),
    ("text-only adaptation alone beats the baseline", "text_only_full", "baseline"),
    ("encoder adapters (L) beat the 6M encoder adapters", "encoder_large", "encoder"),
    ("text-only adaptation first helps the encoder adapters (T-A < A)", "text_then_encoder", "encoder"),
    (
        "zero-shot, Bengali-pivot length adaptor + target text beats the baseline",
        "bengali_pivot_length_adaptor_text_only",
        "baseline",
    ),
    (
        "target text adds to the Bengali-pivot length adaptor",
        "bengali_pivot_length_adaptor_text_only",
        "bengali_pivot_length_adaptor",
    ),
]


@dataclass
class Job:
    """One recipe run (``experiment`` of ``recipe`` with ``seed``) and the jobs it needs first."""

    recipe: str
    experiment: str
    seed: int
    needs: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.experiment}/{self.seed}"

    def summary(self, output_root: Path) -> Path:
        return output_root / self.experiment / str(self.seed) / "summary.json"

    def command(self, output_root: Path) -> list[str]:
        recipe = REPO / "recipes" / self.recipe
        return [
            sys.executable,
            str(recipe / "train.py"),
            str(recipe / "hparams" / f"{self.experiment}.yaml"),
            "--mini=True",
            f"--seed={self.seed}",
            f"--output_root={output_root}",
        ]


def plan(seeds: list[int]) -> list[Job]:
    """Every run of the table, with its dependencies (pivots and T-A rows reuse earlier adapters)."""
    jobs = []
    for seed in seeds:
        jobs.append(Job("Bengali", "bengali_length_adaptor", seed))
        for recipe, prefix in LANGUAGES.values():
            for _, stem, _, _ in ROWS:
                needs = []
                if stem in ("text_then_encoder", "bengali_pivot_length_adaptor_text_only"):
                    needs.append(f"{prefix}_text_only_full/{seed}")
                if stem.startswith("bengali_pivot"):
                    needs.append(f"bengali_length_adaptor/{seed}")
                jobs.append(Job(recipe, f"{prefix}_{stem}", seed, needs))
    return jobs


def run_all(jobs: list[Job], output_root: Path, parallel: int, logs: Path) -> None:
    """Run the jobs, ``parallel`` at a time (one torch thread each), dependencies first."""
    logs.mkdir(parents=True, exist_ok=True)
    done = {j.key for j in jobs if j.summary(output_root).exists()}
    pending = [j for j in jobs if j.key not in done]
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    failed = []
    while pending or running:
        for key, (proc, began) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[key]
            status = "done" if proc.returncode == 0 else f"FAILED (rc {proc.returncode}, log {logs / key})"
            print(f"{key}: {status} in {time.time() - began:.0f} s", flush=True)
            if proc.returncode == 0:
                done.add(key)
            else:
                failed.append(key)
        blocked = [j for j in pending if any(n in failed for n in j.needs)]
        for job in blocked:
            print(f"{job.key}: skipped, it needs {job.needs} and one failed", flush=True)
            failed.append(job.key)
            pending.remove(job)
        ready = [j for j in pending if all(n in done for n in j.needs)]
        while ready and len(running) < parallel:
            job = ready.pop(0)
            pending.remove(job)
            log = logs / f"{job.key}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "w", encoding="utf-8") as handle:
                proc = subprocess.Popen(
                    job.command(output_root), cwd=REPO, env=env, stdout=handle, stderr=handle
                )
            running[job.key] = (proc, time.time())
        time.sleep(1.0)
    if failed:
        raise SystemExit(f"{len(failed)} runs failed or were skipped: {failed}")


def collect(output_root: Path, seeds: list[int]) -> dict:
    """``{(stem, lang): {"wer": [...], "cer": [...], "seconds": [...]}}`` from the finished summaries."""
    table: dict = {}
    for _, stem, _, _ in ROWS:
        for lang, (_, prefix) in LANGUAGES.items():
            cell = {"wer": [], "cer": [], "seconds": [], "params": None}
            for seed in seeds:
                path = output_root / f"{prefix}_{stem}" / str(seed) / "summary.json"
                if not path.exists():
                    continue
                summary = json.loads(path.read_text(encoding="utf-8"))
                result = summary["test_sets"]["held_out"]
                cell["wer"].append(result["wer"])
                cell["cer"].append(result["cer"])
                cell["seconds"].append(summary.get("train_time_s") or 0.0)
                loaded = sum(s["parameters"] for s in summary["extra"].get("adapter_sets", []) if s["active"])
                cell["params"] = (summary["trainable_params"] or loaded, summary["total_params"])
            table[(stem, lang)] = cell
    return table


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "not run"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}"


def _mean(table: dict, stem: str, lang: str, metric: str = "cer") -> float | None:
    values = table[(stem, lang)][metric]
    return statistics.mean(values) if values else None


def _sd(table: dict, stem: str, lang: str, metric: str = "cer") -> float:
    values = table[(stem, lang)][metric]
    return statistics.stdev(values) if len(values) > 1 else 0.0


def findings(table: dict) -> list[str]:
    """The paper's findings (../shared/notes/paper_results.md), each checked on the mini means (CER)."""

    def compare(lang: str, better: str, worse: str) -> str:
        a, b = _mean(table, better, lang), _mean(table, worse, lang)
        if a is None or b is None:
            return "not run"
        spread = max(_sd(table, better, lang), _sd(table, worse, lang))  # the protocol's rule 9
        if abs(a - b) <= spread:
            verdict = "within the spread (difference below the larger sd)"
        else:
            verdict = "holds" if a < b else "does NOT hold"
        return f"{verdict}: {a:.1f} vs {b:.1f} % CER"

    lines = [
        f"- {name}: {claim}: " + compare(lang, better, worse)
        for lang, (name, _) in LANGUAGES.items()
        for claim, better, worse in CLAIMS
    ]
    base_o, text_o = _mean(table, "baseline", "ory"), _mean(table, "text_only_full", "ory")
    base_m, text_m = _mean(table, "baseline", "mai"), _mean(table, "text_only_full", "mai")
    if None not in (base_o, text_o, base_m, text_m):
        gain_o, gain_m = base_o - text_o, base_m - text_m
        worst = "Maithili" if base_m > base_o else "Odia"
        holds = max(gain_o, gain_m) > 0 and (gain_m > gain_o) == (base_m > base_o)
        why = "" if max(gain_o, gain_m) > 0 else ": it helps neither"
        lines.append(
            f"- text-only adaptation helps most where the baseline is worst ({worst}): "
            f"{'holds' if holds else 'does NOT hold'}{why} "
            f"(CER gain Odia {gain_o:.1f}, Maithili {gain_m:.1f} points)"
        )
    return lines


def _mini_rates() -> dict[str, str]:
    """``lr_by_kind`` of ``hparams/mini.yaml`` as written there (kind -> lr), for the report."""
    text = (REPO / "hparams" / "mini.yaml").read_text(encoding="utf-8")
    block = text.split("lr_by_kind:", 1)[1]
    return dict(re.findall(r"^ {4}(\w+): ([\d.e-]+)", re.split(r"\n\S", block, maxsplit=1)[0], re.M))


def write_report(table: dict, seeds: list[int], out_md: Path, out_png: Path, command: str) -> None:
    """``docs/mini_results.md`` and its PNG."""
    lines = [
        "# The paper's experiments at mini scale",
        "",
        "**Synthetic speech.** Every number here comes from the mini SeamlessM4T bundled with the",
        "package (`model_source: mini`, card: `speechbrain_m4t_adapters/resources/mini_m4t/README.md`),",
        "pretrained here from scratch on espeak-ng speech of 12 languages and real FLORES-200 text of",
        "14, then on Odia speech as a low-resource language (never Maithili speech), and adapted on",
        "espeak-ng speech of FLORES dev phrases",
        "(`hparams/mini.yaml`: 480 training clips, 60 validation clips, 150 test clips of held-out",
        "sentences 900-996; Maithili is read by espeak-ng's Hindi voice). Robot speech: these numbers",
        "show what each adaptation does to a small model that has learned, not what it does on real",
        "recordings. Paper numbers: IndicVoices, SeamlessM4T v1 medium (`../shared/notes/paper_results.md`).",
        "",
        f"Made by (from the repository root): `{command}`, following the protocol fixed before the",
        "numbers: [`mini_protocol.md`](mini_protocol.md).",
        "",
        f"WER / CER in %, mean ± standard deviation over seeds {', '.join(map(str, seeds))}",
        "(the data are the same for every seed; the seed changes the adapters' initialisation",
        "and the batch order).",
        "",
        "| experiment | paper table | parameters (share of the base; paper's share of 1.2B) "
        "| Odia WER | Odia CER | paper Odia WER / CER "
        "| Maithili WER | Maithili CER | paper Maithili WER / CER |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, stem, paper_table, paper in ROWS:
        cells = []
        for lang in LANGUAGES:
            cell = table[(stem, lang)]
            cells += [
                _mean_sd(cell["wer"]),
                _mean_sd(cell["cer"]),
                f"{paper[lang][0]:.2f} / {paper[lang][1]:.2f}",
            ]
        budget = _budget(table, stem)
        lines.append(
            f"| {label} (`<language>_{stem}`) | {paper_table} | {budget} | " + " | ".join(cells) + " |"
        )
    lines += ["", "## The paper's findings at this scale (on mean CER)", "", *findings(table), ""]
    lines += [
        "## Choices at mini scale",
        "",
        "- Every experiment is its recipe YAML unchanged plus `hparams/mini.yaml`: 5 epochs, batch 16,",
        "  warmup 20 steps, best checkpoint by validation CER, greedy decoding of at most 32 tokens.",
        "- Budgets as shares (`budget_scaling: paper_fraction`): each bottleneck is sized so that its",
        "  share of the mini base is the paper's share of v1 medium (6M = 0.53 %, 50M = 4.2 %); the",
        "  trainable length-adaptor copy is what the mini config makes it (15.8 % of the base, against",
        "  3.8 % on v1 medium: the mini length adaptor is relatively large).",
        "- Learning rates, one per adapter kind, from the validation-only sweep of the protocol",
        "  ([`mini_lr_sweep.md`](mini_lr_sweep.md); `lr_by_kind` of `hparams/mini.yaml`): "
        + ", ".join(f"{kind} {lr}" for kind, lr in _mini_rates().items())
        + ".",
        "- Text-only rows twice: the 480 training transcripts paired with the mini model's own English",
        "  translations (the paper's translated transcripts; `text_only_full`), and FLORES-200's human",
        "  English -> target translations of the full training sentences 0-799 (`text_only_human`).",
        "  T-A and the pivot + text rows stack on `text_only_full`, as the paper's stack on its",
        "  model-made pairs.",
        "- WER above 100 % means the hypotheses hold more words than the 2-4-word references.",
        "",
        "![CER per experiment](mini_results.png)",
        "",
    ]
    old = out_md.read_text(encoding="utf-8") if out_md.exists() else ""
    kept = old[old.index(DISCUSSION) :] if DISCUSSION in old else DISCUSSION + "\n\n(not written yet)\n"
    out_md.write_text("\n".join(lines) + "\n" + kept, encoding="utf-8")
    plot(table, out_png)


#: Below this line docs/mini_results.md is written by hand (the discussion); regenerating keeps it.
DISCUSSION = "<!-- discussion: written by hand, kept when the tables are regenerated -->"


def _budget(table: dict, stem: str) -> str:
    """``19,503 (0.53 %; 0.50 %)`` for a row, from its Odia summary and the recipe's paper_params."""
    params = table[(stem, "ory")]["params"]
    yaml = (REPO / "recipes" / "Odia" / "hparams" / f"odia_{stem}.yaml").read_text(encoding="utf-8")
    paper = re.search(r"^paper_params: ([\d_]+)", yaml, re.M)
    paper_share = f"{100 * int(paper[1].replace('_', '')) / 1.2e9:.2f} %" if paper else "-"
    if not params or not params[0]:
        return f"0; {paper_share}"
    return f"{params[0]:,} ({100 * params[0] / params[1]:.2f} %; {paper_share})"


def plot(table: dict, out_png: Path) -> None:
    """Bar chart: mini CER (mean, error bar = sd) per experiment and language, paper CER as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    labels = [label for label, *_ in ROWS]
    for ax, (lang, (name, _)) in zip(axes, LANGUAGES.items()):
        means = [_mean(table, stem, lang) or 0.0 for _, stem, _, _ in ROWS]
        sds = [_sd(table, stem, lang) for _, stem, _, _ in ROWS]
        ys = range(len(ROWS))
        ax.barh(list(ys), means, xerr=sds, color="tab:blue", alpha=0.8, label="mini model, synthetic speech")
        ax.scatter(
            [paper[lang][1] for *_, paper in ROWS],
            list(ys),
            color="tab:red",
            zorder=3,
            label="paper (IndicVoices, v1 medium)",
        )
        ax.set_title(f"{name}: CER (%)")
        ax.set_yticks(list(ys))
        ax.set_yticklabels(labels)
        ax.invert_yaxis()
        ax.set_xlim(0, max(100.0, max(m + d for m, d in zip(means, sds)) + 5.0))  # CER may pass 100
        ax.grid(axis="x", alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="run seeds")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    parser.add_argument("--output-root", type=Path, default=REPO / "results" / "mini_experiments")
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "mini_results.md")
    parser.add_argument("--report-only", action="store_true", help="only write the report from finished runs")
    args = parser.parse_args(argv)
    output_root = args.output_root.resolve()
    if not args.report_only:
        run_all(plan(args.seeds), output_root, args.jobs, output_root / "logs")
    command = "python tools/mini/run_experiments.py --seeds " + " ".join(map(str, args.seeds))
    write_report(
        collect(output_root, args.seeds), args.seeds, args.report, args.report.with_suffix(".png"), command
    )
    print(args.report)


if __name__ == "__main__":
    main()
