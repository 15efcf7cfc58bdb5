#!/usr/bin/env python3
"""Write every recipe YAML as one flat, self-contained hyperpyyaml file, from one source.

The source is ``hparams/``: ``base.yaml`` (every knob, with its comment), one
``experiments/<Language>/<language>_data.yaml`` per language (its corpora) and
one small file per experiment that names what it extends in ``base_hparams:``
(a path relative to itself) and replaces WHOLE top-level entries (no deep
merge, so what an experiment says is exactly what runs). This script merges
each chain and writes ``recipes/<Language>/hparams/<experiment>.yaml``, which
SpeechBrain's ``load_hyperpyyaml`` (and its ``load_yaml_test``) loads alone::

    python tools/flat_recipes.py            # (re)write the recipes' hparams/
    python tools/flat_recipes.py --check    # exit 1 naming each file that is out of date

The same sources write the plugin's plain SpeechBrain recipe (``recipes/IndicVoices``,
laid out upstream): its four speech experiments per language fill one template,
``hparams/indicvoices_recipe.yaml.in``, from the engine file of the same experiment,
so the two recipes cannot disagree on a budget, learning rate or decoding setting.

Edit the sources, never the written files; ``tests/test_flat_recipes.py`` fails
when they differ from what this script writes.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import string
import sys
from pathlib import Path
from typing import Any

import ruamel.yaml

from speechbrain_m4t_adapters.training.hparams import check_entry, load_tree

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "hparams" / "experiments"
BASE_KEY = "base_hparams"
#: Where a written recipe file finds ``smoke.yaml`` and ``mini.yaml``, relative to itself.
OVERLAYS_FROM_RECIPE = "../../../hparams"
#: The plain SpeechBrain recipe's YAMLs: a template and where its files go.
INDICVOICES_TEMPLATE = REPO / "hparams" / "indicvoices_recipe.yaml.in"
INDICVOICES = REPO / "recipes" / "IndicVoices" / "hparams"
#: Its experiments -> (what the model adds, the paper's row), for each file's header.
INDICVOICES_EXPERIMENTS = {
    "encoder": ("bottleneck adapters after every Conformer layer (6M)", "Table P3 'Encoder Adapter (6M)'"),
    "encoder_large": (
        "bottleneck adapters of width 2048 after every Conformer layer (50M)",
        "Table P3 'Encoder Adapter (L) (50M)'",
    ),
    "decoder": ("bottleneck adapters after every text-decoder layer (6M)", "Table P3 'Decoder Adapter (6M)'"),
    "length_adaptor": ("a trainable copy of the length adaptor (46M)", "Tables P1/P3 'Length adapter (46M)'"),
}


class _SpeechBrainStyle(ruamel.yaml.representer.RoundTripRepresenter):
    """``True``/``False`` (SpeechBrain's yamllint allows no other) and ``null``, not an empty value.

    A subclass, so that ruamel's class-wide representer table is changed for these files only.
    """


_SpeechBrainStyle.add_representer(bool, lambda r, v: r.represent_scalar("tag:yaml.org,2002:bool", str(v)))
_SpeechBrainStyle.add_representer(
    type(None), lambda r, v: r.represent_scalar("tag:yaml.org,2002:null", "null")
)


def _yaml() -> ruamel.yaml.YAML:
    yaml = ruamel.yaml.YAML()
    yaml.Representer = _SpeechBrainStyle
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never wrap: a wrapped "!ref <...>" flow value no longer resolves
    yaml.indent(mapping=4, sequence=6, offset=4)  # as SpeechBrain's recipes
    return yaml


def chain(path: Path) -> list[tuple[Path, Any]]:
    """``(file, tree without base_hparams)`` along the base chain: the experiment first, the root last."""
    files: list[tuple[Path, Any]] = []
    path = path.resolve()
    while True:
        if any(path == seen for seen, _ in files):
            raise ValueError(f"{path}: {BASE_KEY} chain loops back on itself")
        tree = load_tree(path)  # the package's reader: bad YAML is named with its file
        base = tree.pop(BASE_KEY, None)
        files.append((path, tree))
        if base is None:
            return files
        path = (path.parent / str(base)).resolve()


def merge(files: list[tuple[Path, Any]]) -> Any:
    """Apply a chain from its root down; each child's key keeps its own line comment."""
    merged = files[-1][1]
    for path, tree in reversed(files[:-1]):
        for key, value in tree.items():
            check_entry(key, value, merged, str(path))  # a typo or a wrong type names the file
            merged[key] = value
            if key in tree.ca.items:
                merged.ca.items[key] = tree.ca.items[key]
    return merged


def _header(files: list[tuple[Path, Any]]) -> str:
    """The experiment's own description, then where the file comes from."""
    described = next((tree for _, tree in files if tree.ca.comment and tree.ca.comment[1]), None)
    lines = [t.value.rstrip("\n") for t in (described.ca.comment[1] if described else [])]
    names = " -> ".join(p.relative_to(REPO).as_posix() for p, _ in files)
    lines += [
        "#",
        f"# Written by tools/flat_recipes.py from {names}:",
        "# edit those and rerun it (tests/test_flat_recipes.py checks that this file is up to date).",
        "# Every entry below is one knob; `python train.py <this file> --key=value` overrides it.",
    ]
    return "\n".join(line if line.startswith("#") or not line else f"# {line}" for line in lines) + "\n"


def flat_text(source: Path) -> str:
    """The flat YAML of one experiment source file."""
    files = chain(source)
    tree = merge(files)
    tree.ca.comment = None
    tree["overlays_folder"] = OVERLAYS_FROM_RECIPE
    stream = io.StringIO()
    _yaml().dump(tree, stream)
    # ruamel writes the comment of a bare tag (`data_folder: !PLACEHOLDER`) on a line of its own
    text = re.sub(r"(: !PLACEHOLDER)\n +#", r"\1    #", stream.getvalue())
    return _header(files) + text


class _Fields(string.Template):
    """``${key}`` and ``${key.sub}`` (an entry of a mapping)."""

    idpattern = r"[a-z_][a-z0-9_.]*"


class _FieldValues(dict):
    """The given fields, then ``key`` or ``key.sub`` of the engine's merged tree (a KeyError names
    a template field the engine file lacks)."""

    def __init__(self, tree: Any, fields: dict[str, str]) -> None:
        super().__init__(fields)
        self.tree = tree

    def __missing__(self, key: str) -> str:
        value = self.tree
        for part in key.split("."):
            value = value[part]
        return _scalar(value)


def _scalar(value: Any) -> str:
    """A value as YAML writes it (SpeechBrain style: True/False, null)."""
    return "null" if value is None else str(value)


def _adapters_block(adapters: Any) -> str:
    """The entries of an ``adapters:`` mapping, indented under it, with the contributed lobe's tags."""
    stream = io.StringIO()
    _yaml().dump(adapters, stream)
    text = stream.getvalue().replace("speechbrain_m4t_adapters.adapters.", "speechbrain_m4t_adapters.model.")
    text = re.sub(r"(\S) {2,}#", r"\1  #", text)  # the engine aligns comments at 110 columns; this has 80
    return "".join(f"    {line}" for line in text.splitlines(keepends=True))


def indicvoices_text(source: Path, experiment: str) -> str:
    """The plain recipe's YAML of ``experiment``, its values taken from the engine's ``source``."""
    tree = merge(chain(source))
    model_adds, paper_row = INDICVOICES_EXPERIMENTS[experiment]
    fields = {
        "model_adds": model_adds,
        "paper_row": paper_row,
        "language_name": source.parent.name,
        "language_folder": source.parent.name.lower(),
        "train_hours": float(tree["datasets"]["train"]["hours"]),
        "valid_hours": float(tree["datasets"]["valid"]["hours"]),
        "adapters": _adapters_block(tree["adapters"]),
    }
    template = INDICVOICES_TEMPLATE.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(line for line in template if not line.startswith("#@"))
    return _Fields(text).substitute(_FieldValues(tree, {k: _scalar(v) for k, v in fields.items()}))


def indicvoices_targets() -> dict[Path, Path]:
    """Each engine source of an experiment the plain recipe has -> the recipe file written from it."""
    return {
        SOURCE / language / f"{language.lower()}_{experiment}.yaml": INDICVOICES
        / f"{language.lower()}_{experiment}.yaml"
        for language in ("Odia", "Maithili", "Bengali")
        for experiment in INDICVOICES_EXPERIMENTS
    }


def targets() -> dict[Path, Path]:
    """Each experiment source -> the recipe file written from it (``*_data.yaml`` are not experiments)."""
    return {
        source: REPO / "recipes" / source.parent.name / "hparams" / source.name
        for source in sorted(SOURCE.glob("*/*.yaml"))
        if not source.name.endswith("_data.yaml")
    }


def main(argv: list[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) every recipe YAML."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    written = {target: flat_text(source) for source, target in targets().items()}
    for source, target in indicvoices_targets().items():
        written[target] = indicvoices_text(source, source.stem.split("_", 1)[1])
    for target, text in written.items():
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for target in stale:
        print(f"{verb}: {os.path.relpath(target, REPO)}")
    print(f"{len(stale)} of {len(written)} recipe YAMLs {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
