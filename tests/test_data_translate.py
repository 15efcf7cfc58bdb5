"""Machine translation of transcripts by the base model: format, resumability, caching (never quality)."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechbrain_m4t_adapters.cli import main
from speechbrain_m4t_adapters.data import AsrEntry, read_text_manifest, write_asr_manifest
from speechbrain_m4t_adapters.data import translate as mt
from speechbrain_m4t_adapters.data.prepare import read_rows
from speechbrain_m4t_adapters.data.text import machine_translations_path, translated_transcript_pairs

REAL = Path(__file__).parent / "fixtures" / "real"
SEARCH = {"num_beams": 2, "batch_size": 4, "max_new_tokens": 5}


def write_manifest(path: Path, languages=(("bn", "ben"), ("mt", "mai"))) -> Path:
    rows = []
    for folder, lang in languages:
        for line in (REAL / "respin" / folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
            utt, text = line.split("\t", 1)
            rows.append(AsrEntry(utt, 1.0, f"/x/{utt}.wav", lang, text))
    write_asr_manifest(rows, path)
    return path


@pytest.fixture()
def manifest(tmp_path) -> Path:
    """The 12 shipped RESPIN transcripts (Bengali and Maithili) as an ASR manifest."""
    return write_manifest(tmp_path / "train.csv")


def tsv_rows(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(line.count("\t") == 1 for line in lines), lines
    rows = dict(line.split("\t") for line in lines)
    assert len(rows) == len(lines)  # no ID twice
    return rows


def test_format_and_cache(manifest, tmp_path, tiny_v2, monkeypatch):
    out = tmp_path / "train.eng.tsv"
    result = mt.translate_transcripts(manifest, out, str(tiny_v2), **SEARCH)
    ids = {r[0] for _, r in read_rows(manifest, ",")} - {"ID"}
    assert result.translated == 12 and result.reused == 0 and result.sentences_per_second > 0
    assert set(tsv_rows(out)) == ids
    assert mt.spec_path(out).is_file()
    before = out.read_bytes()

    # Same spec: nothing is loaded or translated again.
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded when every translation is cached")

    monkeypatch.setattr(mt, "_load", no_model)
    again = mt.translate_transcripts(manifest, out, str(tiny_v2), **SEARCH)
    assert (again.translated, again.reused) == (0, 12) and out.read_bytes() == before
    monkeypatch.undo()

    # A changed spec (beam size) makes the file again from scratch.
    remade = mt.translate_transcripts(manifest, out, str(tiny_v2), **dict(SEARCH, num_beams=1))
    assert (remade.translated, remade.reused) == (12, 0) and set(tsv_rows(out)) == ids


def test_resumes_after_interruption_without_duplicates(manifest, tmp_path, tiny_v2, monkeypatch):
    from speechbrain_m4t_adapters import SeamlessM4T
    from speechbrain_m4t_adapters.adapters import BottleneckConfig
    from speechbrain_m4t_adapters.model import decoding

    m4t = SeamlessM4T(tiny_v2, adapters={"dec": BottleneckConfig(bottleneck=4, targets=["text_decoder"])})
    real_translate, calls, active_seen = decoding.translate, [], []

    def flaky(*args, **kwargs):
        calls.append(1)
        active_seen.append(list(m4t.adapters.active))
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed during the second batch
        return real_translate(*args, **kwargs)

    monkeypatch.setattr(decoding, "translate", flaky)
    out = tmp_path / "t.tsv"
    with pytest.raises(KeyboardInterrupt):
        mt.translate_transcripts(manifest, out, model=m4t, **SEARCH)
    assert len(tsv_rows(out)) == 4  # the first batch survived
    assert active_seen == [[], []] and m4t.adapters.active == ["dec"]  # base translates, adapters restored
    # A torn last line (killed mid-write) is dropped and redone.
    first = next(iter(tsv_rows(out)))
    with open(out, "a", encoding="utf-8") as f:
        f.write("IISc_torn_id\tpartial")
    monkeypatch.setattr(decoding, "translate", real_translate)
    resumed = mt.translate_transcripts(manifest, out, model=m4t, **SEARCH)
    assert (resumed.translated, resumed.reused) == (8, 4)
    rows = tsv_rows(out)
    assert len(rows) == 12 and first in rows and "IISc_torn_id" not in rows


def test_pairs_without_translations_file_use_the_model(tmp_path, tiny_v1):
    manifest = write_manifest(tmp_path / "bn.csv", [("bn", "ben")])
    out = tmp_path / "text_train.csv"
    translation = dict(SEARCH, model_source=str(tiny_v1))
    report = translated_transcript_pairs(manifest, None, out, src_lang="eng", translation=translation)
    cache = machine_translations_path(manifest, "eng")
    assert cache.name == "bn.mt.eng.tsv" and len(tsv_rows(cache)) == 6
    pairs = read_text_manifest(out) if report.kept else []
    assert report.kept + report.counts.get("empty_source", 0) == 6  # random model: empty outputs are skipped
    assert all(p.src_lang == "eng" and p.source.strip() for p in pairs)
    with pytest.raises(ValueError, match="model_source"):
        translated_transcript_pairs(manifest, None, tmp_path / "x.csv", translation={"num_beams": 1})


def test_recipe_prepares_machine_translations_when_no_file_is_given(tmp_path, tiny_v2):
    from speechbrain_m4t_adapters.training.recipe import _prepare

    folder = tmp_path / "manifests"
    hparams = {
        "manifest_folder": str(folder),
        "mode": "text",
        "seed": 1,
        "datasets": {"train": {"corpus": "respin", "data_folder": str(REAL / "respin"), "lang": "bn"}},
        "text_corpus": {
            "train": {
                "kind": "translated_transcripts",
                "asr_manifest": str(folder / "train.csv"),
                "translations_file": None,
                "src_lang": "eng",
            },
            "valid": {"kind": "flores", "flores_dir": str(REAL / "flores200"), "tgt": "ben_Beng"},
        },
        "translation": dict(SEARCH, model_source=str(tiny_v2)),
    }
    csvs = _prepare(hparams)
    assert csvs["text_train"].is_file() and len(tsv_rows(folder / "train.mt.eng.tsv")) == 6


def test_cli_translate(manifest, tmp_path, tiny_v2, capsys):
    out = tmp_path / "cli.tsv"
    args = ["translate", str(manifest), "--output", str(out), "--model", str(tiny_v2), "--num-beams", "1"]
    assert main([*args, "--max-new-tokens", "4", "--device", "cpu"]) == 0
    assert "12 translated" in capsys.readouterr().out and len(tsv_rows(out)) == 12
    assert main([*args, "--max-new-tokens", "4"]) == 0
    assert "0 translated" in capsys.readouterr().out
