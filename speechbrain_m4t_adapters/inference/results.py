"""Per-file outcome of a batch transcription, the failure summary and TSV output."""

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Transcription:
    """What happened to one input of :meth:`M4TAdaptedASR.transcribe_files`.

    ``id`` is the file stem or manifest ID; ``text`` is None and ``error`` says why (naming the
    file) when the input failed; ``lang`` is the language decoded into, ``duration`` the seconds
    transcribed, ``chunks`` the pieces the audio was cut into, ``adapters`` the active sets and
    ``reference`` the manifest's transcript."""

    id: str
    path: str
    text: str | None = None
    lang: str | None = None
    error: str | None = None
    duration: float | None = None
    chunks: int = 0
    adapters: list[str] = field(default_factory=list)
    reference: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a transcript was produced."""
        return self.error is None and self.text is not None


def failure_report(results: Sequence[Transcription]) -> str:
    """Multi-line summary of the failed inputs (empty string if none failed).

    Example
    -------
    >>> ok = Transcription("a", "a.wav", text="hi")
    >>> bad = Transcription("b", "b.wav", error="missing_audio: b.wav: no such file")
    >>> print(failure_report([ok, bad]))
    1 of 2 input(s) failed:
      b: missing_audio: b.wav: no such file
    """
    if not (failed := [r for r in results if not r.ok]):
        return ""
    lines = [f"{len(failed)} of {len(results)} input(s) failed:", *(f"  {r.id}: {r.error}" for r in failed)]
    return "\n".join(lines)


def write_tsv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write ``header`` and ``rows`` as a UTF-8 TSV file (its folder made if needed); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
