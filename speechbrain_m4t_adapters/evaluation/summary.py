"""Machine-readable experiment summary (``summary.json``).

Recipes write one summary per experiment; :mod:`.report` collects them.
Format (UTF-8 JSON)::

    {
      "experiment": "odia_encoder",            # non-empty str
      "model_source": "facebook/seamless-m4t-v2-large",   # str
      "trainable_params": 6000000,             # int >= 0
      "total_params": 972000000,               # int >= trainable_params
      "train_time_s": 123.4,                   # number >= 0, or null (no training)
      "test_sets": {                           # non-empty
        "odia_test": {"language": "ory", "wer": 32.0, "cer": 12.1,
                      "num_utterances": 100, ...any other metric...}
      },
      "package_version": "0.1.0",
      "created": "2025-01-01T12:00:00+00:00",  # ISO 8601, UTC
      "extra": {...}                           # optional, free-form
    }
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
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


def validate_summary(data: Any, source: str = "<summary>") -> dict:
    """Check the structure described in the module docstring.

    Arguments
    ---------
    data : object
        Parsed JSON.
    source : str
        File name used in error messages.

    Returns
    -------
    dict
        ``data`` itself.

    Raises
    ------
    SummaryError
        Naming ``source`` and the missing or bad field.
    """

    def bad(field: str, why: str) -> SummaryError:
        """The error for a bad field."""
        return SummaryError(f"{source}: field '{field}' {why}")

    if not isinstance(data, dict):
        raise SummaryError(f"{source}: top level must be a JSON object")
    checks = {
        "experiment": (
            lambda v: isinstance(v, str) and v.strip(),
            "a non-empty string",
        ),
        "model_source": (lambda v: isinstance(v, str), "a string"),
        "trainable_params": (_is_count, "an integer >= 0"),
        "total_params": (_is_count, "an integer >= 0"),
        "train_time_s": (
            lambda v: v is None or (_is_number(v) and v >= 0),
            "a number >= 0 or null",
        ),
        "test_sets": (lambda v: isinstance(v, dict) and v, "a non-empty object"),
    }
    for field, (ok, what) in checks.items():
        if field not in data:
            raise bad(field, "is missing")
        if not ok(data[field]):
            raise bad(field, f"must be {what}, got {data[field]!r}")
    if data["trainable_params"] > data["total_params"]:
        raise bad("trainable_params", "exceeds total_params")
    for name, metrics in data["test_sets"].items():
        prefix = f"test_sets.{name}"
        if not isinstance(metrics, dict):
            raise bad(prefix, "must be an object")
        for field in ("language", "wer", "cer", "num_utterances"):
            if field not in metrics:
                raise bad(f"{prefix}.{field}", "is missing")
        if not isinstance(metrics["language"], str) or not metrics["language"]:
            raise bad(f"{prefix}.language", "must be a non-empty string")
        for field in ("wer", "cer"):
            if not _is_number(metrics[field]) or metrics[field] < 0:
                raise bad(
                    f"{prefix}.{field}",
                    f"must be a number >= 0, got {metrics[field]!r}",
                )
        if not _is_count(metrics["num_utterances"]):
            raise bad(f"{prefix}.num_utterances", "must be an integer >= 0")
    return data


def write_summary(
    path: str | Path,
    experiment: str,
    test_sets: dict[str, dict],
    model_source: str,
    trainable_params: int,
    total_params: int,
    train_time_s: float | None,
    extra: dict | None = None,
) -> dict:
    """Validate and write an experiment summary.

    Arguments
    ---------
    path : path-like
        Output file (conventionally ``<output_folder>/summary.json``).
    experiment : str
        Experiment name (table column in the report).
    test_sets : dict
        ``{test_set_name: metrics}``; each metrics dict needs ``language``,
        ``wer``, ``cer``, ``num_utterances`` (e.g. the output of
        :func:`~.metrics.compute_error_rates` plus ``language``).
    model_source : str
        Base model identifier or path.
    trainable_params, total_params : int
        Parameter counts.
    train_time_s : float or None
        Training wall-clock time; None for evaluation-only runs.
    extra : dict, optional
        Free-form JSON-serialisable details (hyperparameters, seed, ...).

    Returns
    -------
    dict
        The written data.

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
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if extra is not None:
        data["extra"] = extra
    path = Path(path)
    validate_summary(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def read_summary(path: str | Path) -> dict:
    """Read and validate a summary written by :func:`write_summary`.

    Raises
    ------
    SummaryError
        If the file is missing, is not valid JSON, or fails validation.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SummaryError(f"{path}: summary file not found") from exc
    except ValueError as exc:
        raise SummaryError(f"{path}: invalid JSON ({exc})") from exc
    return validate_summary(data, str(path))
