"""Scoring and reporting: normalisation, WER/CER, summaries, result tables."""

from .metrics import compute_error_rates, write_alignments
from .normalize import normalize_text
from .report import build_report, collect_summaries
from .summary import SummaryError, read_summary, validate_summary, write_summary

__all__ = [
    "SummaryError",
    "build_report",
    "collect_summaries",
    "compute_error_rates",
    "normalize_text",
    "read_summary",
    "validate_summary",
    "write_alignments",
    "write_summary",
]
