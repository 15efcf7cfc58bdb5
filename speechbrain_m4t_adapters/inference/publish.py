"""Make a saved adapter folder publishable: ``hyperparams.yaml`` (so ``M4TAdaptedASR.from_hparams``
loads base + adapters from the folder or its hub copy) and ``README.md``, a model card."""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..adapters.integrity import load_metadata as read_metadata
from .profiles import safe_name

HPARAMS_NAME = "hyperparams.yaml"
CARD_NAME = "README.md"
#: The example hyperparameter file shipped with the package.
HPARAMS_TEMPLATE = Path(__file__).resolve().parent / "hparams" / "inference.yaml"


def _set_key(text: str, key: str, value: str) -> str:
    """Replace the value of top-level ``key:``, keeping its comment (``value`` "\n...": a block)."""
    pattern = re.compile(rf"^{re.escape(key)}:[^#\n]*(?P<comment>[ \t]+#[^\n]*)?$", re.M)
    if (match := pattern.search(text)) is None:
        raise ValueError(f"{HPARAMS_TEMPLATE}: top-level key {key!r} not found (publish.py expects it)")
    comment = f"  {match['comment'].strip()}" if match["comment"] else ""
    line = f"{key}:{comment}{value}" if value.startswith("\n") else f"{key}: {value}{comment}"
    return text[: match.start()] + line + text[match.end() :]


def profile_name(metadata: Mapping[str, Any]) -> str:
    """Name of the profile the folder becomes (experiment, else language, else ``adapters``).

    Example
    -------
    >>> profile_name({"experiment": "odia encoder/1"}), profile_name({"language": "ory"}), profile_name({})
    ('odia_encoder_1', 'ory', 'adapters')
    """
    return safe_name(str(metadata.get("experiment") or metadata.get("language") or "adapters"))


def inference_hparams(metadata: Mapping[str, Any]) -> str:
    """Text of the folder's ``hyperparams.yaml`` (the inference template, filled in).

    Example
    -------
    >>> text = inference_hparams({"base_model": "facebook/seamless-m4t-v2-large", "language": "ory"})
    >>> lines = text.splitlines()
    >>> lines[lines.index("adapter_folders:") + 1]
    '    ory: !ref <model_dir>'
    >>> [line[:20] for line in lines if line.startswith("default_lang")]
    ['default_lang: "ory" ']
    """
    decoding = metadata.get("decoding") or {}  # decode as the training run's test sets were
    values = {
        "base_model": metadata.get("base_model") or "facebook/seamless-m4t-v2-large",
        "base_revision": metadata.get("base_revision"),
        "default_lang": metadata.get("language"),
        "num_beams": decoding.get("num_beams") or 1,
        "max_new_tokens": decoding.get("max_new_tokens"),
    }
    text = HPARAMS_TEMPLATE.read_text(encoding="utf-8")
    text = _set_key(text, "adapter_folders", f"\n    {profile_name(metadata)}: !ref <model_dir>")
    for key, value in values.items():  # YAML flow scalars: JSON is valid YAML (null for None)
        text = _set_key(text, key, json.dumps(value, ensure_ascii=False))
    return text


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "" if value is None else str(value)


def describe_training_data(hparams: Mapping[str, Any]) -> list[str]:
    """One line per training/validation data set of an experiment's hyperparameters, without paths.

    Example
    -------
    >>> describe_training_data({"mode": "asr", "datasets": {"train": {"corpus": "indicvoices",
    ...     "data_folder": "/d", "language": "ory", "hours": 5}}})
    ['train: corpus=indicvoices, language=ory, hours=5']
    """
    mode, lines = hparams.get("mode"), []
    # Text-only runs read speech sets only as transcript sources.
    sections = [] if mode == "text" else [("", hparams.get("datasets") or {})]
    if mode in ("text", "mixed"):
        sections.append(("text ", hparams.get("text_corpus") or {}))
    for prefix, specs in sections:
        for key, spec in specs.items():
            if not isinstance(spec, Mapping):
                continue
            plain = {k: v for k, v in spec.items() if isinstance(v, (str, int, float)) and "/" not in str(v)}
            fields = [f"{k}={v}" for k, v in plain.items() if "folder" not in k and "path" not in k]
            lines.append(f"{prefix}{key}: {', '.join(fields)}")
    return lines


def _results_table(tests: Mapping[str, Any]) -> list[str]:
    """Markdown rows of a summary's test sets (or a line saying there are none)."""
    if not tests:
        return ["No results recorded with these adapters."]
    rows = ["| test set | language | WER | CER | utterances | normaliser |", "|---|---|---:|---:|---:|---|"]
    for name, row in tests.items():
        cells = [row.get(k) for k in ("language", "wer", "cer", "num_utterances", "normalizer")]
        rows.append(f"| {name} | " + " | ".join(_fmt(c) for c in cells) + " |")
    return rows


def model_card(metadata: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> str:
    """Markdown model card with Hugging Face front matter, from ``adapters.json`` content and an
    experiment's optional ``summary.json`` (its test sets become the results table).

    Example
    -------
    >>> meta = {"base_model": "facebook/hf-seamless-m4t-medium", "language": "ory",
    ...         "sets": {"enc": {"config": {"kind": "bottleneck", "bottleneck": 256},
    ...                          "num_parameters": 6000000, "modules": ["a", "b"]}}}
    >>> card = model_card(meta, {"test_sets": {"odia": {"language": "ory", "wer": 30.0, "cer": 9.5}}})
    >>> "base_model: facebook/hf-seamless-m4t-medium" in card, "| enc | bottleneck | 6,000,000 |" in card
    (True, True)
    >>> "| odia | ory | 30.00 | 9.50 |" in card
    True
    """
    base = metadata.get("base_model") or "?"
    revision = metadata.get("base_revision")
    tests = (summary or {}).get("test_sets") or {}
    languages = sorted({str(t["language"]) for t in [*tests.values(), metadata] if t.get("language")})
    sets = metadata.get("sets") or {}
    kinds = sorted({info["config"]["kind"] for info in sets.values()})
    front = ["---", "library_name: speechbrain", "pipeline_tag: automatic-speech-recognition"]
    if "/" in base and not Path(base).exists():  # hub ids only, never a local path
        front.append(f"base_model: {base}")
    if languages:
        front += ["language:"] + [f"- {lang}" for lang in languages]
    front += ["tags:", "- speechbrain", "- seamless_m4t", "- adapters"] + [f"- {k}" for k in kinds] + ["---"]
    title = metadata.get("experiment") or profile_name(metadata)
    lines = front + [
        "",
        f"# {title}: SeamlessM4T adapters for {', '.join(languages) or 'speech recognition'}",
        "",
        "Adapters trained with the `speechbrain-m4t-adapters` SpeechBrain plugin "
        "on a frozen SeamlessM4T base. Only the adapters are stored here; the base model is "
        "downloaded from its own repository.",
        "",
        f"- **Base model:** `{base}`" + (f" (revision `{revision}`)" if revision else ""),
        f"- **Base architecture fingerprint:** `{metadata.get('base_fingerprint', '?')}` "
        f"({metadata.get('model_type') or '?'})",
        f"- **Languages:** {', '.join(languages) or 'not recorded'}",
        f"- **Package version:** {metadata.get('package_version', '?')}",
        "",
        "## Adapters",
        "",
        "| set | kind | parameters | modules | configuration |",
        "|---|---|---:|---:|---|",
    ]
    for name, info in sets.items():
        config = ", ".join(f"{k}={v}" for k, v in info["config"].items() if k != "kind")
        size, hosts = info.get("num_parameters", 0), len(info.get("modules", []))
        lines.append(f"| {name} | {info['config']['kind']} | {size:,} | {hosts} | {config} |")
    lines += ["", "## Training data", ""]
    data = metadata.get("training_data") or []
    lines += [f"- {line}" for line in data] if data else ["Not recorded."]
    lines += ["", "## Results", ""] + _results_table(tests)
    lang_arg = f", lang={languages[0]!r}" if languages else ""
    lines += ["", "## Usage", "", "```python", "from speechbrain_m4t_adapters.inference import M4TAdaptedASR"]
    lines += ["", 'asr = M4TAdaptedASR.from_hparams(source="<this repository or folder>")']
    lines += [f'print(asr.transcribe_file("clip.wav"{lang_arg}))', "```", ""]
    return "\n".join(lines)


def publish_adapters(
    folder: str | Path, metadata: Mapping[str, Any] | None = None, summary: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write ``hyperparams.yaml`` and ``README.md`` into a ``save_adapters`` folder; returns their paths.

    ``metadata`` defaults to the folder's ``adapters.json``, ``summary`` to the ``summary.json``
    in the folder or its parent (an experiment's ``<output_folder>/adapters``), when present."""
    folder = Path(folder)
    if metadata is None:
        metadata = read_metadata(folder)
    if summary is None:
        found = [f for f in (folder / "summary.json", folder.parent / "summary.json") if f.is_file()]
        summary = json.loads(found[0].read_text(encoding="utf-8")) if found else None
    (folder / HPARAMS_NAME).write_text(inference_hparams(metadata), encoding="utf-8")
    (folder / CARD_NAME).write_text(model_card(metadata, summary), encoding="utf-8")
    return [folder / HPARAMS_NAME, folder / CARD_NAME]


__all__ = ["describe_training_data", "inference_hparams", "model_card", "profile_name", "publish_adapters"]
