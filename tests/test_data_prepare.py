"""Data preparation: validation/skip accounting and every supported layout."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechbrain_m4t_adapters.data import (
    AsrEntry,
    load_audio,
    prepare_common_voice,
    prepare_fleurs,
    prepare_generic,
    prepare_indicvoices,
    prepare_respin,
    read_asr_manifest,
    read_skipped,
    select_hours,
    skipped_path,
)

REAL = Path(__file__).parent / "fixtures" / "real" / "respin"


def tone(path, seconds, sr=16000, channels=1, fmt=None):
    """Write a quiet noise signal of the given length (seconds) and shape."""
    n = round(seconds * sr)
    rng = np.random.default_rng(abs(hash(str(path))) % 2**32)
    data = 0.1 * rng.standard_normal((n, channels) if channels > 1 else n)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, format=fmt)
    return path


def problem_folder(root: Path) -> Path:
    """Listing (TSV, header path/text) with one case of every kind."""
    audio = root / "audio"
    tone(audio / "good.wav", 1.0)
    tone(audio / "stereo.wav", 1.5, channels=2)
    tone(audio / "low.wav", 2.0, sr=8000)
    (audio / "corrupt.wav").write_bytes(np.random.default_rng(1).bytes(3000))
    sf.write(audio / "empty.wav", np.zeros(0), 16000)
    tone(audio / "notext.wav", 1.0)
    tone(audio / "long.wav", 5.0)
    tone(audio / "short.wav", 0.1)
    lines = [
        "path\ttext",
        "audio/good.wav\tଭଲ ଅଛି",
        "audio/stereo.wav\tদুই চ্যানেল",
        "audio/low.wav\tआठ किलोहर्ट्ज़",
        "audio/corrupt.wav\tx",
        "audio/empty.wav\tx",
        "audio/missing.wav\tx",
        "audio/notext.wav\t   ",
        "audio/long.wav\tx",
        "audio/short.wav\tx",
        "only-one-column",
    ]
    listing = root / "list.tsv"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def test_generic_skips_every_bad_case_and_keeps_the_rest(tmp_path):
    listing = problem_folder(tmp_path)
    out = tmp_path / "out" / "train.csv"
    report = prepare_generic(listing, out, language="ory", min_duration=0.2, max_duration=4.0)
    assert report.counts == {
        "corrupt_audio": 1,
        "empty_audio": 1,
        "missing_audio": 1,
        "empty_transcript": 1,
        "too_long": 1,
        "too_short": 1,
        "bad_row": 1,
    }
    assert report.kept == 3
    rows = read_asr_manifest(out)
    assert [r.id for r in rows] == ["good", "stereo", "low"]
    assert [r.duration for r in rows] == [1.0, 1.5, 2.0]
    assert all(Path(r.wav).is_absolute() and r.language == "ory" for r in rows)
    # stereo and 8 kHz entries load as mono 16 kHz with the right length
    for row in rows:
        audio = load_audio(row.wav)
        assert audio.dim() == 1 and audio.numel() == round(row.duration * 16000)
    skipped = {i.id: i for i in read_skipped(skipped_path(out))}
    assert {k: v.reason for k, v in skipped.items()} == {
        "corrupt": "corrupt_audio",
        "empty": "empty_audio",
        "missing": "missing_audio",
        "notext": "empty_transcript",
        "long": "too_long",
        "short": "too_short",
        "list.tsv:11": "bad_row",
    }
    assert skipped["missing"].origin == f"{listing}:7"
    assert "missing.wav" in skipped["missing"].detail
    # Full decoding finds the same problems (and nothing more) on these files.
    strict = prepare_generic(
        listing,
        tmp_path / "strict.csv",
        language="ory",
        min_duration=0.2,
        max_duration=4.0,
        verify_decode=True,
    )
    assert strict.counts == report.counts and strict.kept == 3


def test_generic_csv_columns_duplicates_and_absolute_paths(tmp_path):
    wav = tone(tmp_path / "sub" / "a.wav", 1.0)
    listing = tmp_path / "list.csv"
    listing.write_text(
        "utt,file,sentence,lang\n"
        'x1,sub/a.wav,"मैथिली, पाठ",mai\n'
        f"x2,{wav},দ্বিতীয়,bn\n"
        "x1,sub/a.wav,again,mai\n",
        encoding="utf-8",
    )
    report = prepare_generic(
        listing,
        tmp_path / "m.csv",
        path_column="file",
        text_column="sentence",
        id_column="utt",
        language_column="lang",
    )
    rows = read_asr_manifest(tmp_path / "m.csv")
    assert [(r.id, r.language, r.transcript) for r in rows] == [
        ("x1", "mai", "मैथिली, पाठ"),
        ("x2", "ben", "দ্বিতীয়"),
    ]
    assert report.counts == {"duplicate_id": 1}
    with pytest.raises(ValueError, match="missing columns"):
        prepare_generic(listing, tmp_path / "n.csv", language="ory")


def test_respin_real_fixtures(tmp_path):
    for lang, iso in (("bn", "ben"), ("mt", "mai")):
        out = tmp_path / f"{lang}.csv"
        report = prepare_respin(REAL, lang, out)
        assert report.kept == 6 and report.num_skipped == 0
        rows = read_asr_manifest(out)
        expected = dict(
            line.split("\t") for line in (REAL / lang / "transcripts.tsv").read_text("utf-8").splitlines()
        )
        assert {r.id: r.transcript for r in rows} == expected
        assert {r.language for r in rows} == {iso}
        assert all(2.0 < r.duration < 6.0 for r in rows)
        first = rows[0]
        assert load_audio(first.wav).numel() == round(first.duration * 16000)


def test_respin_reports_untranscribed_audio_and_bad_lines(tmp_path):
    root = tmp_path / "respin"
    shutil.copytree(REAL / "mt", root / "mt")
    tone(root / "mt" / "wav" / "orphan.wav", 1.0)
    with open(root / "mt" / "transcripts.tsv", "a", encoding="utf-8") as f:
        f.write("no_tab_here\n")
    report = prepare_respin(root, "mai", tmp_path / "mt.csv", max_duration=4.0)
    assert report.ids("missing_transcript") == ["orphan"]
    assert report.counts["bad_row"] == 1
    assert report.counts["too_long"] == 4  # 4 of the 6 real clips are > 4 s
    assert report.kept == 2


def test_fleurs_layout(tmp_path):
    lang_dir = tmp_path / "or_in"
    tone(lang_dir / "audio" / "test" / "111.wav", 1.0)
    tone(lang_dir / "audio" / "test" / "222.wav", 2.0)
    rows = [
        ["7", "111.wav", "ଓଡ଼ିଆ, ଭାଷା।", "ଓଡ଼ିଆ ଭାଷା", "p h o", "16000", "FEMALE"],
        ["7", "222.wav", "Raw Text.", "raw text", "p", "32000", "MALE"],
        ["8", "333.wav", "x", "x", "p", "1", "MALE"],
        ["9", "444.wav", "too few columns"],
    ]
    (lang_dir / "test.tsv").write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")
    report = prepare_fleurs(lang_dir, "test", tmp_path / "f.csv")
    got = read_asr_manifest(tmp_path / "f.csv")
    assert [(r.id, r.language, r.transcript) for r in got] == [
        ("111", "ory", "ଓଡ଼ିଆ ଭାଷା"),
        ("222", "ory", "raw text"),
    ]
    assert report.counts == {"missing_audio": 1, "bad_row": 1}
    prepare_fleurs(lang_dir, "test", tmp_path / "r.csv", text_field="raw_transcription")
    assert read_asr_manifest(tmp_path / "r.csv")[0].transcript == "ଓଡ଼ିଆ, ଭାଷା।"


def test_common_voice_layout_with_mp3(tmp_path):
    cv = tmp_path / "or"
    tone(cv / "clips" / "common_voice_or_1.mp3", 1.0, fmt="MP3")
    tone(cv / "clips" / "common_voice_or_2.mp3", 1.0, fmt="MP3")
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale"
    (cv / "test.tsv").write_text(
        f"{header}\n"
        'c1\tcommon_voice_or_1.mp3\t"ଉଦ୍ଧୃତ" ବାକ୍ୟ\t2\t0\t\t\t\tor\n'
        "c2\tcommon_voice_or_2.mp3\t\t2\t0\t\t\t\tor\n"
        "c3\tcommon_voice_or_3.mp3\tx\t2\t0\t\t\t\tor\n",
        encoding="utf-8",
    )
    report = prepare_common_voice(cv, "test", tmp_path / "cv.csv")
    rows = read_asr_manifest(tmp_path / "cv.csv")
    assert len(rows) == 1
    assert (rows[0].id, rows[0].language) == ("common_voice_or_1", "ory")
    assert rows[0].transcript == '"ଉଦ୍ଧୃତ" ବାକ୍ୟ'  # quotes kept verbatim
    assert rows[0].duration == pytest.approx(1.0, abs=0.05)
    assert report.counts == {"empty_transcript": 1, "missing_audio": 1}
    assert load_audio(rows[0].wav).numel() == pytest.approx(16000, abs=1200)


def _recording(folder: Path, name: str, seconds: float, segments, normalized=None):
    tone(folder / f"{name}.wav", seconds)
    obj = {
        "verbatim": [{"start": s, "end": e, "text": t, "speaker_id": 0} for s, e, t in segments],
        "speaker_id": "spk1",
        "gender": "female",
    }
    if normalized is not None:
        obj["normalized"] = [{"start": s, "end": e, "text": t} for (s, e, _), t in zip(segments, normalized)]
    (folder / f"{name}.json").write_text(json.dumps(obj, ensure_ascii=False), "utf-8")


def test_indicvoices_raw_recordings_give_one_row_per_segment(tmp_path):
    root = tmp_path / "indicvoices"
    train = root / "Odia" / "v1" / "train"
    segments = [
        (0.5, 2.0, "[noise] ମୁଁ ଭଲ ଅଛି"),
        (3.0, 2.0, "end before start"),
        (4.0, 6.5, "ଦ୍ୱିତୀୟ ଖଣ୍ଡ"),
        (7.0, 8.0, "[laughter]"),
        (9.0, 15.0, "past the end"),
    ]
    normalized = ["ମୁଁ ଭଲ ଅଛି", "x", "ଦ୍ୱିତୀୟ", "", "x"]
    _recording(train, "rec1", 10.0, segments, normalized)
    _recording(root / "Odia" / "v1" / "valid", "rec2", 3.0, [(0.0, 1.0, "ବୈଧ")])
    (train / "broken.json").write_text("{not json", encoding="utf-8")

    out = tmp_path / "iv_train.csv"
    report = prepare_indicvoices(root, out, split="train")
    rows = read_asr_manifest(out)
    assert [(r.id, r.transcript, r.language) for r in rows] == [
        ("rec1_chunk_1", "ମୁଁ ଭଲ ଅଛି", "ory"),
        ("rec1_chunk_3", "ଦ୍ୱିତୀୟ ଖଣ୍ଡ", "ory"),
    ]
    assert [(r.start, r.stop, r.duration) for r in rows] == [
        (0.5, 2.0, 1.5),
        (4.0, 6.5, 2.5),
    ]
    assert report.counts == {"bad_row": 3, "empty_transcript": 1}
    assert sorted(report.ids("bad_row")) == [
        "broken.json:1",
        "rec1_chunk_2",
        "rec1_chunk_5",
    ]
    seg = load_audio(rows[1].wav, start=rows[1].start, stop=rows[1].stop)
    assert seg.numel() == 40000

    prepare_indicvoices(root, tmp_path / "norm.csv", split="train", text_field="normalized")
    assert [r.transcript for r in read_asr_manifest(tmp_path / "norm.csv")] == [
        "ମୁଁ ଭଲ ଅଛି",
        "ଦ୍ୱିତୀୟ",
    ]
    prepare_indicvoices(root, tmp_path / "valid.csv", split="valid")
    assert [r.id for r in read_asr_manifest(tmp_path / "valid.csv")] == ["rec2_chunk_1"]


def test_indicvoices_jsonl_manifest_with_foreign_absolute_paths(tmp_path):
    root = tmp_path / "chunked"
    tone(root / "audios" / "r_chunk_1.wav", 1.0)
    tone(root / "audios" / "r_chunk_2.wav", 2.0)
    lines = [
        {
            "audio_filepath": "/home/asr/elsewhere/audios/r_chunk_1.wav",
            "text": "बेस",
            "verbatim": "बेस [noise]",
            "normalized": "बेस",
            "lang": "mai",
            "duration": 1.0,
        },
        {"audio_filepath": "audios/r_chunk_2.wav", "text": "दोसर", "lang": "mai"},
        {"audio_filepath": "/nowhere/r_chunk_9.wav", "text": "x", "lang": "mai"},
    ]
    manifest = root / "transcripts" / "r.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{oops\n",
        encoding="utf-8",
    )
    report = prepare_indicvoices(manifest, tmp_path / "j.csv")
    rows = read_asr_manifest(tmp_path / "j.csv")
    assert [(r.id, r.transcript, r.language, r.duration) for r in rows] == [
        ("r_chunk_1", "बेस", "mai", 1.0),
        ("r_chunk_2", "दोसर", "mai", 2.0),
    ]
    assert report.counts == {"missing_audio": 1, "bad_row": 1}


def test_indicvoices_flat_segments(tmp_path):
    root = tmp_path / "bengali_flat"
    tone(root / "audio" / "s1.flac", 1.0)
    tone(root / "s2.wav", 1.0)
    (root / "transcripts.tsv").write_text("s1\tএক\ns2\tদুই\ns3\tতিন\n", encoding="utf-8")
    report = prepare_indicvoices(root, tmp_path / "flat.csv", language="bn")
    rows = read_asr_manifest(tmp_path / "flat.csv")
    assert [(r.id, r.language) for r in rows] == [("s1", "ben"), ("s2", "ben")]
    assert rows[0].wav.endswith("audio/s1.flac")
    assert report.ids("missing_audio") == ["s3"]


def test_select_hours_is_deterministic_and_bounded():
    rng = np.random.default_rng(0)
    rows = [AsrEntry(f"u{i}", float(rng.uniform(1, 20)), "/x.wav", "ory", "t") for i in range(2000)]
    total = sum(r.duration for r in rows)
    picked = select_hours(rows, hours=1.0, seed=7)
    again = select_hours(rows, hours=1.0, seed=7)
    other = select_hours(rows, hours=1.0, seed=8)
    assert picked == again
    assert [r.id for r in picked] != [r.id for r in other]
    secs = sum(r.duration for r in picked)
    assert 3600 - 20 < secs <= 3600  # nearly full, never over
    order = [int(r.id[1:]) for r in picked]
    assert order == sorted(order)  # input order kept
    assert select_hours(rows, hours=total / 3600 + 1, seed=1) == rows
    assert select_hours(rows, hours=0, seed=1) == []


def test_hours_subset_and_overwrite_flag(tmp_path):
    for i in range(6):
        tone(tmp_path / f"a{i}.wav", 1.0)
    listing = tmp_path / "l.tsv"
    listing.write_text("path\ttext\n" + "".join(f"a{i}.wav\tt{i}\n" for i in range(6)), "utf-8")
    out = tmp_path / "m.csv"
    report = prepare_generic(listing, out, language="ory", hours=3.5 / 3600, seed=0)
    assert report.kept == 3 and len(read_asr_manifest(out)) == 3
    ids = [r.id for r in read_asr_manifest(out)]
    # Existing manifest is reused, not recomputed.
    reused = prepare_generic(listing, out, language="ory")
    assert reused.reused and reused.kept == 3
    assert [r.id for r in read_asr_manifest(out)] == ids
    rebuilt = prepare_generic(listing, out, language="ory", overwrite=True)
    assert not rebuilt.reused and rebuilt.kept == 6


def test_nonfinite_and_truncated_audio_are_skipped_and_counted(tmp_path):
    """A float clip with NaN/inf, or a WAV cut short of its header, is reported, not kept."""
    audio = tmp_path / "audio"
    tone(audio / "good.wav", 1.0)
    samples = 0.1 * np.ones(16000, dtype="float32")
    samples[100], samples[9000] = np.nan, np.inf
    sf.write(audio / "nan.wav", samples, 16000, subtype="FLOAT")
    tone(audio / "cut.wav", 1.0)
    whole = (audio / "cut.wav").read_bytes()
    (audio / "cut.wav").write_bytes(whole[: len(whole) // 2])
    listing = tmp_path / "list.tsv"
    listing.write_text("path\ttext\naudio/good.wav\ta\naudio/nan.wav\tb\naudio/cut.wav\tc\n")
    report = prepare_generic(listing, tmp_path / "m.csv", language="ory", verify_decode=True)
    assert report.kept == 1 and report.counts == {"nonfinite_audio": 1, "truncated_audio": 1}
    skipped = {i.id: i for i in read_skipped(skipped_path(tmp_path / "m.csv"))}
    assert "2 of 16000 frames" in skipped["nan"].detail and "first at frame 100" in skipped["nan"].detail
    assert f"{len(whole) - 44} bytes" in skipped["cut"].detail
    assert [r.id for r in read_asr_manifest(tmp_path / "m.csv")] == ["good"]
    # Truncation is seen from the header alone, without decoding.
    quick = prepare_generic(listing, tmp_path / "q.csv", language="ory")
    assert quick.counts == {"truncated_audio": 1} and quick.kept == 2


def test_held_out_set_stays_disjoint_when_duration_limits_drop_training_rows(tmp_path):
    """As the engine recipes prepare IndicVoices: train drawn with the training duration limits,
    valid (no limits) skipping the same budget; long utterances must not shift the draw."""
    root, rng = tmp_path / "odia", np.random.default_rng(0)
    for r in range(6):
        segments, t = [], 0.0
        for k in range(8):
            seconds = 25.0 if (r * 8 + k) % 4 == 0 else float(rng.uniform(2, 9))
            segments.append({"start": t, "end": t + seconds, "text": f"ଶବ୍ଦ {r} {k}"})
            t += seconds
        (root / "train").mkdir(parents=True, exist_ok=True)
        sf.write(root / "train" / f"rec{r}.wav", np.zeros(int(16000 * (t + 1)), "float32"), 16000)
        (root / "train" / f"rec{r}.json").write_text(json.dumps({"verbatim": segments}), encoding="utf-8")
    for seed in range(4):

        def ids(name, seed=seed, **kw):
            report = prepare_indicvoices(root, tmp_path / f"{name}{seed}.csv", split="train", seed=seed, **kw)
            return {e.id for e in read_asr_manifest(tmp_path / f"{name}{seed}.csv")}, report

        train, report = ids("train", hours=0.05, max_duration=20.0, min_duration=0.1)
        held, _ = ids("valid", hours=0.02, skip_hours=0.05)
        drawn, _ = ids("drawn", hours=0.05)
        assert train and held and not train & held, seed
        assert train | set(report.ids("too_long")) == drawn and report.counts["too_long"] > 0, seed
        origins = {s.origin for s in read_skipped(skipped_path(tmp_path / f"train{seed}.csv"))}
        assert all(":segment " in o for o in origins), origins  # the skipped rows name their file and segment
