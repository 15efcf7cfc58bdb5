"""On-disk cache of the outputs of frozen, deterministic stacks (reused every later epoch).

When everything below the lowest trainable module is frozen and runs without
randomness, its output for an utterance never changes during training, so it
is computed once (epoch 1) and read back afterwards:

===========================  ======================================  =====================
trainable (lowest)           cached                                  still computed
===========================  ======================================  =====================
decoder adapters / LoRA      the whole speech encoder (x8 shorter)   decoder
length adaptor               the Conformer (+ features)              length adaptor, decoder
text-only (decoder)          the text encoder                        decoder
===========================  ======================================  =====================

Entries are written as safetensors shards (one per computed batch) under
``<root>/<key>/``; the key hashes the base (source, architecture, a checksum
of the frozen weights), the feature settings, the cache point and the frozen
active adapter sets, so any change uses a fresh folder (older ones are
deleted). Each entry also records its utterance's length, and is recomputed if
the audio length differs. Writing stops at ``max_gb``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

logger = logging.getLogger(__name__)


def weights_checksum(modules: list[nn.Module]) -> str:
    """Cheap digest of the weights of ``modules`` (per-parameter float64 sums, on their device).

    Example
    -------
    >>> a = nn.Linear(3, 2)
    >>> b = nn.Linear(3, 2)
    >>> weights_checksum([a]) == weights_checksum([a]) != weights_checksum([b])
    True
    """
    digest = hashlib.sha256()
    for module in modules:
        for name, p in module.named_parameters():
            d = p.detach().double()
            stats = torch.stack([d.sum(), d.abs().sum(), (d * d).sum()]).tolist()
            digest.update(f"{name}:{tuple(p.shape)}:{stats};".encode())
    return digest.hexdigest()[:16]


def is_deterministic(modules: list[nn.Module]) -> bool:
    """No active dropout (p > 0, in training mode) inside ``modules``.

    Example
    -------
    >>> is_deterministic([nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)).eval()])
    True
    >>> is_deterministic([nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)).train()])
    False
    """
    return not any(
        isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 and m.training
        for module in modules
        for m in module.modules()
    )


class FrozenOutputCache:
    """Per-utterance tensors on disk, under one key.

    Arguments
    ---------
    root : str or Path
        Cache root; entries go to ``root/<key>``.
    key : dict
        What the cached outputs depend on (hashed into the folder name).
    max_gb : float
        Stop writing new entries beyond this size.
    rank : int
        Shard name prefix (DDP ranks write their own shards).

    Example
    -------
    >>> import tempfile
    >>> cache = FrozenOutputCache(tempfile.mkdtemp(), {"base": "x"}, max_gb=1.0)
    >>> cache.put(["u1", "u2"], [torch.ones(3, 4), torch.zeros(2, 4)], [48000, 32000])
    >>> cache.get("u1", 48000).shape, cache.get("u1", 16000), cache.get("u3", 0)
    (torch.Size([3, 4]), None, None)
    >>> len(cache), cache.nbytes > 0
    (2, True)
    """

    def __init__(self, root: str | Path, key: dict, max_gb: float = 20.0, rank: int = 0) -> None:
        self.key = key
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        root = Path(root)
        self.folder = root / digest
        self.max_bytes = int(max_gb * 2**30)
        self.rank = rank
        if root.is_dir():
            for stale in root.iterdir():
                if stale.is_dir() and stale != self.folder and (stale / "key.json").is_file():
                    logger.info(
                        "frozen-output cache: removing %s (base, features or adapters changed)", stale
                    )
                    shutil.rmtree(stale, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True))
        self.index: dict[str, tuple[Path, int]] = {}
        self.nbytes = 0
        self.full = False
        self._shards = 0
        for shard in sorted(self.folder.glob("*.safetensors")):
            with safe_open(str(shard), framework="pt") as f:
                meta = f.metadata() or {}
            for uid, samples in zip(json.loads(meta.get("ids", "[]")), json.loads(meta.get("samples", "[]"))):
                self.index[uid] = (shard, int(samples))
            self.nbytes += shard.stat().st_size
            self._shards += 1
        self.hits = self.misses = 0
        self._open: tuple[Path, object] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def get(self, uid: str, samples: int) -> torch.Tensor | None:
        """The stored tensor of ``uid`` if it was computed from ``samples`` samples of audio."""
        entry = self.index.get(uid)
        if entry is None or entry[1] != samples:
            return None
        shard = entry[0]
        if self._open is None or self._open[0] != shard:
            self._open = (shard, safe_open(str(shard), framework="pt"))
        return self._open[1].get_tensor(uid)

    def put(self, uids: list[str], tensors: list[torch.Tensor], samples: list[int]) -> None:
        """Store one shard with these utterances (no-op once the size limit is reached)."""
        size = sum(t.numel() * t.element_size() for t in tensors)
        if self.nbytes + size > self.max_bytes:
            if not self.full:
                logger.warning(
                    "frozen-output cache full (%.2f GB of %.2f GB): later utterances are recomputed",
                    self.nbytes / 2**30,
                    self.max_bytes / 2**30,
                )
            self.full = True
            return
        shard = self.folder / f"r{self.rank}_{self._shards:07d}.safetensors"
        self._shards += 1
        save_file(
            {uid: t.detach().to("cpu").contiguous() for uid, t in zip(uids, tensors)},
            str(shard),
            metadata={"ids": json.dumps(list(uids)), "samples": json.dumps([int(s) for s in samples])},
        )
        for uid, s in zip(uids, samples):
            self.index[uid] = (shard, int(s))
        self.nbytes += shard.stat().st_size

    def summary(self) -> str:
        """One log line: entries, size, limit, hit rate."""
        total = self.hits + self.misses
        rate = f"{self.hits / total:.0%}" if total else "n/a"
        return (
            f"frozen-output cache ({self.key.get('point')}): {len(self)} utterances, "
            f"{self.nbytes / 2**20:.1f} MB of {self.max_bytes / 2**30:.1f} GB at {self.folder}, "
            f"batch hit rate {rate}"
        )


def pad_rows(
    rows: list[torch.Tensor], device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (T_i, d) tensors into (B, T, d) zero-padded, with the (B, T) long mask.

    Example
    -------
    >>> hidden, mask = pad_rows([torch.ones(2, 3), torch.ones(1, 3)], torch.device("cpu"), torch.float32)
    >>> hidden.shape, mask.tolist()
    (torch.Size([2, 2, 3]), [[1, 1], [1, 0]])
    """
    length = max(r.shape[0] for r in rows)
    hidden = torch.zeros(len(rows), length, rows[0].shape[-1], device=device, dtype=dtype)
    mask = torch.zeros(len(rows), length, dtype=torch.long, device=device)
    for i, r in enumerate(rows):
        hidden[i, : r.shape[0]] = r.to(device, dtype)
        mask[i, : r.shape[0]] = 1
    return hidden, mask
