"""Training engine: end to end per mode on real shipped data, resume, learning, text-only path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import speechbrain as sb
import torch
from conftest import REAL

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig
from speechbrain_m4t_adapters.data import prepare_respin
from speechbrain_m4t_adapters.data.specs import prepare_asr_spec, prepare_text_spec
from speechbrain_m4t_adapters.model.decoding import transcribe
from speechbrain_m4t_adapters.training import AdapterBrain, InterleavedBatchSampler, asr_dataset, text_dataset
from speechbrain_m4t_adapters.training.hparams import load_experiment
from speechbrain_m4t_adapters.training.recipe import run_experiment

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"


def smoke_args(yaml: Path, output_root: Path, model: Path, *extra: str) -> list[str]:
    return [
        str(yaml),
        "--smoke=True",
        f"--output_root={output_root}",
        f"--model_source={model}",
        "--tiny_model_version=null",
        *extra,
    ]


def read_log_epochs(output_folder: Path) -> list[int]:
    lines = (output_folder / "train_log.txt").read_text().splitlines()
    return [int(line.split("epoch: ")[1].split(",")[0]) for line in lines if line.startswith("epoch:")]


@pytest.mark.parametrize(
    "experiment,mode",
    [
        ("Bengali/hparams/bengali_encoder.yaml", "asr"),
        ("Odia/hparams/odia_text_only.yaml", "text"),
        ("Maithili/hparams/maithili_mixed_decoder.yaml", "mixed"),
    ],
)
def test_end_to_end_per_mode_and_resume(experiment, mode, tmp_path, tiny_v1):
    args = smoke_args(RECIPES / experiment, tmp_path, tiny_v1)
    run_experiment(args)
    hparams, _ = load_experiment(args[0], "\n".join(a[2:].replace("=", ": ", 1) for a in args[1:]))
    folder = Path(hparams["output_folder"])
    assert hparams["mode"] == mode
    written = json.loads((folder / "summary.json").read_text())
    assert set(written["test_sets"]) == {"bengali", "maithili"}
    for name, lang in (("bengali", "ben"), ("maithili", "mai")):
        result = written["test_sets"][name]
        assert result["language"] == lang and result["num_utterances"] == 6
        assert 0.0 <= result["cer"] and 0.0 <= result["wer"]
        assert (folder / "test" / name / "wer.txt").read_text().count("\n") > 6
    assert written["trainable_params"] > 0 and written["train_time_s"] > 0
    assert (folder / "adapters" / "adapters.safetensors").is_file()
    checkpoints = list((folder / "save").glob("CKPT+*"))
    assert len(checkpoints) == 1 and (checkpoints[0] / "m4t.ckpt").is_file()
    assert read_log_epochs(folder) == [1]

    # A second run with more epochs resumes from the checkpoint instead of starting again.
    run_experiment(args + ["--number_of_epochs=2"])
    assert read_log_epochs(folder) == [1, 2]


def test_baseline_evaluates_without_training(tmp_path, tiny_v1):
    run_experiment(smoke_args(RECIPES / "Odia/hparams/odia_baseline.yaml", tmp_path, tiny_v1))
    summary = json.loads((tmp_path / "odia_baseline" / "1986" / "summary.json").read_text())
    assert summary["trainable_params"] == 0 and summary["train_time_s"] is None
    assert set(summary["test_sets"]) == {"bengali", "maithili"}
    assert not (tmp_path / "odia_baseline" / "1986" / "save").exists() or not list(
        (tmp_path / "odia_baseline" / "1986" / "save").glob("CKPT+*")
    )


def test_cross_lingual_pivot_loads_bengali_adapters(tmp_path, tiny_v1):
    run_experiment(smoke_args(RECIPES / "Bengali/hparams/bengali_length_adaptor.yaml", tmp_path, tiny_v1))
    bengali = tmp_path / "bengali_length_adaptor" / "1986" / "adapters"
    run_experiment(
        smoke_args(RECIPES / "Odia/hparams/odia_bengali_pivot_length_adaptor.yaml", tmp_path, tiny_v1)
    )
    pivot = json.loads((tmp_path / "odia_bengali_pivot_length_adaptor" / "1986" / "summary.json").read_text())
    assert pivot["trainable_params"] == 0
    assert [s["name"] for s in pivot["extra"]["adapter_sets"]] == ["length_adaptor"]
    assert pivot["extra"]["adapter_sets"][0]["active"] is True
    assert json.loads((bengali / "adapters.json").read_text())["language"] == "ben"


def test_text_mode_never_runs_the_speech_encoder(tmp_path, tiny_v2):
    m4t = SeamlessM4T(tiny_v2, adapters={"dec": BottleneckConfig(bottleneck=16, targets=["text_decoder"])})
    calls = []
    m4t.model.speech_encoder.register_forward_pre_hook(lambda *a: calls.append(1))
    csv = tmp_path / "pairs.csv"
    prepare_text_spec(
        {"kind": "flores", "flores_dir": REAL / "flores200", "src": "eng_Latn", "tgt": "ory_Orya"}, csv
    )
    data = text_dataset(csv, m4t)
    hparams = {
        "label_smoothing": 0.0,
        "loss_on_language_token": True,
        "checkpoint_metric": "loss",
        "output_folder": str(tmp_path),
        "train_logger": sb.utils.train_logger.FileTrainLogger(tmp_path / "log.txt"),
        "valid_search": {"num_beams": 1, "max_new_tokens": 4},
        "test_search": {"num_beams": 1, "max_new_tokens": 4},
    }
    brain = AdapterBrain(
        modules={"m4t": m4t},
        opt_class=lambda p: torch.optim.AdamW(p, lr=1e-2),
        hparams=hparams,
        run_opts={"device": "cpu"},
    )
    brain.fit(
        range(1), data, data, train_loader_kwargs={"batch_size": 32}, valid_loader_kwargs={"batch_size": 64}
    )
    assert calls == []
    assert brain.train_stats["loss"] > 0


def test_adapter_training_on_real_utterances_halves_the_loss(tiny_v2, tmp_path):
    """Gradients reach the adapters and the data pipeline is right: the loss on 6 real clips falls by half."""
    torch.manual_seed(0)
    m4t = SeamlessM4T(
        tiny_v2,
        adapters={
            "enc": BottleneckConfig(bottleneck=64, targets=["speech_encoder"]),
            "dec": BottleneckConfig(bottleneck=64, targets=["text_decoder"]),
        },
    )
    csv = tmp_path / "bn.csv"
    prepare_respin(REAL / "respin", "bn", csv)
    dataset = asr_dataset(csv, m4t)
    batch = sb.dataio.batch.PaddedBatch([dataset[i] for i in range(len(dataset))])
    brain = AdapterBrain(
        modules={"m4t": m4t},
        opt_class=lambda p: torch.optim.AdamW(p, lr=2e-2),
        hparams={"label_smoothing": 0.0, "loss_on_language_token": False},
        run_opts={"device": "cpu"},
    )
    brain.init_optimizers()
    m4t.train()
    losses = []
    for _ in range(60):
        brain.optimizer.zero_grad()
        loss = brain.compute_objectives(brain.compute_forward(batch, sb.Stage.TRAIN), batch, sb.Stage.TRAIN)
        loss.backward()
        brain.optimizer.step()
        losses.append(loss.item())
    print(f"learning test: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert losses[-1] <= 0.5 * losses[0]


def test_every_recipe_yaml_resolves_with_smoke(tmp_path):
    engine_recipes = (p for p in RECIPES.glob("*/hparams/*.yaml") if p.parts[-3] != "IndicVoices")
    files = sorted(engine_recipes)
    assert len(files) >= 60
    for path in files:
        hparams, _ = load_experiment(path, f"smoke: True\noutput_root: {tmp_path}")
        assert hparams["mode"] in ("asr", "text", "mixed"), path
        assert callable(hparams["m4t"]), path
        real, _ = load_experiment(path, "data_folder: /data")
        assert str(real["model_source"]) == "facebook/hf-seamless-m4t-medium", path
        assert real["test_sets"], path


def test_interleaved_batches_are_homogeneous_and_cover_everything():
    sampler = InterleavedBatchSampler([7, 5], [3, 2], shuffle=True, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3 + 3
    assert sorted(i for b in batches for i in b) == list(range(12))
    assert all(all(i < 7 for i in b) or all(i >= 7 for i in b) for b in batches)
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_dataset_spec_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="train: \\['folder'\\] are not arguments of prepare_respin"):
        prepare_asr_spec({"corpus": "respin", "folder": "x", "lang": "bn"}, tmp_path / "x.csv", what="train")


def _torchrun(recipe: str, args: list[str]) -> str:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a free port: parallel test runs must not meet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}"]
    command += [str(RECIPES / recipe / "train.py"), *args, "--distributed_backend=gloo"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def _replica_checksums(log: str, when: str) -> list[str]:
    import ast
    import re

    match = re.search(rf"checksum per rank at {when} of training: (\[.*?\])", log)
    assert match, f"no replica checksum logged at {when}"
    return ast.literal_eval(match.group(1))


def test_torchrun_ddp_replicas_stay_identical(tmp_path, tiny_v1):
    """Two CPU processes (gloo): DDP replicas are bit-identical after wrapping and after training."""
    args = smoke_args(RECIPES / "Bengali/hparams/bengali_encoder.yaml", tmp_path, tiny_v1)
    log = _torchrun("Bengali", args)
    start, end = _replica_checksums(log, "start"), _replica_checksums(log, "end")
    print(f"DDP replica checksums: start {start}, end {end}")
    assert len(start) == len(end) == 2
    assert start[0] == start[1] and end[0] == end[1] and start[0] != end[0]  # trained, in sync
    summary = json.loads((tmp_path / "bengali_encoder" / "1986" / "summary.json").read_text())
    assert summary["test_sets"]["bengali"]["num_utterances"] == 6  # shards gathered, none repeated
    assert read_log_epochs(tmp_path / "bengali_encoder" / "1986") == [1]  # one writer


def test_torchrun_frozen_cache_trains_exactly_as_without_it(tmp_path, tiny_v1):
    """2 gloo processes, decoder adapters, 2 epochs: with the frozen-output cache (each rank caches its
    shard of the speech-encoder outputs in epoch 1, reuses them in epoch 2) the replicas stay identical
    and end bit-identical to an uncached run, with the same losses."""
    import re

    yaml = RECIPES / "Bengali/hparams/bengali_decoder.yaml"
    runs = {}
    for name in ("plain", "cached"):
        extra = ["--number_of_epochs=2", f"--frozen_cache={name == 'cached'}", "--test_sets={}"]
        log = _torchrun("Bengali", smoke_args(yaml, tmp_path / name, tiny_v1, *extra))
        end = _replica_checksums(log, "end")
        assert end[0] == end[1], f"{name}: replicas differ"
        train_log = (tmp_path / name / "bengali_decoder" / "1986" / "train_log.txt").read_text()
        runs[name] = (log, end[0], re.findall(r"train loss: ([\d.e+-]+)", train_log))
    (cached_log, cached_end, cached_losses), (plain_log, plain_end, plain_losses) = (
        runs["cached"],
        runs["plain"],
    )
    assert cached_end == plain_end and cached_losses == plain_losses and len(plain_losses) == 2
    rates = re.findall(
        r"frozen-output cache \(speech_encoder\): (\d+) utterances.*?batch hit rate (\d+)%", cached_log
    )
    assert (
        rates and all(int(n) > 0 for n, _ in rates) and max(int(r) for _, r in rates) == 50
    )  # epoch 2 all hits
    assert "frozen-output cache" not in plain_log


def test_torchrun_sharded_evaluation_equals_single_process(tmp_path, tiny_v1):
    """Test sets decoded in shards on 2 ranks and gathered give the single-process WER and hypotheses."""
    yaml = RECIPES / "Odia/hparams/odia_baseline.yaml"
    _torchrun("Odia", smoke_args(yaml, tmp_path / "ddp", tiny_v1))
    run_experiment(smoke_args(yaml, tmp_path / "single", tiny_v1))
    runs = {name: tmp_path / name / "odia_baseline" / "1986" for name in ("ddp", "single")}
    summaries = {name: json.loads((f / "summary.json").read_text()) for name, f in runs.items()}
    for test_set in ("bengali", "maithili"):
        ddp, single = (summaries[n]["test_sets"][test_set] for n in ("ddp", "single"))
        assert ddp["num_utterances"] == single["num_utterances"] == 6
        assert (ddp["wer"], ddp["cer"]) == (single["wer"], single["cer"])
        hyps = [(f / "test" / test_set / "hypotheses.tsv").read_text(encoding="utf-8") for f in runs.values()]
        assert hyps[0] == hyps[1] and hyps[0].count("\n") == 7


def test_evaluation_sets_are_never_cut_by_training_duration_limits(tmp_path, tiny_v1):
    """max_duration/min_duration skip training utterances only; every test utterance is decoded."""
    from speechbrain_m4t_adapters.data import read_asr_manifest

    args = smoke_args(RECIPES / "Bengali/hparams/bengali_encoder.yaml", tmp_path, tiny_v1)
    run_experiment(args + ["--max_duration=3.0", "--number_of_epochs=0"])
    manifests = tmp_path / "manifests" / "ben" / "1986"
    train = read_asr_manifest(manifests / "train.csv")
    assert len(train) < 6 and all(e.duration <= 3.0 for e in train)  # training limit applied
    assert len(read_asr_manifest(manifests / "valid.csv")) == 6
    summary = json.loads((tmp_path / "bengali_encoder" / "1986" / "summary.json").read_text())
    assert {n: r["num_utterances"] for n, r in summary["test_sets"].items()} == {"bengali": 6, "maithili": 6}
    assert max(e.duration for e in read_asr_manifest(manifests / "test_bengali.csv")) > 3.0


def test_long_evaluation_utterances_are_decoded_in_chunks(tiny_v2, real_clips):
    """Over max_decode_seconds an utterance is cut at quiet points and its chunks' texts joined."""
    from speechbrain.utils.data_utils import batch_pad_right

    from speechbrain_m4t_adapters.model.decoding import chunk_bounds, join_texts

    m4t = SeamlessM4T(tiny_v2).eval()
    waves = [real_clips[0][0], real_clips[1][0]]
    limit = 0.8 * max(len(w) for w in waves) / 16000  # only the longest clip is over the limit
    wavs, lens = batch_pad_right(waves)
    batch = sb.dataio.batch.PaddedBatch([{"sig": w, "language": "ben"} for w in waves])
    brain = AdapterBrain(
        modules={"m4t": m4t}, hparams={"max_decode_seconds": limit}, run_opts={"device": "cpu"}
    )
    search = {"num_beams": 1, "max_new_tokens": 8}
    hidden, mask = m4t(wavs, lens)
    texts = brain._hypotheses(batch, hidden, mask, search)
    long_row = max(range(2), key=lambda i: len(waves[i]))
    chunks = [waves[long_row][a:b] for a, b in chunk_bounds(waves[long_row], limit)]
    assert len(chunks) == 2
    assert texts[long_row] == join_texts(transcribe(m4t, *batch_pad_right(chunks), "ben", **search))
    short = 1 - long_row
    one, one_lens = batch_pad_right([waves[short]])
    assert texts[short] == transcribe(m4t, one, one_lens, "ben", **search)[0]


def test_optimizer_groups_warmup_annealing_and_global_clipping(tiny_v2):
    """Per-set lr/weight decay, no decay on norms/biases, linear warmup, clipping over every group."""
    from speechbrain_m4t_adapters.adapters import FinetuneConfig
    from speechbrain_m4t_adapters.training.optim import scale_peak_lr

    m4t = SeamlessM4T(
        tiny_v2,
        adapters={
            "length_adaptor": FinetuneConfig(targets=["length_adaptor"], lr=1e-4, weight_decay=0.05),
            "enc": BottleneckConfig(bottleneck=8),
        },
    )
    brain = AdapterBrain(
        modules={"m4t": m4t},
        opt_class=lambda groups: torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.01),
        hparams={"warmup_steps": 4, "label_smoothing": 0.0, "loss_on_language_token": False},
        run_opts={"device": "cpu", "max_grad_norm": 1e-3},
    )
    brain.init_optimizers()
    groups = {g["name"]: g for g in brain.optimizer.param_groups}
    assert set(groups) == {"length_adaptor", "length_adaptor (norms, biases)", "enc", "enc (norms, biases)"}
    assert (groups["length_adaptor"]["lr"], groups["length_adaptor"]["weight_decay"]) == (1e-4, 0.05)
    assert (groups["enc"]["lr"], groups["enc"]["weight_decay"]) == (1e-3, 0.01)
    assert (
        groups["enc (norms, biases)"]["weight_decay"]
        == groups["length_adaptor (norms, biases)"]["weight_decay"]
        == 0
    )
    assert all(p.ndim == 1 for p in groups["enc (norms, biases)"]["params"])
    assert sum(len(g["params"]) for g in groups.values()) == len(m4t.trainable_parameters())

    seen = []
    for _ in range(6):
        for p in m4t.trainable_parameters():
            p.grad = torch.zeros_like(p)
        brain.optimizers_step()
        seen.append(groups["enc"]["lr"])
    assert seen == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    assert groups["length_adaptor"]["lr"] == pytest.approx(1e-4)
    scale_peak_lr(brain.optimizer, 0.5)  # annealing keeps the groups' ratio
    assert (groups["enc"]["peak_lr"], groups["length_adaptor"]["peak_lr"]) == pytest.approx((5e-4, 5e-5))

    # Clipping is global: the gradients the optimizer steps with have norm max_grad_norm over ALL
    # groups (SpeechBrain's default clips the first group only).
    seen_norms = []
    brain.optimizer.step = lambda *a, **k: seen_norms.append(
        torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in m4t.trainable_parameters()])).item()
    )
    for p in m4t.trainable_parameters():
        p.grad = torch.ones_like(p)
    brain.optimizers_step()
    assert seen_norms == pytest.approx([1e-3], rel=1e-4)


def test_text_only_on_translated_transcripts_prepares_the_speech_manifest(tmp_path, tiny_v1):
    """The paper's text-only data: each training transcript as target, its translation as source."""
    rows = (REAL / "respin/bn/transcripts.tsv").read_text(encoding="utf-8").splitlines()
    translations = tmp_path / "translations.tsv"
    translations.write_text(
        "".join(f"{r.split(chr(9))[0]}\ttranslation number {i}\n" for i, r in enumerate(rows))
    )
    manifests = tmp_path / "manifests" / "ben" / "1986"
    corpus = (
        f"{{train: {{kind: translated_transcripts, asr_manifest: {manifests}/train.csv, "
        f"translations_file: {translations}}}, valid: {{kind: flores, flores_dir: {REAL}/flores200, "
        "src: eng_Latn, tgt: ben_Beng, splits: [devtest]}}"
    )
    args = smoke_args(
        RECIPES / "Bengali/hparams/bengali_text_only.yaml", tmp_path, tiny_v1, f"--text_corpus={corpus}"
    )
    run_experiment(args)
    from speechbrain_m4t_adapters.data import read_text_manifest

    pairs = read_text_manifest(manifests / "text_train.csv")
    transcripts = dict(r.split("\t", 1) for r in rows)
    assert len(pairs) == len(rows) == 6
    assert all(p.target == transcripts[p.id] and p.source.startswith("translation number") for p in pairs)
    assert all(p.src_lang == "eng" and p.tgt_lang == "ben" for p in pairs)
    summary = json.loads((tmp_path / "bengali_text_only" / "1986" / "summary.json").read_text())
    assert summary["extra"]["mode"] == "text" and summary["test_sets"]["bengali"]["num_utterances"] == 6
    # A second experiment of the language reuses the manifests made from the same spec.
    stamp = (manifests / "train.csv").stat().st_mtime_ns
    run_experiment(smoke_args(RECIPES / "Bengali/hparams/bengali_encoder.yaml", tmp_path, tiny_v1))
    assert (manifests / "train.csv").stat().st_mtime_ns == stamp
