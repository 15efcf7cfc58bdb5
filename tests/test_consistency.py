"""Plugin-wide hygiene in the spirit of SpeechBrain's consistency checks, over the WHOLE package.

Whether the contribution is fit to go upstream is decided by SpeechBrain's own checks, run on
the laid-out tree (``tests/test_speechbrain_checks.py``); these cover what stays in the plugin too.

* ``test_yaml.py``: every variable a recipe's hyperparameter file defines is used,
  by the training script or by a ``!ref <var>`` of the file. Our recipes' train.py
  is one call to :func:`~speechbrain_m4t_adapters.training.run_experiment`, so
  "the script" is the training engine (``speechbrain_m4t_adapters/training``).
  Recipe files are found by glob, and checked with their base chain merged.
* ``test_docstrings.py`` (``tests/utils/check_docstrings.py``): every module starts
  with a docstring, every class and every public function or method has one
  (examples are run by the doctest run of the suite).
* README links (``tests/consistency/test_recipe.py`` + ``test_HF_repo.py`` check that
  recipe files and links exist): every relative link of our Markdown files points
  at an existing file. Web links are not fetched (no network in CI).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from speechbrain_m4t_adapters.training.hparams import OVERLAYS, dump_tree, experiment_tree

REPO = Path(__file__).resolve().parents[1]
# The engine's recipes; recipes/IndicVoices is a plain SpeechBrain recipe (its YAML keys are checked by
# SpeechBrain's own tests/consistency/test_yaml.py in tests/test_speechbrain_checks.py).
RECIPE_YAMLS = sorted(p for p in REPO.glob("recipes/*/hparams/*.yaml") if p.parts[-3] != "IndicVoices")
# Added by experiment_tree itself for references, and its overlay switches (see training/hparams.py).
INJECTED = {"repo_root", "hparams_file", *OVERLAYS}
_USE_PATTERNS = (
    r"""hparams(?:\.get\(|\[)\s*["'](\w+)["']""",  # hparams["x"], hparams.get("x")
    r"""\.hparams\.(\w+)""",  # self.hparams.x
    r"""getattr\(self\.hparams,\s*["'](\w+)["']""",
    r"""tree\.get\(\s*["'](\w+)["']""",  # keys read from the YAML tree (smoke)
)


@functools.cache
def _used_by_engine() -> set[str]:
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in (REPO / "speechbrain_m4t_adapters/training").glob("*.py")
    )
    used = {name for pattern in _USE_PATTERNS for name in re.findall(pattern, source)}
    # SpeechBrain's Brain reads its run options (max_grad_norm, ...) from the hparams too.
    from speechbrain.utils.run_opts import RunOptions

    return used | set(RunOptions().as_dict())


@functools.cache
def _referenced_by_some_recipe() -> set[str]:
    """Keys of the shared base that some experiment or overlay ``!ref``s (e.g. translations_file)."""
    texts = [dump_tree(experiment_tree(p)) for p in RECIPE_YAMLS]
    texts += [(REPO / "hparams" / f"{name}.yaml").read_text(encoding="utf-8") for name in OVERLAYS]
    return {name for text in texts for name in re.findall(r"<(\w+)>", text)}


def test_recipe_yamls_are_found():
    assert len(RECIPE_YAMLS) >= 3 and {p.parts[-3] for p in RECIPE_YAMLS} >= {"Odia", "Bengali", "Maithili"}


@pytest.mark.parametrize("yaml_file", RECIPE_YAMLS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_every_yaml_variable_is_used(yaml_file):
    tree = experiment_tree(yaml_file)
    referenced = set(re.findall(r"<(\w+)>", dump_tree(tree)))
    unused = sorted(
        key
        for key in tree
        if key not in referenced
        and key not in _used_by_engine()
        and key not in _referenced_by_some_recipe()
        and key not in INJECTED
        and not key.startswith("__")
    )
    assert not unused, f"{yaml_file}: variables defined but never used: {unused}"


def _python_files() -> list[Path]:
    files = sorted((REPO / "speechbrain_m4t_adapters").rglob("*.py"))
    files += sorted(REPO.glob("recipes/*/*.py")) + sorted(REPO.glob("tools/*.py"))
    return files


def _missing_docstrings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [] if ast.get_docstring(tree) else ["module"]
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) or (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_")
        ):
            if not ast.get_docstring(node):
                missing.append(f"{node.name} (line {node.lineno})")
    return missing


def test_every_module_class_and_public_function_has_a_docstring():
    problems = {str(p.relative_to(REPO)): m for p in _python_files() if (m := _missing_docstrings(p))}
    assert not problems, f"docstrings missing: {problems}"


def _markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted(REPO.glob("recipes/*/README.md")), *sorted(REPO.glob("docs/*.md"))]


def test_relative_readme_links_point_at_existing_files():
    broken = []
    for md in _markdown_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", md.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # web links and in-page anchors
            if not (md.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{md.relative_to(REPO)} -> {target}")
    assert not broken, f"broken links: {broken}"
