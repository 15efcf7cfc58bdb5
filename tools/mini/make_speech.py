"""Synthetic speech and text pairs for pretraining the mini SeamlessM4T.

Real text, synthetic speech: espeak-ng (PyPI ``espeakng-loader``, which bundles
``libespeak-ng`` and its voices, called through ``ctypes``) reads FLORES-200
*dev* sentences cut into 2-4 word phrases, with a random voice variant,
speaking rate and pitch per clip, random silence around it and white noise at
a random SNR. FLORES devtest is never read. Every choice derives from the
spec's seed, so the same spec gives the same wavs on any machine with the same
espeak-ng build.

Output folder (not committed; re-made in minutes)::

    manifest.tsv     id, lang, split, wav, duration_s, sentence_id, voice, variant, rate, pitch, snr_db, text
    text.tsv         lang, sentence_id, split, text       (all 14 languages, dev only)
    text_pairs.tsv   sentence_id, src_lang, tgt_lang, src_text, tgt_text   (training sentences only)
    wavs/<lang>/<id>.wav   16 kHz mono PCM-16
    spec.yaml        the spec used

``split`` is ``train`` (dev sentence index < ``heldout_from``) or ``heldout``
(index >= ``heldout_from``: never trained on, neither as speech nor as text).
Maithili has no espeak-ng voice: its clips are the Hindi voice reading
Maithili text (manifest column ``voice`` says ``hi``).

Usage::

    OMP_NUM_THREADS=1 nice -n 19 python tools/mini/make_speech.py --out /work/mini_data
    python tools/mini/make_speech.py --out /tmp/hi --languages hin --limit 200
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf
import yaml

from speechbrain_m4t_adapters.data.synthetic import (  # the synthesis shared with the experiments' data
    SPEECH_SPEC,
    Espeak,
    clip_settings,
    cut_phrases,
    read_flores_dev,
    render_clip,
    seeded_rng,
    unreadable_reason,
)

SPEC = SPEECH_SPEC
DEFAULT_FLORES = Path(__file__).resolve().parents[3] / "shared" / "data" / "flores200"
MANIFEST_COLUMNS = (
    "id",
    "lang",
    "split",
    "wav",
    "duration_s",
    "sentence_id",
    "voice",
    "variant",
    "rate",
    "pitch",
    "snr_db",
    "text",
)


def load_spec(path: str | Path = SPEC) -> dict:
    """Read the YAML spec (``speechbrain_m4t_adapters/resources/mini/speech_spec.yaml``)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def read_flores(flores_dir: str | Path, code: str, split: str = "dev") -> list[str]:
    """Sentences of one FLORES-200 file (``dev`` only: devtest is the test text)."""
    if split != "dev":
        raise ValueError(f"only FLORES dev is used for the mini model, not {split!r}")
    return read_flores_dev(flores_dir, code)


def plan_clips(spec: dict, flores_dir: str | Path, languages: list[str] | None = None) -> list[dict]:
    """Deterministic list of clips to make (text and synthesis settings, no audio).

    Arguments
    ---------
    spec : dict
        From :func:`load_spec`.
    flores_dir : str or Path
        FLORES-200 folder with ``dev/``.
    languages : list of str, optional
        Subset of the spec's speech languages (default: all, targets included).

    Returns
    -------
    list of dict, one per clip, with the manifest's columns except ``wav``/``duration_s``.
    """
    table = {**spec["pretrain_speech"], **spec["target_speech"]}
    languages = list(table) if languages is None else languages
    unknown = [lang for lang in languages if lang not in table]
    if unknown:
        raise ValueError(f"languages {unknown} are not in the spec's speech languages {sorted(table)}")
    seed, cut = spec["seed"], spec["heldout_from"]
    low, high = spec["phrase_words"]
    clips = []
    for lang in languages:
        entry = table[lang]
        sentences = read_flores(flores_dir, entry["flores"], spec["split"])
        for split, ids in (("train", range(0, cut)), ("heldout", range(cut, len(sentences)))):
            rng = seeded_rng(seed, "phrases", lang, split)
            pool = [(i, p) for i in ids for p in cut_phrases(sentences[i], rng, low, high)]
            order = rng.permutation(len(pool))[: entry[split]]
            if len(order) < entry[split]:
                print(f"{lang}/{split}: only {len(order)} phrases for {entry[split]} asked", file=sys.stderr)
            for k, j in enumerate(order):
                sentence_id, text = pool[j]
                clip_rng = seeded_rng(seed, "clip", lang, split, k)
                clips.append(
                    {
                        "id": f"{lang}_{split}_{k:05d}",
                        "lang": lang,
                        "split": split,
                        "sentence_id": sentence_id,
                        "voice": entry["voice"],
                        **clip_settings(spec, clip_rng),
                        "text": text,
                    }
                )
    return clips


def _check_field(text: str, where: str) -> str:
    if "\t" in text or "\n" in text:
        raise ValueError(f"{where}: text holds a tab or newline")
    return text


def write_text_tables(spec: dict, flores_dir: str | Path, out: Path) -> tuple[int, int]:
    """Write ``text.tsv`` (all languages, dev) and ``text_pairs.tsv`` (training sentences only)."""
    texts = {
        lang: read_flores(flores_dir, code, spec["split"]) for lang, code in spec["text_languages"].items()
    }
    sizes = {len(v) for v in texts.values()}
    if len(sizes) != 1:
        raise ValueError(f"FLORES files differ in length: { {k: len(v) for k, v in texts.items()} }")
    count = sizes.pop()
    cut = spec["heldout_from"]
    with open(out / "text.tsv", "w", encoding="utf-8") as f:
        f.write("lang\tsentence_id\tsplit\ttext\n")
        for lang, lines in texts.items():
            for i, line in enumerate(lines):
                split = "train" if i < cut else "heldout"
                f.write(f"{lang}\t{i}\t{split}\t{_check_field(line, f'{lang} dev line {i + 1}')}\n")
    langs = list(texts)
    pairs = 0
    with open(out / "text_pairs.tsv", "w", encoding="utf-8") as f:
        f.write("sentence_id\tsrc_lang\ttgt_lang\tsrc_text\ttgt_text\n")
        for i in range(min(cut, count)):
            rng = seeded_rng(spec["seed"], "pairs", i)
            for _ in range(spec["text_pairs_per_sentence"]):
                src, tgt = rng.choice(len(langs), size=2, replace=False)
                f.write(f"{i}\t{langs[src]}\t{langs[tgt]}\t{texts[langs[src]][i]}\t{texts[langs[tgt]][i]}\n")
                pairs += 1
    return count, pairs


def make_speech(
    out: str | Path,
    spec: dict | None = None,
    flores_dir: str | Path = DEFAULT_FLORES,
    languages: list[str] | None = None,
    limit: int | None = None,
) -> Path:
    """Generate wavs, ``manifest.tsv`` and the text tables into ``out``.

    Arguments
    ---------
    out : str or Path
        Output folder (created).
    spec : dict, optional
        Default: ``speechbrain_m4t_adapters/resources/mini/speech_spec.yaml``.
    flores_dir : str or Path
        FLORES-200 folder.
    languages : list of str, optional
        Speech languages to make (default all in the spec).
    limit : int, optional
        At most this many clips per language and split (quick checks).

    Returns
    -------
    Path of ``manifest.tsv``.
    """
    spec = spec or load_spec()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.yaml").write_text(
        yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    write_text_tables(spec, flores_dir, out)
    clips = plan_clips(spec, flores_dir, languages)
    if limit is not None:
        seen: dict[tuple, int] = {}
        kept = []
        for clip in clips:
            key = (clip["lang"], clip["split"])
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= limit:
                kept.append(clip)
        clips = kept
    by_language: dict[str, list[dict]] = {}
    for clip in clips:
        by_language.setdefault(clip["lang"], []).append(clip)
    # espeak-ng keeps synthesis state (e.g. its pitch-flutter phase) across utterances, even
    # across espeak_Initialize: each language is rendered in a fresh process so that its clips
    # depend only on the spec, not on which languages were made before it.
    context = multiprocessing.get_context("spawn")
    rows, messages = [], []
    for lang, lang_clips in by_language.items():
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            lang_rows, lang_messages = pool.submit(render_language, str(out), spec, lang_clips).result()
        rows += lang_rows
        messages += lang_messages
        print(f"{lang}: {len(lang_rows)} clips", file=sys.stderr, flush=True)
    for message in messages:
        print(message, file=sys.stderr)
    if messages:
        print(f"skipped {len(messages)} of {len(clips)} clips (reasons above)", file=sys.stderr)
    manifest = out / "manifest.tsv"
    with open(manifest, "w", encoding="utf-8") as f:
        f.write("\t".join(MANIFEST_COLUMNS) + "\n")
        for row in rows:
            f.write("\t".join(str(row[c]) for c in MANIFEST_COLUMNS) + "\n")
    return manifest


def render_language(out: str, spec: dict, clips: list[dict]) -> tuple[list[dict], list[str]]:
    """Render and write planned clips in this process; return manifest rows and skip messages."""
    out = Path(out)
    tts = Espeak()
    rows, messages = [], []
    for clip in clips:
        wav = render_clip(tts, clip, spec)
        seconds = len(wav) / spec["sample_rate"]
        reason = unreadable_reason(seconds, clip["text"], spec)
        if reason is not None:
            messages.append(f"{clip['id']} (voice {clip['voice']!r}): {reason}; skipped")
            continue
        rel = Path("wavs") / clip["lang"] / f"{clip['id']}.wav"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(out / rel, wav, spec["sample_rate"], subtype="PCM_16")
        row = {**clip, "wav": str(rel), "duration_s": round(seconds, 3)}
        row["text"] = _check_field(row["text"], clip["id"])
        rows.append(row)
    return rows, messages


def read_tsv(path: str | Path) -> list[dict]:
    """Rows of a TSV with a header line (``manifest.tsv``, ``text.tsv``, ``text_pairs.tsv``), as strings."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise ValueError(f"{path}:{n}: {len(fields)} fields, expected {len(header)}")
        rows.append(dict(zip(header, fields)))
    return rows


def read_manifest(path: str | Path) -> list[dict]:
    """Rows of a ``manifest.tsv`` written by :func:`make_speech` (numbers parsed)."""
    rows = read_tsv(path)
    for row in rows:
        row["duration_s"] = float(row["duration_s"])
        row["sentence_id"] = int(row["sentence_id"])
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (not inside the repository)")
    parser.add_argument("--spec", default=str(SPEC), help="YAML spec")
    parser.add_argument("--flores", default=str(DEFAULT_FLORES), help="FLORES-200 folder (dev/ used)")
    parser.add_argument("--languages", nargs="*", help="speech languages to make (default: all)")
    parser.add_argument("--limit", type=int, help="at most N clips per language and split")
    args = parser.parse_args(argv)
    manifest = make_speech(args.out, load_spec(args.spec), args.flores, args.languages, args.limit)
    print(manifest)


if __name__ == "__main__":
    main()
