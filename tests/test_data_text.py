"""Text-pair corpora: FLORES-200 fixtures, translated transcripts, parallel text."""

from pathlib import Path

import pytest

from speechbrain_m4t_adapters.data import (
    AlignmentError,
    AsrEntry,
    aligned_file_pairs,
    flores_pairs,
    parallel_tsv_pairs,
    read_skipped,
    read_text_manifest,
    skipped_path,
    translated_transcript_pairs,
    write_asr_manifest,
)

FLORES = Path(__file__).parent / "fixtures" / "real" / "flores200"


def lines(path):
    return path.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.mark.parametrize(
    "tgt, iso",
    [
        ("ory_Orya", "ory"),
        ("ben_Beng", "ben"),
        ("mai_Deva", "mai"),
        ("hin_Deva", "hin"),
    ],
)
def test_flores_pairs_are_line_aligned(tmp_path, tgt, iso):
    out = tmp_path / "pairs.csv"
    report = flores_pairs(FLORES, out, tgt=tgt, splits=("dev", "devtest"))
    pairs = read_text_manifest(out)
    assert report.kept == len(pairs) == 350 and report.num_skipped == 0
    eng_dev, tgt_dev = (
        lines(FLORES / "dev" / "eng_Latn.dev"),
        lines(FLORES / "dev" / f"{tgt}.dev"),
    )
    eng_test = lines(FLORES / "devtest" / "eng_Latn.devtest")
    tgt_test = lines(FLORES / "devtest" / f"{tgt}.devtest")
    assert [(p.source, p.target) for p in pairs] == list(zip(eng_dev + eng_test, tgt_dev + tgt_test))
    assert {(p.src_lang, p.tgt_lang) for p in pairs} == {("eng", iso)}
    assert pairs[0].id == "flores_dev_0001" and pairs[300].id == "flores_devtest_0001"
    assert pairs[0].source.startswith("On Monday, scientists from the Stanford")
    assert pairs[300].source.startswith('"We now have 4-month-old mice')


def test_flores_sentence_range_keeps_those_lines_and_refuses_negative_bounds(tmp_path):
    pairs = flores_pairs(FLORES, tmp_path / "r.csv", tgt="ory_Orya", splits=("dev",), sentences=[5, 8])
    kept = read_text_manifest(tmp_path / "r.csv")
    assert pairs.kept == 3 and [p.id for p in kept] == [
        "flores_dev_0006",
        "flores_dev_0007",
        "flores_dev_0008",
    ]
    assert kept[0].source == lines(FLORES / "dev" / "eng_Latn.dev")[5]
    for bad in ([-3, 10], [8, 5]):
        with pytest.raises(ValueError, match=r"sentences must be \[start, stop\]"):
            flores_pairs(FLORES, tmp_path / "x.csv", tgt="ory_Orya", splits=("dev",), sentences=bad)


def test_flores_bengali_quoting_is_kept_verbatim(tmp_path):
    flores_pairs(FLORES, tmp_path / "b.csv", tgt="ben_Beng", splits=("devtest",))
    first = read_text_manifest(tmp_path / "b.csv")[0].target
    assert first.startswith('"""আমাদের') and '""' in first[3:]
    assert first == lines(FLORES / "devtest" / "ben_Beng.devtest")[0]


def test_flores_non_english_source_and_misalignment(tmp_path):
    flores_pairs(FLORES, tmp_path / "h.csv", src="hin_Deva", tgt="mai_Deva")
    pair = read_text_manifest(tmp_path / "h.csv")[0]
    assert (pair.src_lang, pair.tgt_lang) == ("hin", "mai")
    bad = tmp_path / "flores" / "dev"
    bad.mkdir(parents=True)
    (bad / "eng_Latn.dev").write_text("a\nb\nc\n", encoding="utf-8")
    (bad / "ory_Orya.dev").write_text("କ\nଖ\n", encoding="utf-8")
    with pytest.raises(AlignmentError, match=r"eng_Latn.dev has 3 lines.*ory_Orya.dev has 2"):
        flores_pairs(tmp_path / "flores", tmp_path / "x.csv")


def test_translated_transcript_pairs(tmp_path):
    manifest = tmp_path / "train.csv"
    write_asr_manifest(
        [
            AsrEntry(u, 1.0, f"/a/{u}.wav", "ory", t)
            for u, t in [
                ("u1", "ମୁଁ ଭଲ ଅଛି"),
                ("u2", "ଧନ୍ୟବାଦ"),
                ("u3", "ନମସ୍କାର"),
                ("u4", "ଶୁଭ"),
            ]
        ],
        manifest,
    )
    translations = tmp_path / "tr.tsv"
    translations.write_text('u1\tI am "fine"\nu2\t  \nbroken line\nu4\tGood\nzz\tunused\n', encoding="utf-8")
    out = tmp_path / "pairs.csv"
    report = translated_transcript_pairs(manifest, translations, out)
    pairs = read_text_manifest(out)
    assert [(p.id, p.src_lang, p.tgt_lang, p.source, p.target) for p in pairs] == [
        ("u1", "eng", "ory", 'I am "fine"', "ମୁଁ ଭଲ ଅଛି"),
        ("u4", "eng", "ory", "Good", "ଶୁଭ"),
    ]
    assert report.counts == {"bad_row": 1, "missing_translation": 1, "empty_source": 1}
    skipped = {i.reason: i for i in read_skipped(skipped_path(out))}
    assert skipped["missing_translation"].id == "u3"
    assert skipped["bad_row"].origin == f"{translations}:3"


def test_parallel_tsv_and_aligned_files(tmp_path):
    tsv = tmp_path / "par.tsv"
    tsv.write_text("hello\tনমস্কার\n\t খালি\nno tab\n\nbye\tবিদায়\n", encoding="utf-8")
    report = parallel_tsv_pairs(tsv, tmp_path / "p.csv", "eng", "bn")
    pairs = read_text_manifest(tmp_path / "p.csv")
    assert [(p.id, p.source, p.target, p.tgt_lang) for p in pairs] == [
        ("par_000001", "hello", "নমস্কার", "ben"),
        ("par_000005", "bye", "বিদায়", "ben"),
    ]
    assert report.counts == {"empty_source": 1, "bad_row": 2}

    src, tgt = tmp_path / "s.txt", tmp_path / "t.txt"
    src.write_text("one\ntwo\r\nthree\n", encoding="utf-8")
    tgt.write_text("एक\n\nतीन\n", encoding="utf-8")
    report = aligned_file_pairs(src, tgt, tmp_path / "a.csv", "eng", "mai")
    pairs = read_text_manifest(tmp_path / "a.csv")
    assert [(p.source, p.target) for p in pairs] == [("one", "एक"), ("three", "तीन")]
    assert report.ids("empty_target") == ["t_000002"]
    tgt.write_text("एक\n", encoding="utf-8")
    with pytest.raises(AlignmentError, match=r"s.txt has 3 lines, .*t.txt has 1"):
        aligned_file_pairs(src, tgt, tmp_path / "b.csv", "eng", "mai", overwrite=True)


def test_non_utf8_line_is_one_bad_row_and_long_target_is_skipped(tmp_path):
    tsv = tmp_path / "par.tsv"
    long_target = "ক" * 5000
    tsv.write_bytes(
        "hello\tনমস্কার\n".encode()
        + b"bad \xff byte\t\xe0\xa6\x95\n"
        + f"long\t{long_target}\n".encode()
        + "bye\tবিদায়\n".encode()
    )
    report = parallel_tsv_pairs(tsv, tmp_path / "p.csv", "eng", "ben", max_chars=1000)
    assert [p.id for p in read_text_manifest(tmp_path / "p.csv")] == ["par_000001", "par_000004"]
    assert report.counts == {"bad_row": 1, "too_long": 1}
    skipped = {item.id: item for item in read_skipped(skipped_path(tmp_path / "p.csv"))}
    assert skipped["par_000002"].origin == f"{tsv}:2"
    assert "not UTF-8: byte 0xff at column 5" in skipped["par_000002"].detail
    assert "5000 characters (max_text_chars: 1000)" in skipped["par_000003"].detail

    src, tgt = tmp_path / "s.txt", tmp_path / "t.txt"  # line-aligned files: the same per line
    src.write_bytes(b"one\ntw\xc3o\nthree\n")
    tgt.write_text("এক\nদুই\nতিন\n", encoding="utf-8")
    report = aligned_file_pairs(src, tgt, tmp_path / "a.csv", "eng", "ben")
    assert [p.target for p in read_text_manifest(tmp_path / "a.csv")] == ["এক", "তিন"]
    assert report.ids("bad_row") == ["t_000002"]
