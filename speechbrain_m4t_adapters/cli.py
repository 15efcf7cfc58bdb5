"""``m4t-adapters`` command line: one sub-command per task.

Run ``m4t-adapters --help`` or ``m4t-adapters <command> --help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]
ArgumentAdder = Callable[[argparse.ArgumentParser], None]
COMMANDS: dict[str, tuple[str, ArgumentAdder, Handler]] = {}


def command(name: str, help_text: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``func(args) -> exit code`` as sub-command ``name``."""

    def register(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help_text, add_arguments, func)
        return func

    return register


def _build_tiny_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="folder to write the checkpoint to")
    parser.add_argument("--version", choices=["v1", "v2"], default="v2", help="SeamlessM4T architecture")
    parser.add_argument("--corpus", default=None, help="tokenizer text (default: bundled FLORES+RESPIN)")
    parser.add_argument("--vocab-size", type=int, default=1000, help="SentencePiece vocabulary size")
    parser.add_argument("--hidden-size", type=int, default=32, help="model width")
    parser.add_argument("--layers", type=int, default=2, help="layers per stack")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")


@command("build-tiny-model", "build a tiny random SeamlessM4T checkpoint offline", _build_tiny_arguments)
def build_tiny(args: argparse.Namespace) -> int:
    from .tiny import BUNDLED_CORPUS, build_tiny_model

    folder = build_tiny_model(
        args.output,
        version=args.version,
        corpus=args.corpus or BUNDLED_CORPUS,
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        layers=args.layers,
        seed=args.seed,
    )
    print(folder)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="m4t-adapters", description="Adapt SeamlessM4T to low-resource ASR with small adapters."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, func) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub_parser)
        sub_parser.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``m4t-adapters`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
