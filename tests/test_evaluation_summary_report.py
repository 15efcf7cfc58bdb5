"""Summary JSON round trip/validation and the markdown + PNG report."""

import json

import matplotlib.image as mpimg
import pytest

from speechbrain_m4t_adapters.evaluation.report import build_report
from speechbrain_m4t_adapters.evaluation.summary import (
    SummaryError,
    read_summary,
    write_summary,
)
from speechbrain_m4t_adapters.version import __version__


def metrics(lang, wer, cer, n=100):
    return {
        "language": lang,
        "wer": wer,
        "cer": cer,
        "num_utterances": n,
        "ref_words": 900,
    }


def test_round_trip(tmp_path):
    path = tmp_path / "exp" / "summary.json"
    written = write_summary(
        path,
        "odia_encoder",
        {"odia_test": metrics("ory", 32.0, 12.1)},
        "facebook/seamless-m4t-v2-large",
        6_000_000,
        972_000_000,
        123.4,
        extra={"seed": 1986, "adapter": "encoder"},
    )
    data = read_summary(path)
    assert data == written
    assert data["package_version"] == __version__
    assert data["created"].endswith("+00:00")
    assert data["test_sets"]["odia_test"]["ref_words"] == 900
    assert data["extra"] == {"seed": 1986, "adapter": "encoder"}


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("total_params"), "total_params' is missing"),
        (lambda d: d.update(trainable_params="6M"), "trainable_params' must be"),
        (lambda d: d.update(trainable_params=10**10), "trainable_params' exceeds"),
        (lambda d: d.update(train_time_s=-1), "train_time_s' must be"),
        (lambda d: d.update(test_sets={}), "test_sets' must be"),
        (
            lambda d: d["test_sets"]["t"].pop("language"),
            "test_sets.t.language' is missing",
        ),
        (lambda d: d["test_sets"]["t"].update(wer="n/a"), "test_sets.t.wer' must be"),
        (
            lambda d: d["test_sets"]["t"].update(num_utterances=1.5),
            "test_sets.t.num_utterances' must",
        ),
    ],
)
def test_validation_errors_name_file_and_field(tmp_path, mutate, field):
    path = tmp_path / "summary.json"
    write_summary(path, "e", {"t": metrics("ory", 1.0, 1.0)}, "m", 1, 2, None)
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(SummaryError, match=f"{path}: field '{field}"):
        read_summary(path)


def test_unreadable_files_and_write_validation(tmp_path):
    with pytest.raises(SummaryError, match="not found"):
        read_summary(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SummaryError, match="bad.json: invalid JSON"):
        read_summary(tmp_path / "bad.json")
    with pytest.raises(SummaryError, match="test_sets.t.cer' is missing"):
        write_summary(
            tmp_path / "s.json",
            "e",
            {"t": {"language": "ory", "wer": 1.0, "num_utterances": 1}},
            "m",
            1,
            2,
            3.0,
        )
    assert not (tmp_path / "s.json").exists()


def test_report_from_two_summaries(tmp_path):
    runs = tmp_path / "results"
    write_summary(
        runs / "a" / "summary.json",
        "encoder_adapter",
        {
            "odia_test": metrics("ory", 32.0, 12.1),
            "maithili_test": metrics("mai", 41.5, 15.0),
        },
        "m4t-v2",
        6_000_000,
        972_000_000,
        5400.0,
    )
    write_summary(
        runs / "b" / "deep" / "summary.json",
        "zero_shot",
        {"odia_test": metrics("ory", 78.25, 40.0)},
        "m4t-v2",
        0,
        972_000_000,
        None,
    )
    md, png = tmp_path / "report" / "results.md", tmp_path / "report" / "wer.png"
    table = build_report([runs], md, png)
    lines = table.splitlines()
    assert "| Test set (lang) | encoder_adapter | zero_shot |" in lines
    assert "| maithili_test (mai) | 41.50 / 15.00 | – |" in lines
    assert "| odia_test (ory) | **32.00 / 12.10** | 78.25 / 40.00 |" in lines
    assert "| *Mean WER* | 36.75 | – |" in lines
    assert "| *Trainable params* | 6.0M (0.62%) | 0 (0.00%) |" in lines
    assert "| *Train time* | 1.50 h | – |" in lines
    text = md.read_text(encoding="utf-8")
    assert table in text and "](wer.png)" in text and "zero_shot" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(png)
    assert image.shape[0] > 200 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05  # not a blank canvas

    cer_table = build_report(
        [runs / "a" / "summary.json"],
        tmp_path / "c.md",
        tmp_path / "c.png",
        metric="cer",
    )
    assert "| odia_test (ory) | 12.10 / 32.00 |" in cer_table
    with pytest.raises(ValueError, match="metric"):
        build_report([runs], md, png, metric="bleu")


def test_bold_is_promised_only_where_a_row_compares():
    from speechbrain_m4t_adapters.evaluation.report import build_table

    def summary(experiment, sets):
        return {
            "experiment": experiment,
            "test_sets": {n: {"language": "ory", "wer": w, "cer": w / 2} for n, w in sets},
            "trainable_params": 1,
            "total_params": 10,
            "train_time_s": None,
        }

    alone = build_table([summary("a", [("held_out", 40.0)]), summary("b", [("other", 30.0)])])
    assert "in bold" not in alone and "**" not in alone
    compared = build_table([summary("a", [("held_out", 40.0)]), summary("b", [("held_out", 30.0)])])
    assert "best WER per row in bold" in compared and "**30.00 / 15.00**" in compared
