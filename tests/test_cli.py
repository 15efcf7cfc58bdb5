"""``m4t-adapters`` sub-commands: transcribe, evaluate, inspect, report (+ help and errors).

The four main commands run as real subprocesses, started together (each
pays ~10 s of imports on CPU) and checked by the tests below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import REAL
from test_inference_asr import make_adapters

from speechbrain_m4t_adapters import cli
from speechbrain_m4t_adapters.data.manifest import AsrEntry, write_asr_manifest
from speechbrain_m4t_adapters.evaluation.summary import read_summary, write_summary

BN_WAVS = sorted((REAL / "respin" / "bn" / "wav").glob("*.wav"))
MODEL_OPTIONS = ["--max-new-tokens", "4", "--device", "cpu", "--batch-size", "4"]


def _transcripts(folder: str) -> dict[str, str]:
    lines = (REAL / "respin" / folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines)


@pytest.fixture(scope="module")
def work(tiny_v2, tiny_v1, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli")
    adapters = make_adapters(tiny_v2, root / "odia_adapters", "ory", seed=1)
    v1_adapters = make_adapters(tiny_v1, root / "v1_adapters", None, seed=2)
    audio = root / "audio"
    audio.mkdir()
    (audio / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    stereo, _ = sf.read(BN_WAVS[0], dtype="float32")
    sf.write(audio / "stereo_8k.wav", np.stack([stereo[::2], stereo[::2]], axis=1), 8000)
    rows = []
    for folder, lang in (("bn", "ben"), ("mt", "mai")):
        for utt, text in list(_transcripts(folder).items())[:2]:
            rows.append(AsrEntry(utt, 3.0, str(REAL / "respin" / folder / "wav" / f"{utt}.wav"), lang, text))
    rows.append(AsrEntry("lost", 1.0, str(root / "lost.wav"), "ben", "কিছু"))
    write_asr_manifest(rows, root / "test.csv")
    for name, wer in (("odia_encoder", 41.5), ("odia_decoder", 38.25)):
        metrics = {"language": "ory", "wer": wer, "cer": wer / 3, "num_utterances": 10}
        write_summary(
            root / "exp" / name / "summary.json", name, {"odia_test": metrics}, "tiny", 10, 100, 12.0
        )
    model = ["--model", str(tiny_v2), "--adapters", str(adapters), *MODEL_OPTIONS]
    commands = {
        "transcribe": [
            "transcribe",
            str(REAL / "respin" / "bn" / "wav"),
            str(audio),
            str(root / "missing.wav"),
            "--lang",
            "ben",
            "--output",
            str(root / "out" / "hyp.tsv"),
            *model,
        ],
        "evaluate": ["evaluate", str(root / "test.csv"), "--output-dir", str(root / "eval"), *model],
        "inspect": ["inspect", str(adapters), "--json"],
        "report": ["report", str(root / "exp"), "--output", str(root / "report" / "results.md")],
    }
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", OMP_NUM_THREADS="1")
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "speechbrain_m4t_adapters.cli", *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    runs = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        runs[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return {"root": root, "adapters": adapters, "v1_adapters": v1_adapters, "runs": runs, "model": model}


def test_transcribe_writes_tsv_and_reports_failures(work):
    run = work["runs"]["transcribe"]
    assert run.returncode == 0, run.stderr  # some inputs failed, not all
    lines = (work["root"] / "out" / "hyp.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ID\twav\tlanguage\ttranscript"
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) == len(BN_WAVS) + 1  # 6 Bengali clips + the 8 kHz stereo one
    ids = {row[0] for row in rows}
    assert {p.stem for p in BN_WAVS} | {"stereo_8k"} == ids
    assert all(row[2] == "ben" and row[3] for row in rows)
    assert "2 of 9 input(s) failed:" in run.stderr
    assert "corrupt_audio" in run.stderr and "corrupt.wav" in run.stderr
    assert "missing_audio" in run.stderr and "missing.wav" in run.stderr
    assert "file" in run.stderr  # the tqdm progress bar went to stderr
    assert "wrote 7 transcript(s)" in run.stderr and run.stdout == ""


def test_evaluate_writes_summary_and_alignments(work):
    run = work["runs"]["evaluate"]
    assert run.returncode == 0, run.stderr
    out = work["root"] / "eval"
    summary = read_summary(out / "summary.json")
    assert set(summary["test_sets"]) == {"test_ben", "test_mai"}
    assert summary["test_sets"]["test_ben"]["failed"] == 1
    assert summary["experiment"] == "odia_adapters" and summary["train_time_s"] is None
    for name in ("wer_test_ben.txt", "wer_test_ben_cer.txt", "wer_test_mai.txt", "wer_test_mai_cer.txt"):
        assert "%WER" in (out / name).read_text(encoding="utf-8")
    assert (out / "hyp_test.tsv").is_file()
    assert "test_ben (ben): WER" in run.stdout and "lost" in run.stderr


def test_inspect_shows_metadata(work):
    run = work["runs"]["inspect"]
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    metadata = json.loads((work["adapters"] / "adapters.json").read_text(encoding="utf-8"))
    assert info["base_fingerprint"] == metadata["base_fingerprint"]
    assert info["model_type"] == "seamless_m4t_v2" and info["extra"] == {"language": "ory"}
    enc = info["sets"]["enc"]
    assert enc["kind"] == "bottleneck" and enc["config"]["targets"] == ["speech_encoder", "text_decoder"]
    assert enc["num_parameters"] == metadata["sets"]["enc"]["num_parameters"] > 0
    assert enc["num_modules"] == 4


def test_inspect_text(work, capsys):
    assert cli.main(["inspect", str(work["adapters"]), str(work["v1_adapters"])]) == 0
    text = capsys.readouterr().out
    assert "base fingerprint:" in text and "seamless_m4t)" in text and "language:" in text
    assert "speech_encoder.encoder.layers.{0,1}" in text


def test_report_builds_table_and_png(work):
    run = work["runs"]["report"]
    assert run.returncode == 0, run.stderr
    table = (work["root"] / "report" / "results.md").read_text(encoding="utf-8")
    assert "| odia_test (ory) |" in table and "odia_encoder" in table and "**38.25 / 12.75**" in table
    png = (work["root"] / "report" / "results.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000


@pytest.mark.parametrize("name", ["transcribe", "evaluate", "inspect", "report", "build-tiny-model"])
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([name, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: m4t-adapters {name}")
    if name in ("transcribe", "evaluate"):
        for option in ("--model", "--adapters", "--lang", "--beam-size", "--batch-size", "--device"):
            assert option in text
        assert "--max-chunk-seconds" in text


def test_exit_codes_and_clear_errors(work, tmp_path, capsys):
    model = work["model"]
    bad = tmp_path / "empty.wav"
    sf.write(bad, np.zeros(0, dtype="float32"), 16000)
    # Everything failed: status 1, reasons on stderr.
    assert cli.main(["transcribe", str(bad), str(tmp_path / "nope.wav"), "--lang", "ben", *model]) == 1
    err = capsys.readouterr().err
    assert "2 of 2 input(s) failed" in err and "empty_audio" in err and "nope.wav" in err
    # One failure with --fail-on-error: status 1; the good transcript is still printed.
    args = ["transcribe", str(BN_WAVS[0]), str(bad), "--lang", "ben", "--fail-on-error", "--no-progress"]
    assert cli.main([*args, *model]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(BN_WAVS[0].stem + "\t") and "1 of 2 input(s) failed" in captured.err
    # Setup errors: status 2 and one line naming the problem.
    assert cli.main(["transcribe", str(BN_WAVS[0]), "--lang", "xyz", *model]) == 2
    assert "unknown language code 'xyz'" in capsys.readouterr().err
    v1_model = [*model[:2], "--adapters", str(work["v1_adapters"]), *MODEL_OPTIONS]
    assert cli.main(["transcribe", str(BN_WAVS[0]), "--lang", "ben", *v1_model]) == 2
    err = capsys.readouterr().err
    assert "v1_adapters" in err and "fingerprint" in err
    manifest = tmp_path / "lost.csv"
    write_asr_manifest([AsrEntry("lost", 1.0, str(tmp_path / "lost.wav"), "ben", "x")], manifest)
    assert cli.main(["evaluate", str(manifest), "--output-dir", str(tmp_path / "ev"), *model]) == 1
    assert "nothing to score" in capsys.readouterr().err
    assert cli.main(["inspect", str(tmp_path)]) == 2
    assert "adapters.json" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path), "--output", str(tmp_path / "r.md")]) == 2
    assert "no summary.json" in capsys.readouterr().err


def test_build_tiny_model_still_registered():
    assert {"build-tiny-model", "transcribe", "evaluate", "inspect", "report"} <= set(cli.COMMANDS)


def test_named_adapters_option(work, capsys):
    args = ["transcribe", str(BN_WAVS[0]), "--no-progress", "--model", work["model"][1]]
    args += ["--adapters", f"odia={work['adapters']}", *MODEL_OPTIONS]
    assert cli.main(args) == 0  # language from the adapters' metadata (ory)
    assert capsys.readouterr().out.startswith(BN_WAVS[0].stem + "\t")


def test_every_option_shows_its_default_in_help():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) >= {"transcribe", "evaluate", "inspect", "report", "translate", "build-tiny-model"}
    for name, sub in commands.items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if action.required or not action.option_strings or action.dest == "help":
                continue
            assert "default" in formatter._get_help_string(action), f"{name} {action.option_strings}"


@pytest.mark.parametrize(
    "value, why", [("0", "must be at least 1, got 0"), ("-1", "must be at least 1, got -1")]
)
def test_beam_size_below_one_is_a_usage_error(value, why, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["transcribe", "--model", "mini", "--beam-size", value, "x.wav"])
    assert info.value.code == 2 and f"argument --beam-size: {why}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["transcribe", "--model", "mini", "--max-chunk-seconds", "-3", "x.wav"])
    assert "must be 0 or more" in capsys.readouterr().err


def test_quantize_option_transcribes_with_int8_layers(work, capsys):
    args = ["transcribe", str(BN_WAVS[0]), "--no-progress", "--model", work["model"][1]]
    args += ["--adapters", str(work["adapters"]), "--quantize", "int8", *MODEL_OPTIONS]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.startswith(BN_WAVS[0].stem + "\t")
    with pytest.raises(SystemExit):
        cli.main([*args, "--quantize", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err
