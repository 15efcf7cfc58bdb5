"""The lobe in a plain SpeechBrain recipe (examples/speechbrain_recipe): trains, checkpoints, decodes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hyperpyyaml import load_hyperpyyaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "speechbrain_recipe"


def test_hparams_load_alone_and_the_script_is_short():
    with open(EXAMPLE / "hparams.yaml", encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, {"output_folder": "/tmp/unused"})
    assert type(hparams["m4t"]).__name__ == "SeamlessM4T" and list(hparams["m4t"].adapters.sets) == [
        "encoder"
    ]
    script = (EXAMPLE / "train.py").read_text(encoding="utf-8")
    assert len(script.splitlines()) <= 200
    assert "class AdapterASR(sb.Brain)" in script and "DynamicBatchSampler(" in script
    assert "speechbrain_m4t_adapters" not in script  # the lobe comes in through the YAML's !new: tags only


def test_plain_speechbrain_recipe_trains_encoder_adapters_and_decodes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "train.py",
        "hparams.yaml",
        "--number_of_epochs=2",
        f"--output_folder={tmp_path}",
    ]
    done = subprocess.run(command, cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    losses = [float(x) for x in re.findall(r"valid epoch \d+: loss ([\d.]+)", done.stdout)]
    assert len(losses) == 2 and losses[1] < losses[0], done.stdout  # the adapters learn
    assert re.search(r"test on the training clips: WER [\d.]+, CER [\d.]+", done.stdout)
    (checkpoint,) = (tmp_path / "save").glob("CKPT+*")
    assert (checkpoint / "m4t.ckpt").is_file() and (checkpoint / "counter.ckpt").is_file()
