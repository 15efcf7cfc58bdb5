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
from layout_upstream import LOBE, PACKAGE, RECIPE, layout  # noqa: E402


def _module_file(root: Path, module: str) -> Path | None:
    base = root / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_layout_imports_resolve_inside_the_new_tree(tmp_path):
    written = layout(tmp_path)
    lobe = tmp_path / Path(*LOBE.split("."))
    assert (lobe / "lobe.py").is_file() and (lobe / "adapters" / "lora.py").is_file()
    for path in (p for p in written if p.suffix == ".py" and lobe in p.parents):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: relative import left"
                module = node.module or ""
                assert not module.startswith(PACKAGE), f"{path}: imports the plugin ({module})"
                if module.startswith(LOBE):
                    assert _module_file(tmp_path, module), f"{path}: {module} is not in the layout"
                elif module.split(".")[0] not in ("speechbrain", "__future__"):
                    assert importlib.util.find_spec(module.split(".")[0]), f"{path}: {module} not installed"


def test_layout_recipe_yamls_are_flat_and_csv_rows_point_at_files(tmp_path):
    layout(tmp_path)
    hparams = tmp_path / RECIPE / "hparams"
    yamls = sorted(hparams.glob("*.yaml"))
    assert len(yamls) == len(list(REPO.glob("recipes/*/hparams/*.yaml")))
    for yaml in yamls:
        text = yaml.read_text(encoding="utf-8")
        assert "base_hparams" not in text and re.search(r"^overlays_folder: null$", text, re.M)
        for tag in re.findall(r"!(?:new|name):([\w.]+)", text):
            module = tag.rsplit(".", 1)[0]
            if module.startswith(LOBE):
                assert _module_file(tmp_path, module), f"{yaml.name}: {tag}"
    rows = list(csv.DictReader(open(tmp_path / "tests" / "recipes" / "IndicVoices.csv", encoding="utf-8")))
    assert rows and all("--debug" in row["test_debug_flags"] for row in rows)
    for row in rows:
        for key in ("Script_file", "Hparam_file", "Readme_file"):
            assert (tmp_path / row[key]).is_file(), row[key]
    assert (tmp_path / RECIPE / "extra_requirements.txt").read_text().count("speechbrain-m4t-adapters") == 1
