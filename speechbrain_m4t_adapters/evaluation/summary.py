"""Machine-readable experiment summary (``summary.json``), one per experiment (recipes write it,
:mod:`.report` collects them), in UTF-8 JSON::

    {
      "experiment": "odia_encoder",            # non-empty str
      "model_source": "facebook/seamless-m4t-v2-large",
      "trainable_params": 6000000, "total_params": 972000000,  # ints, 0 <= trainable <= total
      "train_time_s": 123.4,                   # number >= 0, or null (no training)
      "test_sets": {"odia_test": {"language": "ory", "wer": 32.0, "cer": 12.1, "num_utterances": 100}},
      "forgetting": {                          # optional: forgetting_sets decoded with adapters on/off
        "hindi": {"language": "hin", "num_utterances": 50, "wer": 30.5, "cer": 11.0, "base_wer": 30.0,
                  "base_cer": 10.8, "delta_wer": 0.5, "delta_cer": 0.2}  # base_*/delta_* may be null
      },
      "package_version": "0.1.0", "created": "2025-01-01T12:00:00+00:00",  # ISO 8601, UTC
      "extra": {...}                           # optional, free-form
    }

A test set may hold any other metric; base_*/delta_* are null when there was nothing to switch off.
"""

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..version import __version__

SUMMARY_FILENAME = "summary.json"


class SummaryError(ValueError):
    """A summary file is missing a field or has a field of the wrong type."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _bad(source: str, field: str, why: str) -> SummaryError:
    return SummaryError(f"{source}: field '{field}' {why}")


#: The fields of each part of a summary: name -> (check, what it asks for).
_TOP_LEVEL = {
    "experiment": (lambda v: isinstance(v, str) and v.strip(), "a non-empty string"),
    "model_source": (lambda v: isinstance(v, str), "a string"),
    "trainable_params": (_is_count, "an integer >= 0"),
    "total_params": (_is_count, "an integer >= 0"),
    "train_time_s": (lambda v: v is None or (_is_number(v) and v >= 0), "a number >= 0 or null"),
    "test_sets": (lambda v: isinstance(v, dict) and v, "a non-empty object"),
}
_TEST_SET = {
    "language": (lambda v: isinstance(v, str) and v, "a non-empty string"),
    **dict.fromkeys(("wer", "cer"), (lambda v: _is_number(v) and v >= 0, "a number >= 0")),
    "num_utterances": (_is_count, "an integer >= 0"),
}
_BASELINE_FIELDS = ("base_wer", "base_cer", "delta_wer", "delta_cer")  # null: nothing to switch off
_FORGETTING = {  # None: only required
    "language": None,
    "num_utterances": None,
    **dict.fromkeys(("wer", "cer"), (_is_number, "a number")),
    **dict.fromkeys(_BASELINE_FIELDS, (lambda v: v is None or _is_number(v), "a number or null")),
}
#: Fields of one ``forgetting`` entry (see the module docstring).
FORGETTING_FIELDS = tuple(_FORGETTING)


def _check_fields(source: str, name: str, entry: Any, fields: dict) -> None:
    """``entry`` (called ``name``, "" at the top level) is an object whose ``fields`` pass their check."""
    if not isinstance(entry, dict):
        raise _bad(source, name, "must be an object")
    for field, check in fields.items():
        path = f"{name}.{field}" if name else field
        if field not in entry:
            raise _bad(source, path, "is missing")
        if check and not check[0](entry[field]):
            raise _bad(source, path, f"must be {check[1]}, got {entry[field]!r}")


def validate_summary(data: Any, source: str = "<summary>") -> dict:
    """Check the structure described in the module docstring; returns ``data``, else raises
    :class:`SummaryError` naming ``source`` (the file) and the missing or bad field."""
    if not isinstance(data, dict):
        raise SummaryError(f"{source}: top level must be a JSON object")
    _check_fields(source, "", data, _TOP_LEVEL)
    if data["trainable_params"] > data["total_params"]:
        raise _bad(source, "trainable_params", "exceeds total_params")
    for part, fields in (("test_sets", _TEST_SET), ("forgetting", _FORGETTING)):
        if not isinstance(section := data.get(part, {}), dict):
            raise _bad(source, part, "must be an object")
        for name, entry in section.items():
            _check_fields(source, f"{part}.{name}", entry, fields)
    return data


def forgetting_entry(adapted: dict, base: dict | None) -> dict:
    """One ``forgetting`` entry from the metrics with adapters on and off (``delta_*`` = adapted - base,
    in points: positive = the adaptation made this language worse).

    Example
    -------
    >>> on = {"language": "hin", "wer": 31.0, "cer": 11.5, "num_utterances": 50}
    >>> off = {"language": "hin", "wer": 30.0, "cer": 11.0, "num_utterances": 50}
    >>> entry = forgetting_entry(on, off)
    >>> entry["delta_wer"], entry["delta_cer"]
    (1.0, 0.5)
    >>> forgetting_entry(on, None)["delta_wer"] is None
    True
    """
    entry = {key: adapted[key] for key in FORGETTING_FIELDS[:4]}
    for metric in ("wer", "cer"):
        entry[f"base_{metric}"] = None if base is None else base[metric]
        entry[f"delta_{metric}"] = None if base is None else round(adapted[metric] - base[metric], 6)
    return entry


def verdict_line(name: str, entry: dict) -> str:
    """One line saying whether the adapted model beats the base on a test set (``entry``: its
    :func:`forgetting_entry`), judged on CER, stabler on short utterances ("clearly": >= 5 points).

    Example
    -------
    >>> on = {"language": "ory", "wer": 71.0, "cer": 30.5, "num_utterances": 150}
    >>> off = {"language": "ory", "wer": 100.0, "cer": 92.0, "num_utterances": 150}
    >>> for part in verdict_line("held_out", forgetting_entry(on, off)).split(", "):
    ...     print(part)
    held_out (ory
    150 utterances): adapted model CLEARLY BETTER than the base
    CER 92.00% -> 30.50% (-61.50 points)
    WER 100.00% -> 71.00% (-29.00)
    """
    dc, dw = entry["delta_cer"], entry["delta_wer"]
    if dc < 0.0:
        word = "CLEARLY BETTER than" if dc <= -5.0 else "slightly better than"
    else:
        word = "EQUAL to" if dc == 0.0 else "WORSE than"
    return (
        f"{name} ({entry['language']}, {entry['num_utterances']} utterances): adapted model {word} the base, "
        f"CER {entry['base_cer']:.2f}% -> {entry['cer']:.2f}% ({dc:+.2f} points), "
        f"WER {entry['base_wer']:.2f}% -> {entry['wer']:.2f}% ({dw:+.2f})"
    )


def write_summary(
    path: str | Path,
    experiment: str,
    test_sets: dict[str, dict],
    model_source: str,
    trainable_params: int,
    total_params: int,
    train_time_s: float | None,
    extra: dict | None = None,
    forgetting: dict | None = None,
) -> dict:
    """Validate and write an experiment summary to ``path`` (conventionally ``<output_folder>/summary.json``).

    Fields as in the module docstring: ``test_sets`` maps names to :func:`~.metrics.compute_error_rates`
    output plus ``language``, ``train_time_s`` is None for evaluation-only runs, ``forgetting`` maps
    names to :func:`forgetting_entry` results. Returns the written data.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "summary.json")
    >>> metrics = {"language": "ory", "wer": 32.0, "cer": 12.1, "num_utterances": 100}
    >>> _ = write_summary(path, "odia_encoder", {"odia_test": metrics},
    ...                   "m4t-v2", 6_000_000, 972_000_000, 123.4)
    >>> read_summary(path)["test_sets"]["odia_test"]["wer"]
    32.0
    """
    data = {
        "experiment": experiment,
        "model_source": model_source,
        "trainable_params": int(trainable_params),
        "total_params": int(total_params),
        "train_time_s": None if train_time_s is None else float(train_time_s),
        "test_sets": test_sets,
        "package_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if forgetting:
        data["forgetting"] = forgetting
    if extra is not None:
        data["extra"] = extra
    path = Path(path)
    validate_summary(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def read_summary(path: str | Path) -> dict:
    """Read and validate a summary of :func:`write_summary`; :class:`SummaryError` if missing or bad."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SummaryError(f"{path}: summary file not found") from exc
    except ValueError as exc:
        raise SummaryError(f"{path}: invalid JSON ({exc})") from exc
    return validate_summary(data, str(path))


def finished_summary(path: str | Path, test_sets: list[str], epochs: int) -> dict | None:
    """The summary of a run that already decoded ``test_sets`` after ``epochs`` epochs, else None
    (a finished experiment run again does not decode them again).

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / SUMMARY_FILENAME
    >>> result = {"language": "ben", "wer": 0.5, "cer": 0.2, "num_utterances": 3}
    >>> _ = write_summary(path, "e", {"t": result}, "m", 1, 10, None,
    ...                   extra={"epochs_trained": 2})
    >>> finished_summary(path, ["t"], 2)["experiment"], finished_summary(path, ["t"], 3)
    ('e', None)
    """
    try:
        summary = read_summary(path)
    except (OSError, ValueError):  # missing or unreadable: decode
        return None
    same_sets = sorted(summary["test_sets"]) == sorted(test_sets)
    return summary if same_sets and summary.get("extra", {}).get("epochs_trained") == epochs else None
