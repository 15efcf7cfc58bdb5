"""Paper-style comparison table and bar chart from experiment summaries.

The markdown table has a row per (test set, language), a column per experiment, cells
``WER / CER`` (%) with the best ``metric`` of a row in bold, then the mean over test sets (for
experiments having all of them), trainable parameters (count and share) and training time, and a
row per forgetting set: ``adapted / base (delta)`` of ``metric``, the base having every adapter
switched off (a positive delta: the adaptation hurt that language). The PNG is a grouped bar
chart of ``metric`` per test set, one bar per experiment.
"""

import math
import os
from collections.abc import Iterable
from pathlib import Path

from .summary import SUMMARY_FILENAME, read_summary


def collect_summaries(paths: Iterable[str | Path]) -> list[dict]:
    """Read ``summary.json`` files and those in folders (searched recursively).

    Returns the validated summaries, each with ``_path`` added; experiments with the same name
    get ``#2``, ``#3`` ... suffixes so columns stay distinct."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            if not (found := sorted(p.rglob(SUMMARY_FILENAME))):
                raise FileNotFoundError(f"no {SUMMARY_FILENAME} under {p}")
            files.extend(found)
        else:
            files.append(p)
    summaries, seen = [], {}
    for f in dict.fromkeys(files):  # keep order, drop duplicates
        data = dict(read_summary(f), _path=str(f))
        name = data["experiment"]
        count = seen[name] = seen.get(name, 0) + 1
        if count > 1:
            data["experiment"] = f"{name}#{count}"
        summaries.append(data)
    if not summaries:
        raise ValueError("no summaries given")
    return summaries


def _fmt_params(n: int, total: int) -> str:
    share = f" ({100 * n / total:.2f}%)" if total else ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}{share}"
    return f"{n}{share}"


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _rows(summaries: list[dict], part: str = "test_sets") -> list[tuple[str, str]]:
    keys = {(name, m["language"]) for s in summaries for name, m in s.get(part, {}).items()}
    return sorted(keys, key=lambda k: (k[1], k[0]))


def _metrics(summary: dict, name: str, lang: str, part: str = "test_sets") -> dict | None:
    """The summary's metrics of test set (or forgetting set) ``name`` in ``lang``, if any."""
    m = summary.get(part, {}).get(name)
    return m if m and m["language"] == lang else None


def _line(label: str, cells: Iterable[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def build_table(summaries: list[dict], metric: str = "wer") -> str:
    """Markdown table (see module docstring) from validated summaries."""
    other = "cer" if metric == "wer" else "wer"
    first, second = metric.upper(), other.upper()
    rows = _rows(summaries)
    compared = any(sum(name in s["test_sets"] for s in summaries) > 1 for name, _ in rows)
    lines = [
        f"Cells: {first} / {second} (%), lower is better"
        + (f"; best {first} per row in bold." if compared else "."),
        "",
        _line("Test set (lang)", [s["experiment"] for s in summaries]),
        "|---|" + "---|" * len(summaries),
    ]
    for name, lang in rows:
        values = [_metrics(s, name, lang) for s in summaries]
        scored = [v[metric] for v in values if v]
        best = min(scored) if len(scored) > 1 else None  # bold only marks a winner of a comparison
        cells = ["–" if v is None else f"{v[metric]:.2f} / {v[other]:.2f}" for v in values]
        bold = [f"**{c}**" if v and v[metric] == best else c for c, v in zip(cells, values)]
        lines.append(_line(f"{name} ({lang})", bold))
    means = []
    for s in summaries:
        vals = [v[metric] for v in (_metrics(s, n, lang) for n, lang in rows) if v]
        means.append(f"{sum(vals) / len(vals):.2f}" if len(vals) == len(rows) else "–")
    lines.append(_line(f"*Mean {first}*", means))
    params = [_fmt_params(s["trainable_params"], s["total_params"]) for s in summaries]
    lines.append(_line("*Trainable params*", params))
    lines.append(_line("*Train time*", [_fmt_time(s["train_time_s"]) for s in summaries]))
    for name, lang in _rows(summaries, "forgetting"):
        cells = [_forgetting_cell(_metrics(s, name, lang, "forgetting"), metric) for s in summaries]
        lines.append(_line(f"*Forgetting* {name} ({lang}): {first} adapted / base (Δ)", cells))
    return "\n".join(lines) + "\n"


def _forgetting_cell(entry: dict | None, metric: str) -> str:
    """``adapted / base (delta)`` of a forgetting set."""
    if entry is None:
        return "–"
    if entry[f"delta_{metric}"] is None:
        return f"{entry[metric]:.2f} / –"
    return f"{entry[metric]:.2f} / {entry[f'base_{metric}']:.2f} ({entry[f'delta_{metric}']:+.2f})"


def plot_bars(summaries: list[dict], out_png: str | Path, metric: str = "wer") -> Path:
    """Grouped bar chart of ``metric`` per test set, one bar per experiment."""
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    rows, n = _rows(summaries), len(summaries)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(rows) * max(1, n / 2)), 4.5))
    for i, s in enumerate(summaries):
        heights = [(_metrics(s, name, lang) or {}).get(metric, math.nan) for name, lang in rows]
        xs = [j + (i - (n - 1) / 2) * width for j in range(len(rows))]
        bars = ax.bar(xs, heights, width, label=s["experiment"])
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(range(len(rows)), [f"{name}\n({lang})" for name, lang in rows])
    ax.set_ylabel(f"{metric.upper()} (%)")
    ax.set_title(f"{metric.upper()} per test set (lower is better)")
    # Below the axes: bars of high WERs would hide an in-plot legend.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(n, 3), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out_png


def build_report(
    summary_paths_or_dirs: Iterable[str | Path] | str | Path,
    out_markdown: str | Path,
    out_png: str | Path,
    metric: str = "wer",
) -> str:
    """Collect summaries (files and/or folders searched recursively), write the markdown and the chart.

    ``out_markdown`` gets the table and the sources, ``out_png`` the bar chart of ``metric``
    (``"wer"`` or ``"cer"``: bolded, averaged and plotted). Returns the markdown table."""
    if metric not in ("wer", "cer"):
        raise ValueError(f"metric must be 'wer' or 'cer', got {metric!r}")
    if isinstance(summary_paths_or_dirs, (str, Path)):
        summary_paths_or_dirs = [summary_paths_or_dirs]
    summaries = collect_summaries(summary_paths_or_dirs)
    table = build_table(summaries, metric)
    sources = "\n".join(
        f"- `{s['experiment']}`: {s['model_source']}, package {s.get('package_version', '?')}, "
        f"{s.get('created', '?')} (`{s['_path']}`)"
        for s in summaries
    )
    out_markdown = Path(out_markdown)
    out_markdown.parent.mkdir(parents=True, exist_ok=True)
    # Link relative to the markdown file so the folder can be moved as a whole.
    png_link = Path(os.path.relpath(Path(out_png).resolve(), out_markdown.parent.resolve()))
    out_markdown.write_text(
        f"# Results\n\n{table}\n![{metric.upper()} per test set]({png_link})\n\n## Sources\n\n{sources}\n",
        encoding="utf-8",
    )
    plot_bars(summaries, out_png, metric)
    return table
