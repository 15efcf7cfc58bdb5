"""The lean core: a closed package, one registry of adapter kinds, hosting that pickles."""

from __future__ import annotations

import ast
import copy
import io
import pickle
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from conftest import pad_batch
from torch import nn

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import (
    KINDS,
    AdapterConfig,
    BottleneckConfig,
    FinetuneConfig,
    LoRAConfig,
    load_adapters,
    save_adapters,
)
from speechbrain_m4t_adapters.adapters.base import LAYER_STACKS, find_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from layout_upstream import CORE_ADAPTERS, CORE_MODULES  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1] / "speechbrain_m4t_adapters"
#: The contributed core (tools/layout_upstream.py lays out exactly these): it must import only itself.
CORE_FILES = (
    sorted(p for p in (PACKAGE / "model").glob("*.py") if p.stem in CORE_MODULES)
    + sorted(p for p in (PACKAGE / "adapters").glob("*.py") if p.stem in CORE_ADAPTERS)
    + [PACKAGE / "tiny.py"]
)


def _imports(path: Path) -> set[str]:
    """Absolute names of the package modules ``path`` imports (relative imports resolved)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[: len(parts) - node.level])
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("speechbrain_m4t_adapters")}


def _module(path: Path) -> str:
    """``speechbrain_m4t_adapters.model.lobe`` for its file (a package's ``__init__``: the package)."""
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def test_contributed_core_imports_only_itself():
    core = {_module(p) for p in CORE_FILES}
    leaks = [f"{p.relative_to(PACKAGE)} imports {name}" for p in CORE_FILES for name in _imports(p) - core]
    assert leaks == []
    assert len(CORE_FILES) == len(CORE_MODULES) + len(CORE_ADAPTERS) + 1  # every listed file exists


def test_no_module_reads_the_checkout():
    """No path is built from a module's own location that leaves the package (e.g. ``recipes/``)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        depth = len(path.relative_to(PACKAGE).parts) - 1  # parents[depth] is the package folder
        for match in re.finditer(r"__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]", path.read_text()):
            if int(match[1]) > depth:
                offenders.append(f"{path.relative_to(PACKAGE)}: parents[{match[1]}]")
        if "REPO_ROOT" in path.read_text(encoding="utf-8"):
            offenders.append(f"{path.relative_to(PACKAGE)}: REPO_ROOT")
    assert offenders == []


def test_kind_dispatch_is_in_the_kinds():
    """At most 3 ``isinstance(..., <Kind>Config)`` tests remain in the whole package."""
    kind_names = {cls.__name__ for cls in KINDS.values()} | {"AdapterConfig"}
    sites = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & kind_names:
                    sites.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert len(sites) <= 3, sites
    assert {"bottleneck", "finetune", "lora"} <= set(KINDS)


class _Scale(nn.Module):
    """Toy adapter: multiplies a layer's output by a learnt per-channel gain (starts at 1)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(width))

    def forward(self, hidden: torch.Tensor, layer_input: torch.Tensor | None = None) -> torch.Tensor:
        return hidden * self.gain.to(hidden.dtype)


@dataclass
class ScaleConfig(AdapterConfig):
    """A kind defined in this test file alone: a gain after every layer of the target stacks."""

    kind: ClassVar[str] = "test_scale"
    role: ClassVar[str] = "after"
    targets: list[str] = field(default_factory=lambda: ["text_decoder"])

    def build(self, model: nn.Module, hidden_size: int) -> dict[str, nn.Module]:
        stacks = {LAYER_STACKS[t]: find_module(model, LAYER_STACKS[t], t) for t in self.targets}
        return {
            f"{path}.{i}": _Scale(hidden_size) for path, stack in stacks.items() for i in range(len(stack))
        }


def _asr_loss(m4t, clips):
    wavs, lens = pad_batch([c[0] for c in clips])
    inputs, labels = m4t.text_ids.batch_targets([c[1] for c in clips], [c[2] for c in clips])
    logits, _, _ = m4t(wavs, lens, decoder_input_ids=inputs)
    return torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), labels, ignore_index=-100
    ), logits


def test_a_toy_kind_registers_trains_saves_and_loads(tiny_v2, real_clips, tmp_path):
    assert KINDS["test_scale"] is ScaleConfig
    m4t = SeamlessM4T(tiny_v2, adapters={"gain": ScaleConfig(lr=0.05)})
    assert len(m4t.adapters.sets["gain"].targets) == 2  # the tiny model's two decoder layers
    optimizer = torch.optim.SGD(m4t.trainable_parameters(), lr=0.05)
    m4t.train()
    losses = []
    for _ in range(3):
        loss, _ = _asr_loss(m4t, real_clips[:2])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    m4t.eval()
    with torch.no_grad():
        _, trained = _asr_loss(m4t, real_clips[:2])
    folder = save_adapters(m4t.adapters, tmp_path / "gain")
    fresh = SeamlessM4T(tiny_v2)
    assert load_adapters(fresh.adapters, folder) == ["gain"]
    assert isinstance(fresh.adapters.sets["gain"].config, ScaleConfig)
    fresh.eval()
    with torch.no_grad():
        _, loaded = _asr_loss(fresh, real_clips[:2])
    assert torch.equal(trained, loaded)


def test_model_with_every_kind_pickles_and_torch_saves(tiny_v2, real_clips):
    sets = {
        "enc": BottleneckConfig(bottleneck=4, targets=["speech_encoder"]),
        "lora": LoRAConfig(targets=[r"text_decoder\.layers\.\d+\.self_attn\.q_proj"], rank=2),
        "la": FinetuneConfig(targets=["length_adaptor"]),
    }
    m4t = SeamlessM4T(tiny_v2, adapters=sets)
    with torch.no_grad():
        for name in sets:
            for p in m4t.adapters.parameters(name):
                p.add_(0.05 * torch.randn_like(p))
    m4t.eval()
    with torch.no_grad():
        _, reference = _asr_loss(m4t, real_clips[:2])
    buffer = io.BytesIO()
    torch.save(m4t, buffer)
    buffer.seek(0)
    copies = {
        "torch.save": torch.load(buffer, weights_only=False),
        "pickle": pickle.loads(pickle.dumps(m4t)),
        "deepcopy": copy.deepcopy(m4t),
    }
    for how, other in copies.items():
        assert other.adapters.active == ["enc", "lora", "la"], how
        assert set(other.model.state_dict()) == set(m4t.model.state_dict()), how
        with torch.no_grad():
            _, logits = _asr_loss(other, real_clips[:2])
        assert torch.equal(logits, reference), how
    # The copy's sets are its own: switching them off there leaves the original alone.
    copies["pickle"].adapters.set_active([])
    with torch.no_grad():
        assert torch.equal(_asr_loss(m4t, real_clips[:2])[1], reference)
        assert not torch.equal(_asr_loss(copies["pickle"], real_clips[:2])[1], reference)
