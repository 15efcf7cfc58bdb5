"""Describe and health-check a saved adapter folder from its files alone, with the standard library
only (``m4t-adapters inspect`` imports neither torch nor transformers)."""

import os
from pathlib import Path
from typing import Any

from ..adapters.integrity import METADATA_NAME, WEIGHTS_NAME, check_folder, load_metadata

#: Metadata keys shown in the header rather than as extra fields.
_KNOWN = set(
    "format_version package package_version base_model model_type base_fingerprint base_identity "
    "weights_sha256 sets".split()
)


def describe_adapters(folder: str | os.PathLike) -> dict[str, Any]:
    """Summary of a ``save_adapters`` folder's ``adapters.json`` plus the weight file's size.

    ``weights_bytes`` is None when the weights are missing; ``sets`` maps names to ``kind``,
    ``num_parameters``, ``num_modules``, ``modules``, ``config``; ``extra`` holds other metadata
    (e.g. ``language``), ``problems`` what ``check_folder`` found wrong (empty when healthy).
    Missing or malformed metadata raises FileNotFoundError or ValueError naming file and field."""
    folder = Path(folder)
    metadata = load_metadata(folder)
    weights = folder / WEIGHTS_NAME
    sets = {}
    for name, info in metadata["sets"].items():
        config = dict(info.get("config", {}))
        sets[name] = {
            "kind": config.pop("kind", "?"),
            "num_parameters": int(info.get("num_parameters", 0)),
            "num_modules": len(info.get("modules", [])),
            "modules": list(info.get("modules", [])),
            "config": config,
        }
    return {
        "folder": str(folder),
        "base_model": metadata.get("base_model") or "?",
        "model_type": metadata.get("model_type") or "?",
        "base_fingerprint": metadata["base_fingerprint"],
        "package_version": metadata.get("package_version", "?"),
        "format_version": metadata["format_version"],
        "weights_bytes": weights.stat().st_size if weights.is_file() else None,
        "total_parameters": sum(s["num_parameters"] for s in sets.values()),
        "sets": sets,
        "extra": {k: v for k, v in metadata.items() if k not in _KNOWN},
        "problems": check_folder(folder),
    }


def _fmt_count(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def format_description(info: dict[str, Any], show_modules: bool = False) -> str:
    """Human-readable text of :func:`describe_adapters`' result."""
    size = "MISSING" if info["weights_bytes"] is None else f"{info['weights_bytes'] / 1e6:.2f} MB"
    lines = [
        f"{info['folder']}",
        f"  base model:       {info['base_model']} ({info['model_type']})",
        f"  base fingerprint: {info['base_fingerprint']}",
        f"  saved by:         speechbrain-m4t-adapters {info['package_version']} "
        f"(format {info['format_version']})",
        f"  weights:          {WEIGHTS_NAME}, {size}",
        f"  parameters:       {_fmt_count(info['total_parameters'])} in {len(info['sets'])} set(s)",
    ]
    lines += [f"  {key + ':':<18}{value}" for key, value in info["extra"].items()]
    for name, s in info["sets"].items():
        lines.append(f"  set {name!r}: {s['kind']}, {_fmt_count(s['num_parameters'])} parameters")
        lines += [f"      {key}: {value}" for key, value in s["config"].items()]
        hosts = s["modules"] if show_modules else _compress(s["modules"])
        lines.append(f"      modules ({s['num_modules']}): {', '.join(hosts)}")
    if info["weights_bytes"] is None:
        lines.append(f"  WARNING: {Path(info['folder']) / WEIGHTS_NAME} is missing; {METADATA_NAME} alone")
    lines += [f"  PROBLEM: {problem}" for problem in info.get("problems", [])]
    if not info.get("problems"):
        lines.append("  health:           OK (weights match adapters.json)")
    return "\n".join(lines)


def _compress(paths: list[str]) -> list[str]:
    """``a.layers.0, a.layers.1`` -> ``a.layers.{0,1}``: placements at a glance.

    Example
    -------
    >>> _compress(["text_decoder.layers.0", "text_decoder.layers.1", "speech_encoder.adapter"])
    ['text_decoder.layers.{0,1}', 'speech_encoder.adapter']
    """
    groups: dict[str, list[str]] = {}
    for path in paths:
        head, _, tail = path.rpartition(".")
        if tail.isdigit():
            groups.setdefault(head, []).append(tail)
        else:
            groups.setdefault(path, [])
    return [f"{k}.{{{','.join(v)}}}" if v else k for k, v in groups.items()]
