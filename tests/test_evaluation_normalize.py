"""Normalisation of real Odia, Bengali and Maithili text."""

import unicodedata
from pathlib import Path

import pytest

from speechbrain_m4t_adapters.evaluation.normalize import normalize_text

REAL = Path(__file__).parent / "fixtures" / "real"


def flores(lang, n=300):
    return (REAL / "flores200" / "dev" / f"{lang}.dev").read_text("utf-8").split("\n")[:n]


def respin(lang):
    text = (REAL / "respin" / lang / "transcripts.tsv").read_text("utf-8")
    return [line.split("\t")[1] for line in text.splitlines()]


def marks(text):
    return [c for c in text if unicodedata.category(c) in ("Mn", "Mc")]


@pytest.mark.parametrize("lang", ["ory_Orya", "ben_Beng", "mai_Deva", "hin_Deva"])
def test_flores_danda_and_punctuation_removed_marks_kept(lang):
    lines = flores(lang)
    assert sum("।" in line for line in lines) > 90  # the data really has dandas
    for line in lines:
        out = normalize_text(line)
        assert "।" not in out and "॥" not in out and "," not in out
        assert "\u200c" not in out and "\u200d" not in out
        assert not any(unicodedata.category(c).startswith("P") for c in out)
        # every combining mark (vowel sign, virama, nukta...) survives
        assert marks(out) == marks(unicodedata.normalize("NFC", line))
        assert out == " ".join(out.split())


@pytest.mark.parametrize("lang", ["bn", "mt"])
def test_respin_transcripts_without_punctuation_are_unchanged(lang):
    for text in respin(lang):
        assert normalize_text(text) == unicodedata.normalize("NFC", text)


def test_indic_words_survive_unchanged():
    for word in ("ଓଡ଼ିଆ", "ବୈଜ୍ଞାନିକମାନେ", "বিদেশে", "চিংড়ি", "मैथिली", "कृषक", "ऋण"):
        assert normalize_text(word) == unicodedata.normalize("NFC", word)


def test_zero_width_characters_removed_without_splitting_words():
    # Real FLORES Odia line 13 has "ବ୍ରିସବେନ୍\u200d"; line 8 has "ଷ୍ଟ୍ରିଟ୍\u200cର".
    ory = flores("ory_Orya", 13)
    assert "\u200d" in ory[12] and "\u200c" in ory[7]
    assert "ଷ୍ଟ୍ରିଟ୍ର" in normalize_text(ory[7]).split()
    assert normalize_text("র\u200d্যাব\u200b \ufeffখবর") == "র্যাব খবর"


def test_nfc_latin_case_quotes_and_whitespace():
    decomposed = "\u0995\u09c7\u09be"  # Bengali KA + E sign + AA sign
    assert normalize_text(decomposed) == "\u0995\u09cb"  # composed O sign
    assert normalize_text("  ମୁଁ   ଭଲ ଅଛି॥\n") == "ମୁଁ ଭଲ ଅଛି"
    assert normalize_text('"""আমাদের ইঁদুর,"" তিনি বললেন।"') == "আমাদের ইঁদুর তিনি বললেন"
    assert normalize_text("Stanford-এর UNIVERSITY's") == "stanford এর university s"
    assert normalize_text("₹ 500 টাকা") == "₹ 500 টাকা"  # symbols and digits kept
    assert normalize_text("।,!?") == ""
