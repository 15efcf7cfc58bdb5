"""Per-file outcome of a batch transcription and the failure summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Transcription:
    """What happened to one input of :meth:`M4TAdaptedASR.transcribe_files`.

    ``id`` is the file stem or manifest ID; ``text`` is None and ``error`` says
    why (naming the file) when the input failed; ``lang`` is the language
    decoded into, ``duration`` the seconds transcribed, ``chunks`` the number of
    pieces the audio was cut into, ``adapters`` the active sets and
    ``reference`` the manifest's transcript.
    """

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
    failed = [r for r in results if not r.ok]
    if not failed:
        return ""
    lines = [f"{len(failed)} of {len(results)} input(s) failed:"]
    lines += [f"  {r.id}: {r.error}" for r in failed]
    return "\n".join(lines)
