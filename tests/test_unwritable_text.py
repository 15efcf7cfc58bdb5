"""Targets with characters the tokenizer cannot write are counted, shown and kept or skipped."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.data import AsrEntry, TextPair, write_asr_manifest, write_text_manifest
from speechbrain_m4t_adapters.training.datasets import asr_dataset, text_dataset, unwritable_characters

REAL = Path(__file__).parent / "fixtures" / "real" / "respin" / "bn"


@pytest.fixture(scope="module")
def m4t(tiny_v2):
    return SeamlessM4T(source=str(tiny_v2))


def _transcripts() -> list[tuple[str, str]]:
    lines = (REAL / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[:3]
    return [tuple(line.split("\t", 1)) for line in lines]


def test_unwritable_characters_are_named_per_manifest_and_skip_drops_them(m4t, tmp_path, caplog):
    (a, text_a), (b, text_b), (c, text_c) = _transcripts()
    assert unwritable_characters(m4t.tokenizer, {}, text_a) == ""  # real Bengali: every character has a piece
    rows = [
        AsrEntry(a, 3.0, str(REAL / "wav" / f"{a}.wav"), "ben", text_a),
        AsrEntry(b, 3.0, str(REAL / "wav" / f"{b}.wav"), "ben", text_b + " 😀"),
        AsrEntry(c, 3.0, str(REAL / "wav" / f"{c}.wav"), "ben", text_c),
    ]
    csv = tmp_path / "train.csv"
    write_asr_manifest(rows, csv)
    with caplog.at_level(logging.WARNING):
        kept = asr_dataset(csv, m4t, "none")
    assert len(kept) == 3
    assert f"{csv}: 1 of 3 targets hold characters the tokenizer writes as <unk> ({b}: '😀')" in caplog.text
    unk = m4t.text_ids.tokenizer.unk_token_id
    assert unk in kept[1]["target"].tolist()
    skipped = asr_dataset(csv, m4t, "none", unwritable="skip")
    assert [item["id"] for item in skipped] == [a, c]
    with pytest.raises(ValueError, match="unwritable_text must be one of"):
        asr_dataset(csv, m4t, "none", unwritable="drop")

    pairs = tmp_path / "pairs.csv"
    write_text_manifest(
        [TextPair("p1", "eng", "ben", "hi", text_a), TextPair("p2", "eng", "ben", "x", "☃")], pairs
    )
    assert [item["id"] for item in text_dataset(pairs, m4t, "none", unwritable="skip")] == ["p1"]
