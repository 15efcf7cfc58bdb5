#!/usr/bin/env python3
"""Lay this package's recipes and lobe out in SpeechBrain's source tree (docs/upstream.md).

    python tools/layout_upstream.py OUTPUT_DIR

writes, under OUTPUT_DIR (a scratch folder, never a SpeechBrain checkout):

* ``speechbrain/integrations/huggingface/seamless_m4t/``: the lobe
  (``model/``), the adapters (``adapters/``), the tiny offline model for
  doctests (``tiny.py`` + its corpus), imports rewritten to absolute
  upstream module paths;
* ``recipes/IndicVoices/ASR/seamless_m4t_adapters/``: ``train.py``, every
  recipe YAML of every language in one ``hparams/`` folder (flat files,
  named ``<language>_<experiment>.yaml``),
  ``README.md`` and ``extra_requirements.txt``;
* ``tests/recipes/IndicVoices.csv``: one row per experiment with debug flags.

Everything else (training engine, data preparation, CLI, inference interface)
stays in the plugin, which the recipe lists in its extra requirements.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "speechbrain_m4t_adapters"
LOBE = "speechbrain.integrations.huggingface.seamless_m4t"
RECIPE = Path("recipes/IndicVoices/ASR/seamless_m4t_adapters")
#: Our module -> upstream module, for every module that moves.
MODULE_MAP = {
    f"{PACKAGE}.model": LOBE,
    f"{PACKAGE}.adapters": f"{LOBE}.adapters",
    f"{PACKAGE}.tiny": f"{LOBE}.tiny",
    f"{PACKAGE}.version": "speechbrain",  # __version__ of SpeechBrain itself
    PACKAGE: LOBE,  # `from speechbrain_m4t_adapters import SeamlessM4T` in docstrings
}
#: Source files that move (relative to the package) -> path under the lobe folder.
MOVED_FILES = {
    **{f"model/{p.name}": p.name for p in (REPO / PACKAGE / "model").glob("*.py")},
    "tiny.py": "tiny.py",
    "lazy.py": "lazy.py",  # lazy attributes of the adapters package
    "resources/tiny_corpus.txt": "resources/tiny_corpus.txt",
    **{f"adapters/{p.name}": f"adapters/{p.name}" for p in (REPO / PACKAGE / "adapters").glob("*.py")},
}
CSV_HEADER = [
    "Task",
    "Dataset",
    "Script_file",
    "Hparam_file",
    "Data_prep_file",
    "Readme_file",
    "Result_url",
    "HF_repo",
    "test_debug_flags",
    "test_debug_checks",
    "performance",  # empty: no run on IndicVoices itself was possible here (no corpus, no GPU)
]
DEBUG_FLAGS = "--smoke=True --number_of_epochs=1 --debug --debug_batches=2 --debug_epochs=1"


def upstream_module(module: str) -> str:
    """Map an absolute module of this package to its upstream module.

    Example
    -------
    >>> upstream_module("speechbrain_m4t_adapters.adapters.sets")
    'speechbrain.integrations.huggingface.seamless_m4t.adapters.sets'
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
    >>> rewrite_names("!new:speechbrain_m4t_adapters.adapters.LoRAConfig")
    '!new:speechbrain.integrations.huggingface.seamless_m4t.adapters.LoRAConfig'
    >>> rewrite_names("!new:speechbrain_m4t_adapters.training.TrainClock")
    '!new:speechbrain_m4t_adapters.training.TrainClock'
    """

    def dotted(match: re.Match) -> str:
        """The upstream name of one dotted name (plugin names unchanged)."""
        name = match[0]
        if re.match(rf"{PACKAGE}\.(training|inference|data|evaluation|cli)\b", name):
            return name
        try:
            return upstream_module(name)
        except KeyError:
            return name

    return re.sub(rf"\b{PACKAGE}(?:\.\w+)*", dotted, text)


def rewrite_python(text: str, module: str) -> str:
    """Relative imports become absolute upstream imports; dotted names follow."""

    def relative_import(match: re.Match) -> str:
        """One relative import line, made absolute and upstream."""
        return f"{match['indent']}from {upstream_module(_absolute(match['mod'], module))} import"

    text = re.sub(r"^(?P<indent>\s*)from (?P<mod>\.+[\w.]*) import", relative_import, text, flags=re.M)
    return rewrite_names(text)


def _yaml_name(language: str, path: Path) -> str:
    stem = path.stem
    prefix = language.lower()
    return f"{stem}.yaml" if stem == prefix or stem.startswith(prefix + "_") else f"{prefix}_{stem}.yaml"


def layout(output: Path) -> list[Path]:
    """Write the upstream layout under ``output``; returns the files written."""
    written: list[Path] = []
    lobe_dir = output / Path(*LOBE.split("."))
    for source, target in MOVED_FILES.items():
        src = REPO / PACKAGE / source
        dst = lobe_dir / target
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

    recipe = output / RECIPE
    hparams = recipe / "hparams"
    hparams.mkdir(parents=True, exist_ok=True)
    rows = []
    readme_parts = []
    for language_dir in sorted(p for p in (REPO / "recipes").iterdir() if (p / "hparams").is_dir()):
        language = language_dir.name
        for old in sorted((language_dir / "hparams").glob("*.yaml")):
            new = _yaml_name(language, old)
            text = old.read_text(encoding="utf-8")
            # the --smoke/--mini overlays stay in the plugin (docs/upstream.md)
            text = re.sub(r"^overlays_folder: .*$", "overlays_folder: null", text, flags=re.M)
            (hparams / new).write_text(rewrite_names(text), encoding="utf-8")
            written.append(hparams / new)
            if re.search(r"^experiment_name:", text, re.M):
                rows.append(
                    [
                        "ASR",
                        "IndicVoices",
                        str(RECIPE / "train.py"),
                        str(RECIPE / "hparams" / new),
                        "",
                        str(RECIPE / "README.md"),
                        "",
                        "",
                        DEBUG_FLAGS,
                        "file_exists=[train_log.txt,hyperparams.yaml,summary.json,adapters/adapters.json]",
                        "",
                    ]
                )
        readme_parts.append(
            f"<!-- from recipes/{language}/README.md -->\n" + (language_dir / "README.md").read_text()
        )
    train = recipe / "train.py"
    shutil.copyfile(REPO / "recipes" / "Odia" / "train.py", train)
    (recipe / "README.md").write_text("\n\n".join(readme_parts), encoding="utf-8")
    (recipe / "extra_requirements.txt").write_text(
        "# the training engine and data preparation stay in the plugin (docs/upstream.md)\n"
        "speechbrain-m4t-adapters\nsentencepiece>=0.2\nprotobuf>=4\n",
        encoding="utf-8",
    )
    written += [train, recipe / "README.md", recipe / "extra_requirements.txt"]
    for test in sorted((REPO / "tests" / "unittests").glob("test_*.py")):  # SpeechBrain-style unit tests
        target = output / "tests" / "unittests" / test.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewrite_names(test.read_text(encoding="utf-8")), encoding="utf-8")
        written.append(target)
    table = output / "tests" / "recipes" / "IndicVoices.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    with open(table, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)
    written.append(table)
    _format_like_the_tree(output, [p for p in written if p.suffix == ".py"])
    return written


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
