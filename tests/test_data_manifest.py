"""Manifest CSV round trips, SpeechBrain compatibility and the skip report."""

import logging

import pytest
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_m4t_adapters.data.manifest import (
    ASR_HEADER,
    AsrEntry,
    ManifestError,
    SkipReport,
    TextPair,
    read_asr_manifest,
    read_skipped,
    read_text_manifest,
    skipped_path,
    write_asr_manifest,
    write_text_manifest,
)

TRICKY = 'ଏହା, "ଉଦ୍ଧୃତ" ପାଠ\nଦ୍ୱିତୀୟ ଧାଡ଼ି'


def test_asr_round_trip_and_header(tmp_path):
    path = tmp_path / "m.csv"
    rows = [
        AsrEntry("u1", 3.42, "/data/u1.wav", "ory", TRICKY),
        {
            "ID": "u2",
            "duration": 1.0,
            "wav": "/d/u2.wav",
            "language": "mai",
            "transcript": "मैथिली",
        },
    ]
    assert write_asr_manifest(rows, path) == 2
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(ASR_HEADER)
    back = read_asr_manifest(path)
    assert back[0] == rows[0]
    assert (back[1].id, back[1].duration, back[1].transcript) == ("u2", 1.0, "मैथिली")
    assert not back[0].is_segment


def test_segment_columns_only_when_needed(tmp_path):
    path = tmp_path / "seg.csv"
    write_asr_manifest(
        [
            AsrEntry("a", 1.5, "/r.wav", "ory", "x", start=2.0, stop=3.5),
            AsrEntry("b", 4.0, "/s.wav", "ory", "y"),
        ],
        path,
    )
    assert path.read_text().splitlines()[0] == ",".join(ASR_HEADER + ["start", "stop"])
    a, b = read_asr_manifest(path)
    assert (a.start, a.stop) == (2.0, 3.5) and a.is_segment
    assert (b.start, b.stop) == (None, None)


def test_speechbrain_reads_the_manifest(tmp_path):
    path = tmp_path / "m.csv"
    write_asr_manifest([AsrEntry("u1", 2.5, "/x/u1.wav", "ben", TRICKY)], path)
    data = DynamicItemDataset.from_csv(str(path)).data
    assert data["u1"]["duration"] == 2.5
    assert data["u1"]["transcript"] == TRICKY
    assert data["u1"]["language"] == "ben"


def test_text_round_trip(tmp_path):
    path = tmp_path / "t.csv"
    pair = TextPair("p1", "eng", "ben", 'He said, "yes"', '"""উদ্ধৃতি"" সহ"')
    write_text_manifest([pair], path)
    assert read_text_manifest(path) == [pair]


def test_bad_manifests_name_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ID,duration,wav,language,transcript\nu1,1.0,/a.wav,ory,ok\nu2,abc,/b.wav,ory,x\n")
    with pytest.raises(ManifestError, match=r"bad.csv:3"):
        read_asr_manifest(path)
    path.write_text("ID,duration,wav,language,transcript\nu1,1.0,/a.wav,ory,ok\nu1,2,/b.wav,ory,x\n")
    with pytest.raises(ManifestError, match=r"bad.csv:3: duplicate ID"):
        read_asr_manifest(path)
    path.write_text("ID,dur,wav\n")
    with pytest.raises(ManifestError, match=r"bad.csv:1: bad header"):
        read_asr_manifest(path)
    path.write_text("ID,src_lang,tgt_lang,source,target\np1,eng,ory,only-four\n")
    with pytest.raises(ManifestError, match=r"bad.csv:2: expected 5 fields, got 4"):
        read_text_manifest(path)


def test_skip_report_counts_log_and_file(tmp_path, caplog):
    report = SkipReport("unit")
    report.keep(5)
    report.skip("a", "missing_audio", "list.tsv:2", "no such file")
    report.skip("b", "missing_audio", "list.tsv:3")
    report.skip("c", "empty_transcript", "list.tsv:4")
    with pytest.raises(ValueError, match="unknown skip reason"):
        report.skip("d", "whatever")
    assert report.counts == {"missing_audio": 2, "empty_transcript": 1}
    assert report.num_skipped == 3 and report.ids("missing_audio") == ["a", "b"]
    manifest = tmp_path / "train.csv"
    with caplog.at_level(logging.INFO):
        out = report.finish(manifest)
    assert out == skipped_path(manifest) == tmp_path / "train.skipped.tsv"
    assert "unit: kept 5, skipped 3 (empty_transcript=1, missing_audio=2)" in caplog.text
    items = read_skipped(out)
    assert [(i.id, i.reason, i.origin) for i in items] == [
        ("a", "missing_audio", "list.tsv:2"),
        ("b", "missing_audio", "list.tsv:3"),
        ("c", "empty_transcript", "list.tsv:4"),
    ]
