"""Run an experiment from its YAML: prepare -> train -> checkpoint -> evaluate -> summary.

Every recipe's ``train.py`` is a call to :func:`run_experiment`; what differs
between experiments lives in YAML only.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import speechbrain as sb
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.distributed import run_on_main
from torch.utils.data import DataLoader
from transformers.utils import logging as hf_logging

from ..adapters.publish import describe_training_data, write_hub_files
from ..data.specs import prepare_asr_spec, prepare_text_spec
from ..evaluation.summary import write_summary
from ..progress import progress_enabled
from ..tiny import build_tiny_model
from .brain import AdapterBrain
from .datasets import asr_dataset, mixed_loader, text_dataset
from .hparams import load_experiment
from .loggers import with_tensorboard

logger = logging.getLogger(__name__)
MODES = ("asr", "text", "mixed")


def _prepare_cached(prepare, spec: dict, csv: Path, what: str, defaults: dict) -> None:
    """Prepare ``csv`` unless it exists from the very same spec (manifests are shared).

    The spec is stored next to the manifest; a different spec (other hours,
    duration limits, corpus path, ...) prepares it again instead of reusing it.
    """
    record = csv.with_suffix(".spec.json")
    fingerprint = json.dumps({"spec": spec, "defaults": defaults}, sort_keys=True, default=str)
    fresh = csv.exists() and record.exists() and record.read_text(encoding="utf-8") == fingerprint
    prepare(spec, csv, what=what, overwrite=not fresh, **defaults)
    record.write_text(fingerprint, encoding="utf-8")


def _prepare(hparams: dict) -> dict[str, Path]:
    """Write every manifest the experiment needs; returns name -> CSV path."""
    folder = Path(hparams["manifest_folder"])
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {
        "max_duration": hparams.get("max_duration"),
        "min_duration": hparams.get("min_duration"),
        "seed": hparams.get("seed"),
        "verify_decode": hparams.get("verify_audio"),
    }
    mode = hparams["mode"]
    text_specs = hparams.get("text_corpus") or {}
    referenced = json.dumps(dict(text_specs), default=str)
    wanted = {}
    for key, spec in (hparams.get("datasets") or {}).items():
        # Speech sets: train/valid for speech training, and any a text corpus is built from
        # (e.g. the transcripts of the 5-hour subset for translated-transcript pairs).
        if (mode != "text" and key in ("train", "valid")) or str(folder / f"{key}.csv") in referenced:
            wanted[key] = spec
    for name, spec in (hparams.get("test_sets") or {}).items():
        wanted[f"test_{name}"] = spec
    csvs = {}
    for key, spec in wanted.items():
        csvs[key] = folder / f"{key}.csv"
        run_on_main(_prepare_cached, args=[prepare_asr_spec, dict(spec), csvs[key], key, defaults])
    if mode in ("text", "mixed"):
        for key in ("train", "valid"):
            if key not in text_specs:
                raise ValueError(f"mode {mode!r} needs text_corpus: {{{key}: ...}} in the hyperparameters")
            csvs[f"text_{key}"] = folder / f"text_{key}.csv"
            run_on_main(
                _prepare_cached,
                args=[prepare_text_spec, dict(text_specs[key]), csvs[f"text_{key}"], f"text_{key}", {}],
            )
    return csvs


def _train_loader(hparams: dict, m4t, csvs: dict[str, Path]):
    mode = hparams["mode"]
    sorting = hparams.get("sorting", "ascending")
    kwargs = dict(hparams["train_dataloader_opts"])
    if mode == "text":
        train = text_dataset(csvs["text_train"], m4t, sorting)
    else:
        train = asr_dataset(csvs["train"], m4t, sorting)
    if mode == "mixed":
        text = text_dataset(csvs["text_train"], m4t, "random")
        return mixed_loader(
            train, text, kwargs.get("batch_size", 1), hparams["text_batch_size"], seed=hparams["seed"]
        ), {}
    if sorting == "random":
        kwargs["shuffle"] = True
    if hparams.get("dynamic_batching"):
        kwargs = {
            "batch_sampler": DynamicBatchSampler(train, **hparams["dynamic_batch_sampler"]),
            "num_workers": kwargs.get("num_workers", 0),
        }
    return train, kwargs


def run_experiment(argv: Sequence[str] | None = None) -> dict:
    """Run the experiment described by ``argv`` (``hparams.yaml --key=value ...``).

    Returns the summary written to ``<output_folder>/summary.json``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)  # no-op unless launched with torchrun
    hparams, merged_text = load_experiment(hparams_file, overrides)
    if hparams["mode"] not in MODES:
        raise ValueError(f"{hparams_file}: mode must be one of {MODES}, got {hparams['mode']!r}")
    if "noprogressbar" not in run_opts.overridden_args and not progress_enabled():  # quiet in CI/logs
        given = {key: run_opts[key] for key in run_opts.overridden_args}
        run_opts = type(run_opts).from_dictionary({**given, "noprogressbar": True})
        hf_logging.disable_progress_bar()  # transformers' weight-loading bars too
    hparams["train_logger"] = with_tensorboard(hparams)
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"])
    Path(hparams["output_folder"], "hyperparams.yaml").write_text(merged_text, encoding="utf-8")

    tiny_version = hparams.get("tiny_model_version")
    if tiny_version and not Path(hparams["model_source"], "config.json").exists():
        run_on_main(build_tiny_model, args=[hparams["model_source"], tiny_version])

    csvs = _prepare(hparams)
    m4t = hparams["m4t"]()
    checkpointer = hparams["checkpointer"]
    checkpointer.add_recoverable("m4t", m4t)
    brain = AdapterBrain(
        modules={"m4t": m4t},
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=checkpointer,
    )
    if hparams["mode"] == "text":
        valid = text_dataset(csvs["text_valid"], m4t, "ascending")
    else:
        valid = asr_dataset(csvs["valid"], m4t, "ascending")

    trainable = sum(p.numel() for p in m4t.trainable_parameters())
    if hparams["number_of_epochs"] > 0 and trainable > 0:
        train, train_kwargs = _train_loader(hparams, m4t, csvs)
        if isinstance(train, DataLoader):  # mixed mode: the Brain reseeds its sampler per epoch
            brain.train_loader = train
        brain.fit(
            hparams["epoch_counter"],
            train,
            valid,
            train_loader_kwargs=train_kwargs,
            valid_loader_kwargs=hparams["valid_dataloader_opts"],
        )
    else:
        logger.info(
            "nothing to train (%d epochs, %d trainable parameters): evaluating only",
            hparams["number_of_epochs"],
            trainable,
        )

    test_sets = {
        name: asr_dataset(csvs[f"test_{name}"], m4t, "ascending") for name in (hparams.get("test_sets") or {})
    }
    results = brain.evaluate_test_sets(test_sets, hparams["test_dataloader_opts"])
    report = m4t.parameter_report()
    summary = {}
    if sb.utils.distributed.if_main_process():
        if m4t.adapters.sets:
            m4t.save_adapters(
                Path(hparams["output_folder"]) / "adapters",
                language=hparams["language"],
                experiment=hparams["experiment_name"],
                training_data=describe_training_data(hparams),
            )
        summary = write_summary(
            Path(hparams["output_folder"]) / "summary.json",
            experiment=hparams["experiment_name"],
            test_sets=results,
            model_source=str(hparams["model_source"]),
            trainable_params=report["trainable_parameters"],
            total_params=report["base_parameters"],
            train_time_s=hparams["train_clock"].seconds if trainable else None,
            extra={
                "mode": hparams["mode"],
                "adapter_sets": report["adapter_sets"],
                "language": hparams["language"],
            },
        )
        if m4t.adapters.sets:  # the model card gets the results table
            write_hub_files(Path(hparams["output_folder"]) / "adapters", summary=summary)
    return summary
