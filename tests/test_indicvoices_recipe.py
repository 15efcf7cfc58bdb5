"""recipes/IndicVoices (the recipe laid out upstream): its data preparation, and train.py end to end."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "IndicVoices"
sys.path.insert(0, str(RECIPE))
from indicvoices_prepare import prepare_indicvoices  # noqa: E402

sys.path.insert(0, str(RECIPE.parents[1] / "tools"))
from hub_shard import write_hub_shard  # noqa: E402  (a fixture writer, not the recipe)


def _wav(path: Path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).standard_normal(int(16000 * seconds)).astype("float32")
    sf.write(path, 0.1 * noise, 16000)


def _corpus(root: Path) -> Path:
    """A small IndicVoices language folder: per-recording JSON and a JSON-lines manifest, bad rows in both."""
    segments = [
        {"start": 0.0, "end": 2.0, "text": "ଆମେ [noise] ଯିବା"},
        {"start": 2.0, "end": 4.5, "text": "ଘରକୁ ଯିବା"},
        {"start": 4.5, "end": 20.0, "text": "ପରେ"},  # ends past the 10 s recording
        {"start": 5.0, "end": 6.0, "text": "[noise]"},  # empty once the tag is removed
        {"start": 6.0, "end": 8.0, "text": "ଭଲ ଅଛି"},
    ]
    _wav(root / "train" / "rec1.wav", 10.0, 0)
    (root / "train" / "rec1.json").write_text(json.dumps({"verbatim": segments}), encoding="utf-8")
    for name in ("a", "b"):
        _wav(root / "train" / "audios" / f"{name}.wav", 1.5, ord(name))
    lines = [
        {"audio_filepath": "audios/a.wav", "text": "ଏକ", "duration": 1.5, "lang": "ory"},
        "{not json",
        {"audio_filepath": "audios/missing.wav", "text": "ଦୁଇ", "lang": "ory"},
        {"audio_filepath": "audios/b.wav", "text": "তিন", "lang": "ben"},
        {"audio_filepath": "audios/b.wav", "text": "ତିନି", "lang": "ory"},  # no duration: read from the file
    ]
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    (root / "train" / "manifest.jsonl").write_text(text + "\n", encoding="utf-8")
    _wav(root / "valid" / "rec2.wav", 3.0, 1)
    valid = {"verbatim": [{"start": 0.5, "end": 2.5, "text": "ଶେଷ"}]}
    (root / "valid" / "rec2.json").write_text(json.dumps(valid), encoding="utf-8")
    return root


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_prepare_writes_disjoint_subsets_and_names_each_skipped_row(tmp_path, caplog):
    data = _corpus(tmp_path / "odia")
    with caplog.at_level(logging.WARNING):
        counts = prepare_indicvoices(data, tmp_path / "csv", "ory", train_hours=4 / 3600, valid_hours=0.001)
    train, valid, test = (_read(tmp_path / "csv" / f"{name}.csv") for name in ("train", "valid", "test"))
    assert counts == {"train": len(train), "valid": len(valid), "test": 1} and train and valid
    assert list(train[0]) == ["ID", "duration", "wav", "start", "stop", "wrd"]
    pool = {"rec1_chunk_1", "rec1_chunk_2", "rec1_chunk_5", "a", "b"}  # the usable training rows
    assert {r["ID"] for r in train} | {r["ID"] for r in valid} <= pool
    assert not {r["ID"] for r in train} & {r["ID"] for r in valid}
    assert sum(float(r["duration"]) for r in train) <= 4 and sum(float(r["duration"]) for r in valid) <= 3.6
    rows = {r["ID"]: r for r in train + valid}
    if "rec1_chunk_1" in rows:
        assert rows["rec1_chunk_1"]["wrd"] == "ଆମେ ଯିବା" and rows["rec1_chunk_1"]["stop"] == "32000"
    assert test[0]["ID"] == "rec2_chunk_1" and (test[0]["start"], test[0]["stop"]) == ("8000", "40000")
    messages = [r.getMessage() for r in caplog.records]
    manifest = str(data / "train" / "manifest.jsonl")
    for where in (f"{data / 'train' / 'rec1.json'}:segment 3", f"{data / 'train' / 'rec1.json'}:segment 4"):
        assert any(where in m for m in messages), messages
    for number, reason in ((2, "not a JSON object"), (3, "not found"), (4, "language 'ben'")):
        assert any(f"{manifest}:{number}: " in m and reason in m for m in messages), messages
    assert any("skipped 5 unusable rows, kept 5" in m for m in messages), messages
    again = prepare_indicvoices(data, tmp_path / "csv", "ory")  # CSV files there: reused, as in SpeechBrain
    assert again == {} and _read(tmp_path / "csv" / "train.csv") == train


def test_prepare_reads_the_hub_release_and_writes_only_the_chosen_audio(tmp_path, caplog):

    def row(i: int, seconds: float, **fields) -> dict:
        buffer = io.BytesIO()
        sf.write(buffer, np.full(int(16000 * seconds), 0.01 * (i + 1), "float32"), 16000, format="WAV")
        values = {"audio": buffer.getvalue(), "path": f"u{i}.wav", "duration": seconds, "samples": 0}
        return {**values, "verbatim": f"ଶବ୍ଦ {i} [noise]", "lang": "odia", **fields}

    data = tmp_path / "odia"
    rows = [row(i, 1.0) for i in range(6)] + [row(6, 1.0, lang="bengali"), row(7, 1.0, verbatim="[noise]")]
    write_hub_shard(rows[:4], data / "train-00000-of-00002.parquet")
    write_hub_shard(rows[4:], data / "train-00001-of-00002.parquet")
    write_hub_shard([row(9, 2.0, path="v9.wav")], data / "valid-00000-of-00001.parquet")
    with caplog.at_level(logging.WARNING):
        counts = prepare_indicvoices(
            data, tmp_path / "csv", "ory", train_hours=3 / 3600, valid_hours=2 / 3600
        )
    assert counts == {"train": 3, "valid": 2, "test": 1}
    train, valid = _read(tmp_path / "csv" / "train.csv"), _read(tmp_path / "csv" / "valid.csv")
    for name, chosen in (("train", train), ("valid", valid)):
        written = sorted(p.name for p in (tmp_path / "csv" / "audio" / name).iterdir())
        assert written == sorted(f"{r['ID']}.wav" for r in chosen)  # the chosen rows' audio, no other
        for entry in chosen:
            i = int(entry["ID"][1:])
            audio, rate = sf.read(entry["wav"])
            assert (
                rate == 16000 and np.allclose(audio, 0.01 * (i + 1), atol=1e-4) and entry["wrd"] == f"ଶବ୍ଦ {i}"
            )
    messages = [r.getMessage() for r in caplog.records]
    shard = data / "train-00001-of-00002.parquet"
    assert any(f"{shard}:row 2: language 'bengali'" in m for m in messages), messages
    assert any(f"{shard}:row 3: empty transcript" in m for m in messages), messages


def _engine_ids(data: Path, csv_path: Path, **spec) -> set[str]:
    """IDs the engine recipes' ``indicvoices`` corpus keeps for ``spec`` (as in ``<language>_data.yaml``)."""
    from speechbrain_m4t_adapters.data import read_asr_manifest
    from speechbrain_m4t_adapters.data.specs import prepare_asr_spec

    prepare_asr_spec({"corpus": "indicvoices", "data_folder": str(data), "language": "ory", **spec}, csv_path)
    return {entry.id for entry in read_asr_manifest(csv_path)}


def _long_corpus(root: Path, hub: bool) -> Path:
    """60 utterances of 1-12 s (every 7th 25 s, past the training limit) by 8 speakers."""
    rng, rows = np.random.default_rng(7), []
    for i in range(60):
        seconds = 25.0 if i % 7 == 0 else float(rng.integers(4, 48)) / 4  # whole samples
        rows.append((f"u{i:02d}", seconds, f"ଶବ୍ଦ {i}", f"spk{i % 8}"))
    if hub:
        buffers = []
        for utt, seconds, text, speaker in rows:
            buffer = io.BytesIO()
            sf.write(buffer, np.zeros(int(16000 * seconds), "float32"), 16000, format="WAV")
            buffers.append(
                {
                    "audio": buffer.getvalue(),
                    "path": f"{utt}.wav",
                    "duration": seconds,
                    "samples": int(16000 * seconds),
                    "verbatim": text,
                    "lang": "odia",
                    "speaker_id": speaker,
                }
            )
        write_hub_shard(buffers[:25], root / "train-00000-of-00002.parquet")
        write_hub_shard(buffers[25:], root / "train-00001-of-00002.parquet")
        write_hub_shard(buffers[:1], root / "valid-00000-of-00001.parquet")  # the test set
        return root
    for r in range(6):  # six recordings of ten segments
        start, listed = 0.0, []
        for _, seconds, text, _ in rows[10 * r : 10 * r + 10]:
            listed.append({"start": start, "end": start + seconds, "text": text})
            start += seconds
        _wav(root / "train" / f"rec{r}.wav", start, r)
        (root / "train" / f"rec{r}.json").write_text(json.dumps({"verbatim": listed}), encoding="utf-8")
    _wav(root / "valid" / "rec9.wav", 2.0, 9)  # the test set
    (root / "valid" / "rec9.json").write_text(json.dumps({"verbatim": [{"start": 0, "end": 2, "text": "x"}]}))
    return root


@pytest.mark.parametrize("hub", [False, True], ids=["json", "hub"])
def test_recipe_and_engine_recipes_draw_the_same_training_and_validation_utterances(tmp_path, hub):
    """The paper's subsets are the same whichever recipe prepares them: the recipe's draw (with the
    duration limits train.py applies) and the engine's ``indicvoices`` corpus (as its data YAMLs
    ask: train with the limits, valid skipping the training budget), with the recipe's settings."""
    text = (RECIPE / "hparams" / "odia_encoder.yaml").read_text(encoding="utf-8")
    seed, low, high = (float(_top_level(text, k)) for k in ("selection_seed", "min_duration", "max_duration"))
    data = _long_corpus(tmp_path / "odia", hub)
    train_hours, valid_hours = 150 / 3600, 60 / 3600
    prepare_indicvoices(data, tmp_path / "recipe", "ory", train_hours, valid_hours, int(seed))
    recipe_train = {
        r["ID"] for r in _read(tmp_path / "recipe" / "train.csv") if low <= float(r["duration"]) <= high
    }
    recipe_valid = {r["ID"] for r in _read(tmp_path / "recipe" / "valid.csv")}
    limits = {"split": "train", "seed": int(seed), "min_duration": low, "max_duration": high}
    engine_train = _engine_ids(data, tmp_path / "train.csv", hours=train_hours, **limits)
    engine_valid = _engine_ids(
        data, tmp_path / "valid.csv", split="train", seed=int(seed), hours=valid_hours, skip_hours=train_hours
    )
    assert recipe_train and recipe_valid and not recipe_train & recipe_valid
    assert len(recipe_train) < 30  # a subset, not the whole split
    assert (recipe_train, recipe_valid) == (engine_train, engine_valid)


def test_recipe_and_engine_read_the_json_layouts_alike(tmp_path):
    """One reader (``indicvoices_layouts``) for both: the same utterances, bounds and words, with a
    negative start (clamped), a stale absolute path (found by name in ``../audios``) and bad rows."""
    from indicvoices_prepare import read_split

    from speechbrain_m4t_adapters.data import read_asr_manifest
    from speechbrain_m4t_adapters.data.specs import prepare_asr_spec

    data = _corpus(tmp_path / "odia")
    _wav(data / "train" / "audios" / "c.wav", 1.0, 3)
    recording = json.loads((data / "train" / "rec1.json").read_text(encoding="utf-8"))
    recording["verbatim"][0]["start"] = -0.3
    (data / "train" / "rec1.json").write_text(json.dumps(recording), encoding="utf-8")
    stale = {"audio_filepath": "/gone/c.wav", "text": "ଚାରି  [noise]", "lang": "ory"}
    (data / "train" / "sub").mkdir()
    (data / "train" / "sub" / "more.jsonl").write_text(json.dumps(stale) + "\n", encoding="utf-8")
    recipe = {
        r["ID"]: (round(r["start"] / 16000, 3), round(r["stop"] / 16000, 3), r["wrd"])
        for r in read_split(str(data), "train", "ory")
    }
    spec = {"corpus": "indicvoices", "data_folder": str(data), "language": "ory", "split": "train"}
    prepare_asr_spec(spec, tmp_path / "e.csv")
    engine = {
        e.id: (round(e.start or 0.0, 3), round(e.stop or 0.0, 3), e.transcript)
        for e in read_asr_manifest(tmp_path / "e.csv")
    }
    assert recipe == engine and len(engine) == 6
    assert engine["rec1_chunk_1"] == (0.0, 2.0, "ଆମେ ଯିବା") and engine["c"] == (0.0, 0.0, "ଚାରି")


def test_non_finite_segment_times_are_bad_rows_in_both_readers(tmp_path):
    """JSON allows NaN and Infinity: such segments are reported, never written with a NaN duration."""
    from indicvoices_prepare import read_split

    from speechbrain_m4t_adapters.data import read_asr_manifest, read_skipped, skipped_path
    from speechbrain_m4t_adapters.data.specs import prepare_asr_spec

    _wav(tmp_path / "odia" / "train" / "rec.wav", 4.0, 0)
    listed = [
        {"start": float("nan"), "end": 1.0, "text": "ଏକ"},
        {"start": 1.0, "end": float("inf"), "text": "ଦୁଇ"},
    ]
    listed.append({"start": 2.0, "end": 3.0, "text": "ତିନି"})
    (tmp_path / "odia" / "train" / "rec.json").write_text(json.dumps({"verbatim": listed}), encoding="utf-8")
    assert [r["ID"] for r in read_split(str(tmp_path / "odia"), "train", "ory")] == ["rec_chunk_3"]
    spec = {
        "corpus": "indicvoices",
        "data_folder": str(tmp_path / "odia"),
        "language": "ory",
        "split": "train",
    }
    report = prepare_asr_spec(spec, tmp_path / "e.csv")
    assert [e.id for e in read_asr_manifest(tmp_path / "e.csv")] == ["rec_chunk_3"]
    assert report.counts == {"bad_row": 2}
    assert [s.id for s in read_skipped(skipped_path(tmp_path / "e.csv"))] == ["rec_chunk_1", "rec_chunk_2"]


def test_engine_skips_hub_rows_of_another_language_as_the_recipe_does(tmp_path):
    """The language given (or the folder's) no longer relabels rows whose ``lang`` names another."""
    from indicvoices_prepare import read_split

    from speechbrain_m4t_adapters.data import read_asr_manifest, read_skipped, skipped_path
    from speechbrain_m4t_adapters.data.specs import prepare_asr_spec

    def row(i: int, lang: str) -> dict:
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(16000, "float32"), 16000, format="WAV")
        values = {"audio": buffer.getvalue(), "path": f"u{i}.wav", "duration": 1.0, "samples": 16000}
        return {**values, "verbatim": f"ଶବ୍ଦ {i}", "lang": lang}

    data = tmp_path / "odia"
    write_hub_shard([row(0, "odia"), row(1, "bengali"), row(2, "ory")], data / "train-00000-of-00001.parquet")
    spec = {"corpus": "indicvoices", "data_folder": str(data), "language": "ory", "split": "train"}
    report = prepare_asr_spec(spec, tmp_path / "e.csv")
    engine = {entry.id for entry in read_asr_manifest(tmp_path / "e.csv")}
    assert engine == {r["ID"] for r in read_split(str(data), "train", "ory")} == {"u0", "u2"}
    (skip,) = read_skipped(skipped_path(tmp_path / "e.csv"))
    assert report.counts == {"bad_row": 1}
    assert (skip.id, skip.detail) == ("u1", "language 'bengali', not 'ory'")


def test_hub_rows_without_a_finite_duration_are_dropped_by_both_readers(tmp_path):
    from indicvoices_prepare import read_split

    from speechbrain_m4t_adapters.data import read_asr_manifest
    from speechbrain_m4t_adapters.data.specs import prepare_asr_spec

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(16000, "float32"), 16000, format="WAV")
    durations = [1.0, float("nan"), float("inf"), 1.0]
    rows = [
        {
            "audio": buffer.getvalue(),
            "path": f"u{i}.wav",
            "duration": d,
            "samples": 16000,
            "verbatim": f"ଶବ୍ଦ {i}",
        }
        for i, d in enumerate(durations)
    ]
    data = tmp_path / "odia"
    write_hub_shard(rows, data / "train-00000-of-00001.parquet")
    spec = {"corpus": "indicvoices", "data_folder": str(data), "language": "ory", "split": "train"}
    report = prepare_asr_spec(spec, tmp_path / "e.csv")
    engine = {entry.id for entry in read_asr_manifest(tmp_path / "e.csv")}
    assert engine == {r["ID"] for r in read_split(str(data), "train", "ory")} == {"u0", "u3"}
    assert report.counts == {"bad_row": 2}


def _train(tmp_path: Path, data: Path, epochs: int, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "train.py",
        "hparams/odia_encoder.yaml",
        f"--data_folder={data}",
        f"--output_folder={tmp_path / 'run'}",
        "--model_source=tiny-v1",
        f"--model_cache={tmp_path / 'models'}",
        f"--number_of_epochs={epochs}",
        "--train_hours=0.0015",  # 5.4 s of the 9.5 s of usable training rows
        "--valid_hours=0.0011",  # 4 s of the rest
        "--batch_size=2",
        "--num_workers=0",
        "--device=cpu",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=600)


def test_train_prepares_trains_tests_and_resumes_from_its_checkpoint(tmp_path):
    data = _corpus(tmp_path / "odia")
    first = _train(tmp_path, data, 1)
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "run"
    train, valid = _read(run / "save" / "train.csv"), _read(run / "save" / "valid.csv")
    assert train and valid and not {r["ID"] for r in train} & {r["ID"] for r in valid}
    (checkpoint,) = (run / "save").glob("CKPT+*")
    assert {"m4t.ckpt", "optimizer.ckpt", "counter.ckpt"} <= {p.name for p in checkpoint.iterdir()}
    assert "%WER" in (run / "wer_test.txt").read_text(encoding="utf-8")
    # the same folder, one more epoch (in shuffled order): recovers epoch 1 and goes on
    second = _train(tmp_path, data, 2, "--sorting=random")
    assert second.returncode == 0, second.stderr[-3000:]
    log = (run / "train_log.txt").read_text(encoding="utf-8")
    assert re.findall(r"^epoch: (\d+)", log, re.M) == ["1", "2"]
    losses = [float(x) for x in re.findall(r"train loss: ([\d.e+-]+)", log)]
    assert len(losses) == 2 and all(np.isfinite(losses))


LANGUAGES = {"odia": ("Odia", "ory"), "maithili": ("Maithili", "mai"), "bengali": ("Bengali", "ben")}
EXPERIMENTS = ("encoder", "encoder_large", "decoder", "length_adaptor")
#: Settings the flat recipe files share with the engine's recipes/<Language>/hparams files.
SHARED = ("number_of_epochs", "lr", "weight_decay", "warmup_steps", "batch_size", "label_smoothing")
SHARED += (
    "max_grad_norm",
    "grad_accumulation_factor",
    "max_duration",
    "min_duration",
    "seed",
    "model_source",
    "loss_on_language_token",
)


def _top_level(text: str, key: str) -> str:
    (value,) = re.findall(rf"^{key}: *([^#\n]*?) *(?:#.*)?$", text, re.M)
    return value


def _adapters(text: str) -> list[str]:
    """The adapters block, comments dropped and tags reduced to the class name."""
    block = re.search(r"^adapters:.*\n((?:(?: {4}.*)?\n)*?)\S", text, re.M)[1]
    lines = [
        re.sub(r"speechbrain_m4t_adapters\.(?:adapters|model)\.", "", re.sub(r"\s*#.*$", "", line))
        for line in block.split("\n")
    ]
    return [line for line in lines if line.strip()]


def test_recipe_files_differ_by_language_names_only_and_keep_the_engine_recipes_settings():
    """The 12 flat files (written by tools/flat_recipes.py from the engine's sources and one template)
    keep the engine's settings and differ from each other by language names only."""
    for experiment in EXPERIMENTS:
        texts = {}
        for folder, (name, code) in LANGUAGES.items():
            text = (RECIPE / "hparams" / f"{folder}_{experiment}.yaml").read_text(encoding="utf-8")
            engine = (RECIPE.parent / name / "hparams" / f"{folder}_{experiment}.yaml").read_text(
                encoding="utf-8"
            )
            for key in SHARED:
                assert _top_level(text, key) == _top_level(engine, key), (folder, experiment, key)
            assert _top_level(text, "language") == code and _adapters(text) == _adapters(engine)
            texts[folder] = re.sub(rf"\b{folder}|\b{name}\b|\b{code}\b", "<language>", text)
        assert texts["odia"] == texts["maithili"] == texts["bengali"], experiment
    assert sorted(p.name for p in (RECIPE / "hparams").glob("*.yaml")) == sorted(
        f"{folder}_{experiment}.yaml" for folder in LANGUAGES for experiment in EXPERIMENTS
    )


def _recipe_module():
    """recipes/IndicVoices/train.py as a module (its Brain), under a name of its own."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("indicvoices_train", RECIPE / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_brain_and_engine_brain_compute_the_same_step(tmp_path):
    """The two Brains (recipe's AdapterASR, engine's AdapterBrain), on one lobe built from the recipe's
    hparams file and one batch, give the same training loss, optimizer groups, weights after one
    clipped warmup step, validation loss and greedy hypotheses."""
    import speechbrain as sb
    import torch
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_m4t_adapters import SeamlessM4T
    from speechbrain_m4t_adapters.tiny import build_tiny_once
    from speechbrain_m4t_adapters.training import AdapterBrain

    overrides = {
        "data_folder": str(tmp_path),
        "output_folder": str(tmp_path / "run"),
        "model_source": "tiny-v1",
    }
    with open(RECIPE / "hparams" / "odia_encoder.yaml", encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    torch.manual_seed(0)
    # the recipe's lobe arguments, the plugin's lobe (a subclass: the engine feeds it ``encoded=``)
    m4t = SeamlessM4T(
        **{**hparams["m4t"].keywords, "source": build_tiny_once("tiny-v1", tmp_path / "models")}
    )
    texts = ["ଆମେ ଘରକୁ ଯିବା", "ଭଲ ଅଛି"]
    wavs = [0.1 * torch.randn(16000 * seconds) for seconds in (2, 3)]
    common = [{"id": f"u{i}", "sig": wav} for i, wav in enumerate(wavs)]
    recipe_batch = sb.dataio.batch.PaddedBatch(
        [{**c, "wrd": t, "tokens": m4t.text_ids(t, "ory")} for c, t in zip(common, texts)]
    )
    engine_batch = sb.dataio.batch.PaddedBatch(
        [
            {**c, "target": torch.tensor(m4t.text_ids(t, "ory")), "transcript": t, "language": "ory"}
            for c, t in zip(common, texts)
        ]
    )
    keys = ("label_smoothing", "loss_on_language_token", "valid_search", "test_search", "warmup_steps")
    run_opts = {"device": "cpu", "max_grad_norm": 1e-3}  # small: the clipping acts
    recipe = _recipe_module().AdapterASR(
        modules={"m4t": m4t},
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    engine = AdapterBrain(
        modules={"m4t": m4t},
        opt_class=hparams["opt_class"],
        hparams={k: hparams[k] for k in keys},
        run_opts=run_opts,
    )
    params = list(m4t.trainable_parameters())
    start = [p.detach().clone() for p in params]
    results = {}
    for name, brain, batch in (("recipe", recipe, recipe_batch), ("engine", engine, engine_batch)):
        for p, value in zip(params, start):
            p.data.copy_(value)
        brain.init_optimizers()
        groups = {
            id(p): (g["lr"], g["weight_decay"]) for g in brain.optimizer.param_groups for p in g["params"]
        }
        m4t.eval()  # no dropout: both see the same network
        torch.manual_seed(1)
        loss = brain.compute_objectives(brain.compute_forward(batch, sb.Stage.TRAIN), batch, sb.Stage.TRAIN)
        brain.optimizer.zero_grad()
        brain.fit_batch(batch)  # warmup, backward, clipping, AdamW step
        stepped = [p.detach().clone() for p in params]
        brain.on_stage_start(sb.Stage.VALID)
        with torch.no_grad():
            valid = brain.compute_objectives(
                brain.compute_forward(batch, sb.Stage.VALID), batch, sb.Stage.VALID
            )
        hyps = (
            [" ".join(s["hyp_tokens"]) for s in brain.wer_metric.scores]
            if name == "recipe"
            else brain.results["hyps"]
        )
        results[name] = (float(loss.detach()), groups, stepped, float(valid), hyps)
    (r_loss, r_groups, r_step, r_valid, r_hyps), (e_loss, e_groups, e_step, e_valid, e_hyps) = (
        results.values()
    )
    assert r_loss == pytest.approx(e_loss, rel=1e-6) and r_valid == pytest.approx(e_valid, rel=1e-6)
    assert r_groups == e_groups and len({wd for _, wd in r_groups.values()}) == 2  # norms, biases: no decay
    assert all(torch.equal(a, b) for a, b in zip(r_step, e_step))
    assert not all(torch.equal(a, b) for a, b in zip(r_step, start))  # the step moved the weights
    assert r_hyps == e_hyps and len(r_hyps) == 2
