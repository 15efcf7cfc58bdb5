"""Run an experiment from its YAML: prepare -> train -> checkpoint -> evaluate -> summary.

Every recipe's ``train.py`` calls :func:`run_experiment`; experiments differ in their YAML only.
"""

import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import speechbrain as sb
import torch
from filelock import FileLock
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.distributed import if_main_process, run_on_main
from torch.utils.data import DataLoader
from transformers.utils import logging as hf_logging

from ..adapters.counting import parameter_report
from ..bundled import resolve_model_source
from ..data.atomic import atomic_write
from ..data.specs import prepare_asr_spec, prepare_text_spec
from ..evaluation.summary import finished_summary, forgetting_entry, verdict_line, write_summary
from ..inference.publish import describe_training_data, publish_adapters
from ..progress import progress_enabled
from ..tiny import build_tiny_model
from .brain import AdapterBrain
from .budget import apply_lr_by_kind, budget_line, experiment_parameters, scale_to_paper_fraction
from .datasets import asr_dataset, mixed_loader, text_dataset
from .forgetting import evaluate_base, evaluate_forgetting
from .hparams import load_experiment
from .loggers import with_tensorboard
from .preflight import check_pretrained_adapters, check_writable
from .run_folder import check_settings, exclusive_run

logger = logging.getLogger(__name__)
MODES = ("asr", "text", "mixed")


def _prepare_cached(prepare, spec: dict, csv: Path, what: str, defaults: dict) -> None:
    """Prepare ``csv`` unless it exists from the very same spec (stored beside it; manifests are shared)."""
    record = csv.with_suffix(".spec.json")
    fingerprint = json.dumps({"spec": spec, "defaults": defaults}, sort_keys=True, default=str)
    with FileLock(f"{csv}.lock"):  # experiments started together: one prepares, the others then reuse
        fresh = csv.exists() and record.exists() and record.read_text(encoding="utf-8") == fingerprint
        prepare(spec, csv, what=what, overwrite=not fresh, **defaults)
        with atomic_write(record, encoding="utf-8") as handle:
            handle.write(fingerprint)


def _prepare(hparams: dict) -> dict[str, Path]:
    """Write every manifest the experiment needs; returns name -> CSV path."""
    folder = Path(hparams["manifest_folder"])
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {"max_duration": hparams.get("max_duration"), "min_duration": hparams.get("min_duration")}
    defaults.update(seed=hparams.get("seed"), verify_decode=hparams.get("verify_audio"))
    # Duration limits protect training memory only: validation and test sets are never cut
    # (long utterances are decoded in chunks), or scores would silently be on a subset.
    eval_defaults = {**defaults, "max_duration": None, "min_duration": None}
    mode, text_specs = hparams["mode"], hparams.get("text_corpus") or {}
    referenced = json.dumps(dict(text_specs), default=str)
    # Speech sets: train/valid for speech training, and any a text corpus is built from
    # (e.g. the transcripts of the 5-hour subset for translated-transcript pairs).
    wanted = {
        key: spec
        for key, spec in (hparams.get("datasets") or {}).items()
        if (mode != "text" and key in ("train", "valid")) or str(folder / f"{key}.csv") in referenced
    }
    wanted.update({f"test_{n}": s for n, s in (hparams.get("test_sets") or {}).items()})
    wanted.update({f"forget_{n}": s for n, s in (hparams.get("forgetting_sets") or {}).items()})
    csvs = {}
    for key, spec in wanted.items():
        csvs[key] = folder / f"{key}.csv"
        limits = defaults if key.startswith("train") else eval_defaults
        run_on_main(_prepare_cached, args=[prepare_asr_spec, dict(spec), csvs[key], key, limits])
    # translation: used by text corpora without a translations_file
    mt = {"translation": hparams.get("translation"), "max_chars": hparams.get("max_text_chars")}
    for key in ("train", "valid") if mode in ("text", "mixed") else ():
        if key not in text_specs:
            raise ValueError(f"mode {mode!r} needs text_corpus: {{{key}: ...}} in the hyperparameters")
        csvs[f"text_{key}"] = csv = folder / f"text_{key}.csv"
        run_on_main(_prepare_cached, args=[prepare_text_spec, dict(text_specs[key]), csv, f"text_{key}", mt])
    return csvs


def _dataset(hparams: dict, m4t, csvs: dict[str, Path], split: str, sorting: str, kind: str | None = None):
    """The ``split`` set of the run's kind (text in ``text`` mode, else speech)."""
    unwritable = hparams.get("unwritable_text", "keep")
    if (kind or hparams["mode"]) == "text":
        return text_dataset(csvs[f"text_{split}"], m4t, sorting, unwritable)
    return asr_dataset(csvs[split], m4t, sorting, unwritable)


def _train_loader(hparams: dict, m4t, csvs: dict[str, Path]):
    sorting, kwargs = hparams.get("sorting", "ascending"), dict(hparams["train_dataloader_opts"])
    train = _dataset(hparams, m4t, csvs, "train", sorting)
    if hparams["mode"] == "mixed":
        text = _dataset(hparams, m4t, csvs, "train", "random", kind="text")
        sizes = (kwargs.get("batch_size", 1), hparams["text_batch_size"])
        return mixed_loader(train, text, *sizes, seed=hparams["seed"]), {}
    if sorting == "random":
        kwargs["shuffle"] = True
    if hparams.get("dynamic_batching"):
        sampler = DynamicBatchSampler(train, **hparams["dynamic_batch_sampler"])
        kwargs = {"batch_sampler": sampler, "num_workers": kwargs.get("num_workers", 0)}
    return train, kwargs


def parameter_summary(report: dict) -> str:
    """One line for the log: trainable vs all parameters (SpeechBrain's count) and vs the base, per set.

    Example
    -------
    >>> line = parameter_summary({"trainable_parameters": 6_331_392, "base_parameters": 972_508_480,
    ...     "total_parameters": 978_839_872, "trainable_percent": 0.647, "percent_of_base": 0.651,
    ...     "adapter_sets": [{"name": "encoder", "kind": "bottleneck", "parameters": 6_331_392,
    ...     "trainable": True}]})
    >>> for part in line.replace(", 0.651%", "; 0.651%").split("; "):
    ...     print(part)
    trainable parameters: 6,331,392 (6.33M) = 0.647% of all 978,839,872 (SpeechBrain's count above)
    0.651% of the 972,508,480 base
    sets: encoder (bottleneck, 6,331,392, trained)
    """
    sets = ", ".join(
        f"{s['name']} ({s['kind']}, {s['parameters']:,}, {'trained' if s['trainable'] else 'frozen'})"
        for s in report["adapter_sets"]
    )
    return (
        f"trainable parameters: {report['trainable_parameters']:,} "
        f"({report['trainable_parameters'] / 1e6:.2f}M) = {report['trainable_percent']:.3f}% of all "
        f"{report['total_parameters']:,} (SpeechBrain's count above), "
        f"{report['percent_of_base']:.3f}% of the {report['base_parameters']:,} base; sets: {sets or 'none'}"
    )


def _start(argv: list[str]) -> tuple[dict, sb.core.RunOptions, str]:
    """Parse ``argv``, load the hyperparameters, check everything checkable before any work."""
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)  # no-op unless launched with torchrun
    hparams, merged_text = load_experiment(hparams_file, overrides)
    if hparams["mode"] not in MODES:
        raise ValueError(f"{hparams_file}: mode must be one of {MODES}, got {hparams['mode']!r}")
    # Under DDP a text batch leaves the speech-side sets without gradients: only mixed runs
    # need DDP to look for unused parameters (it costs a graph traversal per step).
    if "find_unused_parameters" not in run_opts.overridden_args and "find_unused_parameters" not in hparams:
        unused, given = hparams["mode"] == "mixed", run_opts.overridden_args | {"find_unused_parameters"}
        run_opts = dataclasses.replace(run_opts, find_unused_parameters=unused, overridden_args=given)
    output, save = Path(hparams["output_folder"]), hparams["save_folder"]
    check_writable([output, save, output / "adapters", output / "test", hparams["manifest_folder"]])
    check_pretrained_adapters(hparams.get("pretrained_adapters") or [], argv, hparams["hparams_file"])
    resolve_model_source(hparams["model_source"])  # a damaged bundled model fails here, before any data work
    if "noprogressbar" not in run_opts.overridden_args and not progress_enabled():  # quiet in CI/logs
        given = {key: run_opts[key] for key in run_opts.overridden_args}
        run_opts = type(run_opts).from_dictionary({**given, "noprogressbar": True})
        hf_logging.disable_progress_bar()  # transformers' weight-loading bars too
    hparams["train_logger"] = with_tensorboard(hparams)
    device = run_opts["device"] or ("cuda:0" if torch.cuda.is_available() else "cpu")  # SpeechBrain's default
    if (threads := cpu_threads(hparams.get("cpu_threads"), device)) is not None:
        torch.set_num_threads(threads)
    return hparams, run_opts, merged_text


def cpu_threads(setting: int | str | None, device: str = "cpu") -> int | None:
    """Threads for a CPU run: ``auto`` leaves the cores other jobs keep busy (1-minute load) free (on a
    shared machine torch's default, every core, is many times slower than one thread).
    ``OMP_NUM_THREADS`` wins over ``auto``; an integer is used as given; None keeps torch's default.

    Example
    -------
    >>> cpu_threads(3), cpu_threads(None), cpu_threads("auto", device="cuda:0")
    (3, None, None)
    """
    if setting is None or not str(device).startswith("cpu"):
        return None
    if str(setting) != "auto":
        return int(setting)
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


def _own_folder(hparams: dict, merged_text: str) -> None:
    """This run's settings agree with the folder's earlier run (or it starts fresh); then log there."""
    output = Path(hparams["output_folder"])
    aside = [p.name for p in (Path(hparams["save_folder"]), output / "frozen_cache") if p.parent == output]
    aside += ["adapters", "test", "summary.json", "train_log.txt", "hyperparams.yaml", "log.txt", "env.log"]
    if if_main_process():
        check_settings(output, merged_text, bool(hparams.get("start_fresh")), aside)
    Path(hparams["save_folder"]).mkdir(parents=True, exist_ok=True)  # the checkpointer's, if moved aside
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"])
    Path(hparams["output_folder"], "hyperparams.yaml").write_text(merged_text, encoding="utf-8")
    logger.info("torch threads: %d (cpu_threads: %s)", torch.get_num_threads(), hparams.get("cpu_threads"))
    tiny_version = hparams.get("tiny_model_version")
    if tiny_version and not Path(hparams["model_source"], "config.json").exists():
        run_on_main(build_tiny_model, args=[hparams["model_source"], tiny_version])


def _fit(brain: AdapterBrain, hparams: dict, csvs: dict[str, Path]) -> int:
    """Train the trainable parameters (if any, and epochs are asked); returns their number."""
    m4t = brain.m4t
    valid = _dataset(hparams, m4t, csvs, "valid", "ascending")
    trainable = sum(p.numel() for p in m4t.trainable_parameters())
    report = parameter_report(m4t.adapters)
    logger.info(parameter_summary(report))
    base = report["base_parameters"] if hparams.get("budget_scaling") == "paper_fraction" else None
    logger.info(budget_line(experiment_parameters(report), hparams.get("paper_params"), base))
    if hparams["number_of_epochs"] <= 0 or trainable == 0:
        nothing = "nothing to train (%d epochs, %d trainable parameters): evaluating only"
        logger.info(nothing, hparams["number_of_epochs"], trainable)
        return trainable
    train, train_kwargs = _train_loader(hparams, m4t, csvs)
    if isinstance(train, DataLoader):  # mixed mode: SpeechBrain's fit reseeds its sampler per epoch
        brain.train_sampler = train.batch_sampler
    loaders = dict(train_loader_kwargs=train_kwargs, valid_loader_kwargs=hparams["valid_dataloader_opts"])
    brain.fit(hparams["epoch_counter"], train, valid, **loaders)
    return trainable


def _evaluate(brain: AdapterBrain, hparams: dict, csvs: dict[str, Path]) -> tuple[dict, dict, dict]:
    """Test-set metrics, the same sets with adapters off (``compare_base``), and the forgetting check."""
    m4t, loader_opts = brain.m4t, hparams["test_dataloader_opts"]
    names = hparams.get("test_sets") or {}
    test_sets = {name: asr_dataset(csvs[f"test_{name}"], m4t, "ascending") for name in names}
    results = brain.evaluate_test_sets(test_sets, loader_opts)
    versus_base = {}
    if hparams.get("compare_base") and m4t.adapters.sets:  # the same test sets, adapters off
        base = evaluate_base(brain, test_sets, loader_opts)
        versus_base = {name: forgetting_entry(results[name], base[name]) for name in results}
    forget = {n: csvs[f"forget_{n}"] for n in hparams.get("forgetting_sets") or {}}
    return results, versus_base, evaluate_forgetting(brain, forget, loader_opts)  # adapters on vs off


def _save_results(
    brain: AdapterBrain, hparams: dict, trainable: int, evaluated: tuple[dict, dict, dict]
) -> dict:
    """Adapters, ``summary.json`` and the model card (main process; others return an empty dict)."""
    if not if_main_process():
        return {}
    m4t, output = brain.m4t, Path(hparams["output_folder"])
    results, versus_base, forgetting = evaluated
    report = parameter_report(m4t.adapters)
    search = hparams["test_search"]  # recorded so `evaluate` decodes the same way by default
    decoding = {key: search.get(key) for key in ("num_beams", "max_new_tokens")}
    decoding["max_chunk_seconds"] = hparams.get("max_decode_seconds")
    about = dict(language=hparams["language"], experiment=hparams["experiment_name"], decoding=decoding)
    if m4t.adapters.sets:
        m4t.save_adapters(output / "adapters", training_data=describe_training_data(hparams), **about)
    summary = write_summary(
        output / "summary.json",
        experiment=hparams["experiment_name"],
        test_sets=results,
        model_source=str(hparams["model_source"]),
        trainable_params=report["trainable_parameters"],
        total_params=report["base_parameters"],
        train_time_s=hparams["train_clock"].seconds if trainable else None,
        forgetting=forgetting,
        extra={
            "mode": hparams["mode"],
            "adapter_sets": report["adapter_sets"],
            "language": hparams["language"],
            "nonfinite_steps_skipped": brain.nonfinite_steps_skipped,
            "epochs_trained": hparams["epoch_counter"].current,
            "decoding": decoding,
            **({"versus_base": versus_base} if versus_base else {}),
        },
    )
    if m4t.adapters.sets:  # the model card gets the results table
        publish_adapters(output / "adapters", summary=summary)
    return summary


def run_experiment(argv: Sequence[str] | None = None) -> dict:
    """Run the experiment of ``argv`` (``hparams.yaml --key=value ...``); returns its ``summary.json``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    hparams, run_opts, merged_text = _start(argv)
    # One lock holder: the main process; the other ranks share its folder.
    lock = exclusive_run(hparams["output_folder"]) if if_main_process() else contextlib.nullcontext()
    try:
        with lock, _stop_on_sigterm(hparams):
            _own_folder(hparams, merged_text)
            return _run(hparams, run_opts)
    finally:  # a torchrun group left alive at exit: gloo's threads can abort it ("terminate called ...")
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


@contextlib.contextmanager
def _stop_on_sigterm(hparams: dict):
    """A SIGTERM (a scheduler's stop, ``kill``) ends the run with a message saying how to resume."""

    def stop(signum, frame):
        """Log where to resume, then leave as a SIGTERM would (rc 128 + 15)."""
        saves = f"checkpoints are in {hparams['save_folder']} (saves are complete or absent)"
        logger.error("stopped by SIGTERM; %s: run the same command again to resume", saves)
        raise SystemExit(128 + signum)

    main = threading.current_thread() is threading.main_thread()  # signals are for the main thread only
    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _run(hparams: dict, run_opts: sb.core.RunOptions) -> dict:
    """Prepare, train, evaluate and save, in an output folder this process owns."""
    csvs, adapters = _prepare(hparams), hparams.get("adapters") or {}
    paper_fraction = hparams.get("budget_scaling") == "paper_fraction"  # mini: shares of the base, not counts
    lines = scale_to_paper_fraction(adapters, hparams["model_source"]) if paper_fraction else []
    for line in lines + apply_lr_by_kind(adapters, hparams.get("lr_by_kind") or {}):
        logger.info(line)
    m4t, checkpointer = hparams["m4t"](), hparams["checkpointer"]
    checkpointer.add_recoverable("m4t", m4t)
    brain = AdapterBrain({"m4t": m4t}, hparams["opt_class"], hparams, run_opts, checkpointer)
    trainable, epochs = _fit(brain, hparams, csvs), hparams["epoch_counter"].current
    output = Path(hparams["output_folder"])
    if not hparams.get("test_sets"):  # e.g. a sweep on the validation split: nothing is decoded, no summary
        if m4t.adapters.sets and if_main_process():
            m4t.save_adapters(output / "adapters", language=hparams["language"])
        print(f"{hparams['experiment_name']}: no test_sets, trained only (validation in train_log.txt)")
        return {}
    summary_path = output / "summary.json"
    summary = finished_summary(summary_path, list(hparams["test_sets"]), epochs)
    if summary is not None and not hparams.get("redo_test"):
        decoded = "%s: test sets already decoded after epoch %d (--redo_test=True decodes again)"
        logger.info(decoded, summary_path, epochs)
    else:
        summary = _save_results(brain, hparams, trainable, _evaluate(brain, hparams, csvs))
        if summary:
            where = output.resolve()
            saved = f" and adapters in {where / 'adapters'}" if m4t.adapters.sets else ""
            print(f"{hparams['experiment_name']}: summary in {where / 'summary.json'}{saved}", flush=True)
    # The last lines of a run with ``compare_base``: adapted vs base, per test set.
    for name, entry in ((summary or {}).get("extra", {}).get("versus_base") or {}).items():
        print(verdict_line(name, entry), flush=True)
    return summary
