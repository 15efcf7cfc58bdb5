"""WER/CER against hand-computed values and the alignment files."""

import pytest

from speechbrain_m4t_adapters.evaluation.metrics import (
    compute_error_rates,
    write_alignments,
)

IDS = ["u1", "u2"]
REFS = ["the cat sat", "ଆମେ ଭଲ ଅଛୁ।"]
HYPS = ["The bat sat down", "ଆମେ ଅଛୁ"]


def test_hand_computed_wer_and_cer():
    m = compute_error_rates(IDS, REFS, HYPS)
    # Words: u1 cat->bat (S) + down (I); u2 ଭଲ deleted (D): 3 edits / 6 words.
    assert m["wer"] == 50.0
    assert (m["word_substitutions"], m["word_insertions"], m["word_deletions"]) == (
        1,
        1,
        1,
    )
    assert m["ref_words"] == 6 and m["num_utterances"] == 2
    # Chars (space token "_" between words, code points):
    # u1 "the_cat_sat" (11) vs "the_bat_sat_down": 1 S + 5 I ("_down")
    # u2 "ଆମେ_ଭଲ_ଅଛୁ" (3+1+2+1+3 = 10) vs "ଆମେ_ଅଛୁ": 3 D ("_ଭଲ")
    assert m["ref_chars"] == 21
    assert (m["char_substitutions"], m["char_insertions"], m["char_deletions"]) == (
        1,
        5,
        3,
    )
    assert m["cer"] == pytest.approx(100 * 9 / 21, abs=0.005)
    assert m["ser"] == 100.0


def test_without_normalisation_case_and_danda_count():
    m = compute_error_rates(IDS, REFS, HYPS, normalize=False)
    # "the"/"The" and "ଅଛୁ।"/"ଅଛୁ" become substitutions: 5 edits / 6 words.
    assert m["wer"] == pytest.approx(83.33)


def test_perfect_and_empty_hypothesis():
    perfect = compute_error_rates(["a"], ["मैथिली भाषा"], ["मैथिली, भाषा।"])
    assert perfect["wer"] == 0.0 and perfect["cer"] == 0.0
    empty = compute_error_rates(["a"], ["मैथिली भाषा"], [""])
    assert empty["wer"] == 100.0 and empty["word_deletions"] == 2
    assert empty["cer"] == 100.0


def test_input_checks():
    with pytest.raises(ValueError, match="differ in length"):
        compute_error_rates(["a"], ["x"], [])
    with pytest.raises(ValueError, match="unique"):
        compute_error_rates(["a", "a"], ["x", "y"], ["x", "y"])


def test_alignment_files(tmp_path):
    wer_file, cer_file = write_alignments(tmp_path / "wer_test.txt", IDS, REFS, HYPS)
    assert cer_file == tmp_path / "wer_test_cer.txt"
    wer_text = wer_file.read_text(encoding="utf-8")
    cer_text = cer_file.read_text(encoding="utf-8")
    assert wer_text.startswith("%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]")
    assert cer_text.startswith("%WER 42.86 [ 9 / 21, 5 ins, 3 del, 1 sub ]")
    assert "u1, %WER 66.67 [ 2 / 3, 1 ins, 0 del, 1 sub ]" in wer_text
    assert "u2, %WER 33.33 [ 1 / 3, 0 ins, 1 del, 0 sub ]" in wer_text
    assert "ଭଲ" in wer_text and "।" not in wer_text  # normalised text aligned
