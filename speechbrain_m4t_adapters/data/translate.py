"""Translations of ASR transcripts by the base model itself (text-to-text).

The paper's "translated transcript pairs" do not name their translation source and IndicVoices ships none. Our
choice: the base SeamlessM4T translates each transcript (language from the manifest) into ``tgt_lang``
(English) with batched beam search, writing, batch by batch, the headerless ``ID<TAB>translation`` TSV that
:func:`~.text.translated_transcript_pairs` reads. It is **resumable** (an interrupted run keeps its finished
lines, a torn last line dropped, and translates only what is missing) and **cached**: ``<tsv>.spec.json``
records the model, languages, search settings and a digest of the manifest's (ID, language, transcript) rows;
when it matches and every ID is present nothing is loaded or recomputed, when it differs the TSV is made
again. Whitespace runs in translations become single spaces (one TSV line each).
"""

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .languages import to_iso639_3
from .manifest import PathLike, read_asr_manifest
from .prepare import clean_transcript, read_rows

logger = logging.getLogger(__name__)

#: Search settings used when a YAML ``translation:`` block leaves them out.
DEFAULTS = {"num_beams": 4, "batch_size": 16, "max_new_tokens": 200, "device": None, "dtype": "float32"}


@dataclass
class TranslationResult:
    """What :func:`translate_transcripts` did: ``translated`` lines made now, ``reused`` from an
    earlier (maybe interrupted) run with the same spec, ``seconds`` translating (not loading)."""

    path: Path
    translated: int
    reused: int
    seconds: float

    @property
    def sentences_per_second(self) -> float:
        """Throughput of this call (0 when nothing was translated)."""
        return self.translated / self.seconds if self.seconds > 0 else 0.0


def spec_path(save_tsv: PathLike) -> Path:
    """The spec record of a translations TSV: ``x.tsv -> x.tsv.spec.json``."""
    return Path(str(save_tsv) + ".spec.json")


def _resume(save_tsv: Path, spec: dict, overwrite: bool, wanted: set[str]) -> dict[str, str]:
    """Complete lines an earlier run with the same ``spec`` made (the file is rewritten without a torn
    last line); otherwise ``save_tsv`` is started afresh."""
    record = spec_path(save_tsv)
    text = json.dumps(spec, sort_keys=True, indent=1)
    if overwrite or not record.is_file() or record.read_text(encoding="utf-8") != text:
        save_tsv.parent.mkdir(parents=True, exist_ok=True)
        save_tsv.write_text("", encoding="utf-8")
        record.write_text(text, encoding="utf-8")
        return {}
    if not save_tsv.is_file():
        return {}
    raw = save_tsv.read_text(encoding="utf-8")
    complete = raw if raw.endswith("\n") else raw[: raw.rfind("\n") + 1]
    done = {row[0]: row[1] for _, row in read_rows(save_tsv, "\t") if len(row) == 2 and row[0] in wanted}
    if complete != raw:
        save_tsv.write_text(complete, encoding="utf-8")
        done.pop(raw[len(complete) :].split("\t", 1)[0], None)  # the torn line's ID
    return done


def translate_transcripts(
    asr_manifest: PathLike,
    save_tsv: PathLike,
    model_source: str | None = None,
    model=None,
    tgt_lang: str = "eng",
    num_beams: int = 4,
    batch_size: int = 16,
    max_new_tokens: int = 200,
    device: str | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
) -> TranslationResult:
    """Translate every transcript of an ASR manifest into ``tgt_lang`` with the base model, to ``save_tsv``.

    ``model_source`` (hub id or folder, loaded with ``dtype`` on ``device``, default CUDA if available)
    is loaded only when something is left to translate; a loaded ``model`` lobe is named in the spec by
    its ``source`` and has its adapters off meanwhile (the *base* translates). Batches of ``batch_size``
    are sorted by length; ``overwrite`` translates everything again even if the spec matches.

    Example
    -------
    >>> from speechbrain_m4t_adapters.tiny import build_tiny_model
    >>> from speechbrain_m4t_adapters.data import AsrEntry, write_asr_manifest
    >>> import tempfile, os
    >>> tmp = tempfile.mkdtemp()
    >>> folder = build_tiny_model(os.path.join(tmp, "m"), "v2", vocab_size=400)
    >>> _ = write_asr_manifest([AsrEntry("u1", 1.0, "/a.wav", "ben", "আমি ভাত খাই")], tmp + "/m.csv")
    >>> search = dict(num_beams=2, max_new_tokens=4)
    >>> r = translate_transcripts(tmp + "/m.csv", tmp + "/t.tsv", folder, **search)
    >>> r.translated, translate_transcripts(tmp + "/m.csv", tmp + "/t.tsv", folder, **search).reused
    (1, 1)
    """
    if model is None and model_source is None:
        raise ValueError("give model_source or model")
    save_tsv = Path(save_tsv)
    entries = read_asr_manifest(asr_manifest)
    tgt = to_iso639_3(tgt_lang)
    digest = hashlib.sha256("".join(f"{e.id}\t{e.language}\t{e.transcript}\n" for e in entries).encode())
    search = {"num_beams": int(num_beams), "max_new_tokens": int(max_new_tokens)}
    spec = {"model_source": str(model.source if model is not None else model_source), "tgt_lang": tgt}
    spec.update(search, manifest=digest.hexdigest())
    done = _resume(save_tsv, spec, overwrite, {e.id for e in entries})
    todo = [e for e in entries if e.id not in done]
    if not todo:
        logger.info("%s: %d translations reused (spec unchanged)", save_tsv, len(done))
        return TranslationResult(save_tsv, 0, len(done), 0.0)
    m4t = model if model is not None else _load(model_source, device, dtype)
    start = time.perf_counter()
    from ..model.decoding import translate  # torch only once there is work

    # Longest first: an out-of-memory batch shows up at once, and similar lengths share a batch.
    todo.sort(key=lambda e: (-len(e.transcript), e.id))
    with _base_model(m4t), open(save_tsv, "a", encoding="utf-8", newline="") as out:
        for i in range(0, len(todo), batch_size):
            batch = todo[i : i + batch_size]
            hyps = translate(m4t, [e.transcript for e in batch], [e.language for e in batch], tgt, **search)
            out.write("".join(f"{e.id}\t{clean_transcript(h)}\n" for e, h in zip(batch, hyps)))
            out.flush()  # a kill loses at most the batch in flight
    result = TranslationResult(save_tsv, len(todo), len(done), time.perf_counter() - start)
    speed = f"{result.seconds:.1f} s ({result.sentences_per_second:.2f} sentences/s)"
    message = "%s: translated %d transcripts into %s in %s, %d reused"
    logger.info(message, save_tsv, len(todo), tgt, speed, len(done))
    return result


@contextmanager
def _base_model(m4t) -> Iterator[None]:
    """Evaluation mode with every adapter set off (the base model translates), restored afterwards."""
    active, was_training = list(m4t.adapters.active), m4t.training
    m4t.adapters.set_active([])
    m4t.eval()
    try:
        yield
    finally:
        m4t.adapters.set_active(active)
        m4t.train(was_training)


def _load(model_source: str, device: str | None, dtype: str):
    import torch

    from ..lobe import SeamlessM4T

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return SeamlessM4T(model_source, dtype=dtype).to(device)


def translate_with(asr_manifest: PathLike, save_tsv: PathLike, tgt_lang: str, options: Mapping | None):
    """:func:`translate_transcripts` with a YAML ``translation:`` block (see ``hparams/base.yaml``)."""
    opts = {**DEFAULTS, **dict(options or {})}
    if unknown := sorted(set(opts) - set(DEFAULTS) - {"model_source"}):
        raise ValueError(f"translation: unknown keys {unknown}; known: {sorted(DEFAULTS) + ['model_source']}")
    if not opts.get("model_source"):
        raise ValueError("translation: needs model_source (the base model that translates the transcripts)")
    return translate_transcripts(asr_manifest, save_tsv, tgt_lang=tgt_lang, **opts)
