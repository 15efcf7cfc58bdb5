"""tools/layout_upstream.py lays the recipe and lobe out in SpeechBrain's tree consistently."""

from __future__ import annotations

import ast
import csv
import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from layout_upstream import LOBE, PACKAGE, RECIPE, RECIPE_FILES, layout  # noqa: E402


def _module_file(root: Path, module: str) -> Path | None:
    base = root / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _blank_tags(yaml_text: str) -> str:
    return re.sub(r"!(new|name):[\w.]+", r"!\1:TAG", yaml_text)


def test_laid_out_code_names_no_plugin(tmp_path):
    written = layout(tmp_path)
    named = [
        f"{path.relative_to(tmp_path)}: {line.strip()}"
        for path in written
        if path.suffix in (".py", ".yaml", ".txt", ".md")
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.search(r"speechbrain[_-]m4t[_-]adapters(?! contributors)|(?<![\w-])m4t-adapters ", line)
    ]
    assert named == []
    assert len(written) >= 30  # the search really read the layout


def test_layout_imports_resolve_inside_the_new_tree(tmp_path):
    written = layout(tmp_path)
    lobe = tmp_path / Path(*LOBE.split("."))
    assert (lobe / "lobe.py").is_file() and (lobe / "sets.py").is_file()
    assert not any((lobe / name).exists() for name in ("io.py", "integrity.py", "lora.py", "adapters"))
    for path in (p for p in written if p.suffix == ".py" and lobe in p.parents):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), f"{path}: import from above the lobe folder"
                module = ".".join(filter(None, (LOBE, node.module))) if node.level else node.module or ""
                assert not module.startswith(PACKAGE), f"{path}: imports the plugin ({module})"
                if module.startswith(LOBE):
                    assert _module_file(tmp_path, module), f"{path}: {module} is not in the layout"
                elif module.split(".")[0] not in ("speechbrain", "__future__"):
                    assert importlib.util.find_spec(module.split(".")[0]), f"{path}: {module} not installed"


def test_layout_recipe_is_the_plugins_recipe_folder_and_needs_no_plugin(tmp_path):
    layout(tmp_path)
    source = REPO / "recipes" / "IndicVoices"
    recipe = tmp_path / RECIPE
    files = (p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    names = sorted(str(p.relative_to(source)) for p in files)
    laid_out = sorted(str(p.relative_to(recipe)) for p in recipe.rglob("*") if p.is_file())
    # plus the tiny offline model its test rows build and the IndicVoices layouts (package files)
    assert laid_out == sorted([*names, "extra_requirements.txt", *RECIPE_FILES.values()])
    yamls = sorted(recipe.glob("hparams/*.yaml"))
    assert len(yamls) == 12  # 4 experiments x 3 languages
    for yaml in yamls:
        text = yaml.read_text(encoding="utf-8")
        assert PACKAGE not in text
        # names rewritten only: with every tag blanked, the plugin's file is the laid-out file
        plugin_text = (source / "hparams" / yaml.name).read_text(encoding="utf-8")
        assert _blank_tags(text) == _blank_tags(plugin_text)
        for tag in re.findall(r"!(?:new|name):([\w.]+)", text):
            module, name = tag.rsplit(".", 1)
            if module.startswith(LOBE):
                found = _module_file(tmp_path, module)
                defined = re.search(rf"\b(class|def|import) {name}\b|import .*\b{name}\b", found.read_text())
                assert defined, f"{yaml.name}: {tag}"
    for script in ("train.py", "indicvoices_prepare.py", "indicvoices_layouts.py", "tiny_seamless_m4t.py"):
        tree = ast.parse((recipe / script).read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        outside = {m.split(".")[0] for m in imported} - set(sys.stdlib_module_names)
        allowed = {"speechbrain", "torch", "torchaudio", "hyperpyyaml", "pyarrow", "indicvoices_prepare"}
        allowed |= {"tiny_seamless_m4t", "indicvoices_layouts"}  # its own modules
        allowed |= {"transformers", "sentencepiece"}  # extra requirements
        assert outside <= allowed, script  # SpeechBrain's requirements and extra_requirements.txt
    requirements = (recipe / "extra_requirements.txt").read_text()
    assert "speechbrain-m4t-adapters" not in requirements and "transformers" in requirements


def test_layout_csv_has_one_row_per_recipe_yaml_pointing_at_files(tmp_path):
    layout(tmp_path)
    table = tmp_path / "tests" / "recipes" / "IndicVoices.csv"
    rows = list(csv.DictReader(open(table, encoding="utf-8")))
    yamls = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / RECIPE / "hparams").glob("*.yaml"))
    assert sorted(row["Hparam_file"] for row in rows) == yamls
    for row in rows:
        for key in ("Script_file", "Hparam_file", "Data_prep_file", "Readme_file"):
            assert (tmp_path / row[key]).is_file(), row[key]
        flags = row["test_debug_flags"]
        assert "--model_source=tiny-v1" in flags and "tests/samples" in flags
        assert "wer_test.txt" in row["test_debug_checks"] and row["performance"].startswith("Paper-Test-WER=")
