#!/usr/bin/env python3
"""Lay this package's recipes and lobe out in SpeechBrain's source tree (docs/upstream.md).

    python tools/layout_upstream.py OUTPUT_DIR

writes, under OUTPUT_DIR (a scratch folder, never a SpeechBrain checkout):

* ``speechbrain/integrations/huggingface/seamless_m4t/``: the lobe
  (``model/``) and the adapters (``adapters/``), relative imports rewritten to
  the flat folder's siblings;
* ``recipes/IndicVoices/ASR/seamless_m4t_adapters/``: the plugin's
  ``recipes/IndicVoices/`` (``train.py`` with its Brain, ``indicvoices_prepare.py``,
  flat ``hparams/<language>_<experiment>.yaml``, ``README.md``), ``!new:`` tags
  rewritten, an ``extra_requirements.txt``, and the tiny offline model its test
  rows and the unit tests build (``tiny_seamless_m4t.py`` + its corpus: test
  scaffolding, not integration code);
* ``tests/recipes/IndicVoices.csv``: the plugin's table of recipe-test rows, as is;
* ``tests/unittests/``: the plugin's SpeechBrain-style unit tests, imports and paths rewritten.

The recipe needs nothing of the plugin. Everything else (training engine,
per-language engine recipes, data preparation of other corpora, CLI, inference
interface) stays in the plugin (docs/upstream.md).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "speechbrain_m4t_adapters"
LOBE = "speechbrain.integrations.huggingface.seamless_m4t"
RECIPE = Path("recipes/IndicVoices/ASR/seamless_m4t_adapters")
#: Our module -> upstream module: the core lands in one flat folder (SpeechBrain's one-folder-per-model).
MODULE_MAP = {
    f"{PACKAGE}.model": LOBE,
    f"{PACKAGE}.adapters": LOBE,
    f"{PACKAGE}.tiny": "tiny_seamless_m4t",  # modules of the recipe folder (RECIPE_FILES)
    f"{PACKAGE}.data.indicvoices_layouts": "indicvoices_layouts",
}
#: The contributed core (relative to the package) -> path under the lobe folder. What is not listed
#: stays in the plugin, which builds on it (docs/upstream.md); the core imports nothing else of ours.
CORE_MODULES = ("__init__", "lobe", "speech_text_model", "features", "languages")
CORE_ADAPTERS = ("base", "bottleneck", "finetune", "hosting", "sets")
MOVED_FILES = {
    **{f"model/{name}.py": f"{name}.py" for name in CORE_MODULES},
    **{f"adapters/{name}.py": f"{name}.py" for name in CORE_ADAPTERS},
}
#: Package files that go to the recipe folder: the tiny offline model its test rows build, and the
#: IndicVoices layouts its ``indicvoices_prepare.py`` reads (the plugin's engine reads them too).
RECIPE_FILES = {
    "tiny.py": "tiny_seamless_m4t.py",
    "resources/tiny_corpus.txt": "resources/tiny_corpus.txt",
    "data/indicvoices_layouts.py": "indicvoices_layouts.py",
}
#: Paths named in the unit tests (which load the tiny model's builder from its file).
TEST_PATHS = {f"{PACKAGE}/{ours}": f"{RECIPE}/{theirs}" for ours, theirs in RECIPE_FILES.items()}
#: The plugin's SpeechBrain-shaped recipe, laid out verbatim (names rewritten) at ``RECIPE``.
RECIPE_SOURCE = REPO / "recipes" / "IndicVoices"
#: Its recipe-test rows (paths as in SpeechBrain's tree), copied as they are.
RECIPE_TABLE = Path("tests/recipes/IndicVoices.csv")
#: Beyond SpeechBrain's own requirements (it has sentencepiece): the lobe is tested with
#: transformers 5; protobuf converts a hub checkpoint's SentencePiece model to the fast tokenizer;
#: pyarrow reads the corpus's parquet release.
EXTRA_REQUIREMENTS = (
    "# SeamlessM4T as the lobe is tested with it\ntransformers>=5.0\n"
    "# the hub checkpoints' SentencePiece model -> the fast tokenizer\nprotobuf>=4\n"
    "# only for the Hugging Face release of IndicVoices (parquet shards)\npyarrow\n"
)


def upstream_module(module: str) -> str:
    """Map an absolute module of this package to its upstream module.

    Example
    -------
    >>> upstream_module("speechbrain_m4t_adapters.adapters.sets")
    'speechbrain.integrations.huggingface.seamless_m4t.sets'
    >>> upstream_module("speechbrain_m4t_adapters.model.lobe")
    'speechbrain.integrations.huggingface.seamless_m4t.lobe'
    """
    for ours in sorted(MODULE_MAP, key=len, reverse=True):
        if module == ours or module.startswith(ours + "."):
            return MODULE_MAP[ours] + module[len(ours) :]
    raise KeyError(f"{module} stays in the plugin: nothing moved upstream may import it")


def _absolute(relative: str, current: str) -> str:
    """``..adapters`` seen from module ``current`` -> absolute module name."""
    dots = len(relative) - len(relative.lstrip("."))
    base = current.split(".")[:-dots] if dots else []
    rest = relative[dots:]
    return ".".join(base + ([rest] if rest else []))


def rewrite_names(text: str) -> str:
    """Dotted names of moved modules (docstrings, YAML ``!new:`` tags) follow the move.

    Names of modules that stay in the plugin (training engine, inference) are kept.

    Example
    -------
    >>> rewrite_names("!new:speechbrain_m4t_adapters.model.BottleneckConfig")
    '!new:speechbrain.integrations.huggingface.seamless_m4t.BottleneckConfig'
    >>> rewrite_names("!new:speechbrain_m4t_adapters.training.TrainClock")
    '!new:speechbrain_m4t_adapters.training.TrainClock'
    """

    def dotted(match: re.Match) -> str:
        """The upstream name of one dotted name (plugin names unchanged)."""
        name = match[0]
        try:
            return upstream_module(name)
        except KeyError:
            return name

    return re.sub(rf"\b{PACKAGE}(?:\.\w+)*", dotted, text)


def rewrite_python(text: str, module: str) -> str:
    """Relative imports point into the flat upstream folder; dotted names follow.

    Example
    -------
    >>> rewrite_python("from ..adapters.base import AdapterConfig", f"{PACKAGE}.model.lobe")
    'from .base import AdapterConfig'
    """

    def relative_import(match: re.Match) -> str:
        """One relative import line, made relative to the flat upstream folder (as SpeechBrain's
        ``integrations/k2_fsa`` imports its siblings), absolute when it leaves that folder."""
        target = upstream_module(_absolute(match["mod"], module))
        sibling = target.removeprefix(LOBE + ".")
        name = f".{sibling}" if sibling != target and "." not in sibling else target
        return f"{match['indent']}from {name} import"

    text = re.sub(r"^(?P<indent>\s*)from (?P<mod>\.+[\w.]*) import", relative_import, text, flags=re.M)
    return rewrite_names(text)


def layout(output: Path) -> list[Path]:
    """Write the upstream layout under ``output``; returns the files written."""
    written: list[Path] = []
    lobe_dir = output / Path(*LOBE.split("."))
    moves = [(s, lobe_dir / t) for s, t in MOVED_FILES.items()]
    moves += [(s, output / RECIPE / t) for s, t in RECIPE_FILES.items()]
    for source, dst in moves:
        src = REPO / PACKAGE / source
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".py":
            ours = f"{PACKAGE}.{source[:-3].replace('/', '.')}".removesuffix(".__init__")
            if source.endswith("__init__.py"):
                ours += ".__init__"
            dst.write_text(rewrite_python(src.read_text(encoding="utf-8"), ours), encoding="utf-8")
        elif src.suffix == ".yaml":
            dst.write_text(rewrite_names(src.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copyfile(src, dst)
        written.append(dst)

    written += _layout_recipe(output)
    for test in sorted((REPO / "tests" / "unittests").glob("test_*.py")):  # SpeechBrain-style unit tests
        target = output / "tests" / "unittests" / test.name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = rewrite_names(test.read_text(encoding="utf-8"))
        for ours, theirs in TEST_PATHS.items():
            text = text.replace(ours, theirs)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    _format_like_the_tree(output, [p for p in written if p.suffix == ".py"])
    return written


def _layout_recipe(output: Path) -> list[Path]:
    """``recipes/IndicVoices`` -> ``RECIPE`` and its ``tests/recipes`` table, names rewritten only."""
    written = []
    for src in sorted(p for p in RECIPE_SOURCE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        dst = output / RECIPE / src.relative_to(RECIPE_SOURCE)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(rewrite_names(src.read_text(encoding="utf-8")), encoding="utf-8")
        written.append(dst)
    requirements = output / RECIPE / "extra_requirements.txt"
    requirements.write_text(EXTRA_REQUIREMENTS, encoding="utf-8")
    table = output / RECIPE_TABLE
    table.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / RECIPE_TABLE, table)
    return [*written, requirements, table]


def _format_like_the_tree(output: Path, files: list[Path]) -> None:
    """Sort the rewritten imports and wrap lines as the tree's own ruff config says (80 columns).

    Absolute upstream imports sort and wrap differently from our relative ones; nothing else
    changes. Only when ``output`` is a source tree with its ``pyproject.toml`` (SpeechBrain's).
    """
    if not (output / "pyproject.toml").is_file() or not files:
        return
    names = [str(p.relative_to(output)) for p in files]
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", "--quiet", "--fix", "--select", "I", *names], cwd=output, check=True)
    subprocess.run([*ruff, "format", "--quiet", *names], cwd=output, check=True)


def main() -> None:
    """Command line: lay out into the given folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path, help="scratch folder to write the SpeechBrain-shaped tree into")
    args = parser.parse_args()
    files = layout(args.output)
    print(f"{len(files)} files written under {args.output}")


if __name__ == "__main__":
    main()
