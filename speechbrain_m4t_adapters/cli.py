"""``m4t-adapters`` command line: one sub-command per task (``m4t-adapters <command> --help``)."""

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .progress import progress_enabled

Handler = Callable[[argparse.Namespace], int]
#: An option of a sub-command: (argument group or None, flags, ``add_argument`` keywords).
Argument = tuple[str | None, tuple[str, ...], dict]
COMMANDS: dict[str, tuple[str, Sequence[Argument], Handler]] = {}


def _arg(*flags: str, group: str | None = None, **options) -> Argument:
    return group, flags, options


def command(name: str, help_text: str, *arguments: Argument):
    """Register ``func(args) -> exit code`` as sub-command ``name`` with options ``arguments``."""

    def _register(func: Handler) -> Handler:
        COMMANDS[name] = (help_text, arguments, func)
        return func

    return _register


def _arguments(args: argparse.Namespace, *names: str) -> dict:
    """The options ``names`` of ``args`` as keyword arguments (named as the called function's parameters)."""
    return {name: getattr(args, name) for name in names}


def _parse(text: str, kind: type, noun: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a beam, batch or token count of 0 or less is a usage error).

    Example
    -------
    >>> positive_int("4")
    4
    """
    if (value := _parse(text, int, "an integer")) < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number >= 0."""
    if not (value := _parse(text, float, "a number")) >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


@command(
    "build-tiny-model",
    "build a tiny random SeamlessM4T checkpoint offline",
    _arg("--output", required=True, help="folder to write the checkpoint to"),
    _arg("--version", choices=["v1", "v2"], default="v2", help="SeamlessM4T architecture"),
    _arg("--corpus", default=None, help="tokenizer text (default: bundled FLORES+RESPIN)"),
    _arg("--vocab-size", type=positive_int, default=1000, help="SentencePiece vocabulary size"),
    _arg("--hidden-size", type=positive_int, default=32, help="model width"),
    _arg("--layers", type=positive_int, default=2, help="layers per stack"),
    _arg("--seed", type=int, default=0, help="seed of the random weights"),
)
def build_tiny(args: argparse.Namespace) -> int:
    """Build a tiny random checkpoint folder."""
    from .tiny import BUNDLED_CORPUS, build_tiny_model

    settings = _arguments(args, "version", "vocab_size", "hidden_size", "layers", "seed")
    print(build_tiny_model(args.output, corpus=args.corpus or BUNDLED_CORPUS, **settings))
    return 0


_model = functools.partial(_arg, group="model")
_MODEL_ARGUMENTS = [
    _model("--model", required=True, help="SeamlessM4T hub id or local checkpoint folder"),
    _model(
        "--adapters",
        action="append",
        default=[],
        metavar="[NAME=]FOLDER",
        help="saved adapter folder (repeatable); the first is the default, and folders saved with a "
        "language are used for that language",
    ),
    _model("--lang", help="output language, ISO 639-3 (default: from adapters/rows)"),
    _model(
        "--beam-size",
        type=positive_int,
        help="beam width, 1 = greedy (default: the adapters' training-time test decoding, else 1)",
    ),
    _model("--batch-size", type=positive_int, default=8, help="chunks per forward pass"),
    _model("--device", help="cpu, cuda, cuda:1... (default: cuda if available)"),
    _model(
        "--max-chunk-seconds",
        type=non_negative_float,
        default=30.0,
        help="cut longer audio at pauses into chunks of at most this length (0: never cut)",
    ),
    _model(
        "--max-new-tokens",
        type=positive_int,
        help="token limit per chunk (default: the adapters' training-time value, else the model's)",
    ),
    _model("--dtype", default="float32", help="base weights: float32, bfloat16, float16"),
    _model(
        "--quantize",
        choices=["int8", "int8-encoder"],
        help="CPU: run the base's linear layers in int8 (int8-encoder: the speech encoder's only)",
    ),
    _model("--hf-cache", help="Hugging Face cache folder for hub downloads"),
    _arg("--no-progress", action="store_true", help="no progress bar on stderr"),
    _arg(
        "--fail-on-error",
        action="store_true",
        help="exit with status 1 if any input fails (default: only if all fail)",
    ),
]


def _load_asr(args: argparse.Namespace):
    from transformers.utils import logging as hf_logging

    from .inference import M4TAdaptedASR

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # NAME=FOLDER pairs name the profiles; plain folders keep their folder name.
    named = [a.split("=", 1) for a in args.adapters if "=" in a]
    if 0 < len(named) < len(args.adapters):
        raise ValueError("--adapters: name every folder (NAME=FOLDER) or none of them")
    asr = M4TAdaptedASR.from_model(
        args.model,
        adapter_folders=dict(named) if named else args.adapters,
        save_path=args.hf_cache,
        num_beams=args.beam_size,
        max_chunk_seconds=args.max_chunk_seconds or None,
        **_arguments(args, "device", "dtype", "max_new_tokens", "batch_size", "quantize"),
    )
    if args.lang is not None:
        args.lang = asr.m4t.languages.normalize(args.lang)
    return asr


def _progress(args: argparse.Namespace) -> bool:
    return progress_enabled(False if args.no_progress else None)


@command(
    "transcribe",
    "transcribe audio files, folders or manifests",
    _arg("inputs", nargs="+", help="audio files, folders (searched recursively) and/or .csv ASR manifests"),
    _arg("--output", default=None, help="write a TSV (ID, wav, language, transcript) here"),
    *_MODEL_ARGUMENTS,
)
def transcribe(args: argparse.Namespace) -> int:
    """Transcribe audio files or folders."""
    from .inference import collect_inputs, failure_report
    from .inference.inputs import unique_ids
    from .inference.results import write_tsv

    inputs = unique_ids(collect_inputs(args.inputs))
    results = _load_asr(args).transcribe_files(inputs, lang=args.lang, progress=_progress(args))
    ok = [r for r in results if r.ok]
    if args.output:
        rows = ([r.id, r.path, r.lang, " ".join(r.text.split())] for r in ok)
        out = write_tsv(args.output, ["ID", "wav", "language", "transcript"], rows)
        print(f"wrote {len(ok)} transcript(s) to {out}", file=sys.stderr)
    else:
        for r in ok:
            print(f"{r.id}\t{' '.join(r.text.split())}")
    if report := failure_report(results):
        print(report, file=sys.stderr)
    failed = len(results) - len(ok)
    return 1 if failed and (failed == len(results) or args.fail_on_error) else 0


@command(
    "evaluate",
    "transcribe a manifest and score WER/CER (summary.json + alignments)",
    _arg("manifest", help="ASR manifest CSV (ID,duration,wav,language,transcript)"),
    _arg("--output-dir", required=True, help="folder for summary.json, alignments, hypotheses"),
    _arg(
        "--name", help="test set name (default: the manifest file stem without test_, as training names it)"
    ),
    _arg("--experiment", default=None, help="experiment name in the summary"),
    *_MODEL_ARGUMENTS,
)
def evaluate(args: argparse.Namespace) -> int:
    """Transcribe a manifest and score it."""
    from .data.manifest import read_asr_manifest
    from .inference import evaluate_manifest

    read_asr_manifest(args.manifest)  # fail on a bad manifest before loading the model
    asr = _load_asr(args)
    options = _arguments(args, "name", "experiment", "lang")
    try:
        summary = evaluate_manifest(asr, args.manifest, args.output_dir, progress=_progress(args), **options)
    except RuntimeError as error:  # every row failed: nothing to score
        print(error, file=sys.stderr)
        return 1
    for name, m in summary["test_sets"].items():
        counts = f"({m['num_utterances']} scored, {m['failed']} failed)"
        print(f"{name} ({m['language']}): WER {m['wer']:.2f}  CER {m['cer']:.2f}  {counts}")
    print(f"wrote {Path(args.output_dir) / 'summary.json'}", file=sys.stderr)
    if failed := summary["extra"]["failed"]:
        print(f"{len(failed)} row(s) failed:", file=sys.stderr)
        for utt, reason in failed.items():
            print(f"  {utt}: {reason}", file=sys.stderr)
    return 1 if failed and args.fail_on_error else 0


@command(
    "inspect",
    "show an adapter folder's sets, placements, sizes and base model, and check its weights "
    "against adapters.json (exit status 1 on a mismatch, 2 on unreadable adapters.json)",
    _arg("folders", nargs="+", help="adapter folders (adapters.json + adapters.safetensors)"),
    _arg("--json", action="store_true", help="print JSON instead of text"),
    _arg("--modules", action="store_true", help="list every host module"),
)
def inspect(args: argparse.Namespace) -> int:
    """Show what an adapter folder holds."""
    import json

    from .inference.inspection import describe_adapters, format_description

    infos, unreadable = [], 0
    for folder in args.folders:
        try:
            infos.append(describe_adapters(folder))
        except (OSError, ValueError) as error:  # missing or malformed adapters.json: no traceback
            print(f"m4t-adapters inspect: error: {error}", file=sys.stderr)
            unreadable += 1
    if args.json and infos:
        print(json.dumps(infos if len(infos) > 1 else infos[0], indent=2, ensure_ascii=False))
    elif infos:
        print("\n\n".join(format_description(info, args.modules) for info in infos))
    if failed := unreadable + sum(1 for info in infos if info["problems"]):
        print(f"{failed} of {len(args.folders)} adapter folder(s) failed the health check", file=sys.stderr)
    return 2 if unreadable else 1 if failed else 0


@command(
    "report",
    "collect experiment summaries into a markdown table and a bar chart",
    _arg("paths", nargs="+", help="summary.json files or experiment folders (searched)"),
    _arg("--output", default="results.md", help="markdown table to write"),
    _arg("--png", default=None, help="bar chart to write (default: --output with .png)"),
    _arg("--metric", choices=["wer", "cer"], default="wer", help="metric to bold and plot"),
)
def report(args: argparse.Namespace) -> int:
    """Collect experiment summaries into a results table."""
    from .evaluation.report import build_report

    png = args.png or str(Path(args.output).with_suffix(".png"))
    print(build_report(args.paths, args.output, png, metric=args.metric))
    print(f"wrote {args.output} and {png}", file=sys.stderr)
    return 0


@command(
    "translate",
    "translate a manifest's transcripts with the base model (text-only training data)",
    _arg("manifest", help="ASR manifest CSV whose transcripts are translated"),
    _arg("--output", required=True, help="TSV `ID<TAB>translation` (resumed / reused)"),
    _arg("--model", required=True, help="base SeamlessM4T hub id or local folder"),
    _arg("--tgt-lang", default="eng", help="language of the translations"),
    _arg("--num-beams", type=positive_int, default=4, help="beam size"),
    _arg("--batch-size", type=positive_int, default=16, help="sentences per batch"),
    _arg("--max-new-tokens", type=positive_int, default=200, help="longest translation in tokens"),
    _arg("--device", default=None, help="cuda | cpu (default: cuda when available)"),
    _arg("--dtype", default="float32", help="float32 | bfloat16 | float16"),
    _arg("--overwrite", action="store_true", help="translate again even if the spec matches"),
)
def translate(args: argparse.Namespace) -> int:
    """``m4t-adapters translate``: transcripts -> a translations TSV by the base model."""
    from .data.translate import translate_transcripts

    settings = _arguments(
        args, "tgt_lang", "num_beams", "batch_size", "max_new_tokens", "device", "dtype", "overwrite"
    )
    result = translate_transcripts(args.manifest, args.output, model_source=args.model, **settings)
    rate = f" ({result.sentences_per_second:.2f} sentences/s)" if result.translated else ""
    print(f"{result.path}: {result.translated} translated{rate}, {result.reused} reused")
    return 0


class _DefaultsHelp(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        said = "default" in text or action.required or action.default is argparse.SUPPRESS
        if said or not action.option_strings:
            return text
        if isinstance(action, argparse._StoreTrueAction):
            return f"{text} (default: off)"
        shown = "not set" if action.default in (None, []) else action.default
        return f"{text} (default: {shown})"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="m4t-adapters", description="Adapt SeamlessM4T to low-resource ASR with small adapters."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, arguments, func) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text, formatter_class=_DefaultsHelp)
        groups: dict[str | None, argparse._ActionsContainer] = {None: cmd}
        for group, flags, options in arguments:
            if group not in groups:
                groups[group] = cmd.add_argument_group(group)
            groups[group].add_argument(*flags, **options)
        cmd.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``m4t-adapters`` console script.

    Returns 0 on success, 1 when inputs failed (see ``--fail-on-error``) and 2 on a usage or setup
    error (bad path, unknown language, adapters for another base...), printed as one line."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"m4t-adapters {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
