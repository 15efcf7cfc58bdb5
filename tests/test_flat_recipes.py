"""Recipe YAMLs are flat hyperpyyaml files written from one source (tools/flat_recipes.py).

Each loads by itself with hyperpyyaml and the overrides SpeechBrain's
``load_yaml_test`` passes; regenerating them changes nothing. The engine's recipes and the plain
SpeechBrain recipe (``recipes/IndicVoices``) come from the same experiment sources.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hyperpyyaml import load_hyperpyyaml

from speechbrain_m4t_adapters.training.hparams import HparamsError

REPO = Path(__file__).resolve().parents[1]
RECIPE_YAMLS = sorted(REPO.glob("recipes/*/hparams/*.yaml"))


def _tool():
    spec = importlib.util.spec_from_file_location("flat_recipes", REPO / "tools" / "flat_recipes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_the_recipe_yamls_changes_nothing(capsys):
    tool = _tool()
    assert tool.main(["--check"]) == 0, capsys.readouterr().out
    written = [*tool.targets().values(), *tool.indicvoices_targets().values()]
    assert sorted(written) == RECIPE_YAMLS  # no recipe YAML without a source, none written twice
    assert len(RECIPE_YAMLS) == 69 + 12


def test_the_plain_recipe_takes_its_values_from_the_engine_source(tmp_path):
    tool = _tool()
    data = REPO / "hparams/experiments/Odia/odia_data.yaml"
    source = tmp_path / "Odia" / "odia_encoder.yaml"
    source.parent.mkdir()
    source.write_text(
        f"base_hparams: {data}\nexperiment_name: odia_encoder\nlr: 0.005\nadapters:\n"
        "    encoder: !new:speechbrain_m4t_adapters.adapters.BottleneckConfig\n"
        "        bottleneck: 64      # a comment\n        targets: [speech_encoder]\n"
    )
    text = tool.indicvoices_text(source, "encoder")
    hparams = load_hyperpyyaml(text, {"data_folder": str(tmp_path)})
    assert hparams["lr"] == 0.005 and hparams["language"] == "ory" and hparams["train_hours"] == 5.0
    assert hparams["adapters"]["encoder"].bottleneck == 64  # the contributed lobe's config class
    assert "!new:speechbrain_m4t_adapters.model.BottleneckConfig" in text
    assert "bottleneck: 64  # a comment" in text  # comments kept, spaced for 80 columns
    assert "# Data: IndicVoices Odia, 5.0 h" in text and "${" not in text and "#@" not in text


def test_check_names_a_stale_file_and_writing_mends_it(tmp_path, monkeypatch, capsys):
    tool = _tool()
    source = REPO / "hparams/experiments/Odia/odia_encoder.yaml"
    target = tmp_path / "odia_encoder.yaml"
    target.write_text("experiment_name: edited by hand\n")
    monkeypatch.setattr(tool, "targets", lambda: {source: target})
    monkeypatch.setattr(tool, "indicvoices_targets", dict)
    assert tool.main(["--check"]) == 1
    assert "odia_encoder.yaml\n1 of 1 recipe YAMLs out of date" in capsys.readouterr().out
    assert tool.main([]) == 0 and tool.main(["--check"]) == 0
    assert target.read_text() == (REPO / "recipes/Odia/hparams/odia_encoder.yaml").read_text()


@pytest.mark.parametrize("yaml_file", RECIPE_YAMLS, ids=lambda p: p.name)
def test_every_recipe_yaml_loads_by_itself(yaml_file, tmp_path):
    text = yaml_file.read_text(encoding="utf-8")
    assert "base_hparams" not in text
    overrides = {"data_folder": str(tmp_path / "data"), "output_folder": str(tmp_path / "out")}
    hparams = load_hyperpyyaml(text, overrides)  # as SpeechBrain's load_yaml_test does
    assert hparams["experiment_name"] == yaml_file.stem
    assert hparams["save_folder"] == str(tmp_path / "out" / "save")


def test_a_chain_replaces_whole_entries_and_checks_keys(tmp_path):
    tool = _tool()
    (tmp_path / "root.yaml").write_text("a: 1\nnested: {x: 1, y: 2}\nname: root\n")
    (tmp_path / "mid.yaml").write_text("base_hparams: root.yaml\nnested: {x: 5}\nname: mid\n")
    (tmp_path / "leaf.yaml").write_text("# a leaf\nbase_hparams: mid.yaml\nname: leaf  # its own\n")
    tree = tool.merge(tool.chain(tmp_path / "leaf.yaml"))
    assert tree["a"] == 1 and dict(tree["nested"]) == {"x": 5} and tree["name"] == "leaf"
    (tmp_path / "loop.yaml").write_text("base_hparams: loop.yaml\n")
    with pytest.raises(ValueError, match="loops back"):
        tool.chain(tmp_path / "loop.yaml")
    (tmp_path / "typo.yaml").write_text("base_hparams: root.yaml\nnmae: x\n")
    typo = r"typo.yaml: unknown hyperparameter 'nmae'; did you mean 'name'\?"
    with pytest.raises(HparamsError, match=typo):
        tool.merge(tool.chain(tmp_path / "typo.yaml"))
