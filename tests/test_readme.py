"""README.md's Python blocks run as pasted (in order, from a repository-root-like folder)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HUB_IDS = (
    "facebook/hf-seamless-m4t-medium",
    "facebook/seamless-m4t-v2-large",
    "facebook/hf-seamless-m4t-large",
)


def python_blocks(markdown: str) -> list[str]:
    """The ```python fenced blocks of a markdown text."""
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


def test_python_blocks_are_found():
    blocks = python_blocks("x\n```python\na = 1\n```\n```bash\nls\n```\n```python\nb = 2\n```\n")
    assert blocks == ["a = 1\n", "b = 2\n"]


def test_every_readme_python_block_runs(tmp_path, tiny_v2):
    blocks = python_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    (tmp_path / "tests").symlink_to(REPO / "tests")  # the shipped clips, as seen from the repository root
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    outputs = []
    for i, block in enumerate(blocks):
        for hub_id in HUB_IDS:  # no downloads here: a hub id stands for the offline tiny model
            block = block.replace(f'"{hub_id}"', f'"{tiny_v2}"')
        done = subprocess.run(
            [sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"README python block {i + 1} failed:\n{block}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    # The first block trained a step, printed two transcripts and saved its adapters.
    assert outputs[0].startswith("[") and outputs[0].count("'") + outputs[0].count('"') >= 4
    saved = json.loads((tmp_path / "results" / "my_adapters" / "adapters.json").read_text())
    # Everything the examples write is under the git-ignored results/: a checkout stays clean
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "tests"]
    assert saved["language"] == "ben" and list(saved["sets"]) == ["encoder"]
