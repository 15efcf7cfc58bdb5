"""On-disk cache of the outputs of frozen, deterministic stacks: computed in epoch 1, read back after.

What lies below the lowest trainable module, frozen and without randomness, gives each utterance the
same output: the speech encoder (x8 shorter) below decoder adapters / LoRA, the Conformer (+ features)
below a trainable length adaptor, the text encoder in text-only training. Entries are safetensors
shards (one per batch) under ``<root>/<key>/``; the key hashes the base (source, architecture, frozen
weights), features, cache point and frozen active adapter sets: any change uses a fresh folder (older
ones are deleted). An entry of another length is recomputed; writing stops at ``max_gb``.
"""

import hashlib
import json
import logging
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from speechbrain.utils.distributed import is_distributed_initialized
from torch import nn

from ..adapters.hosting import active_module
from ..adapters.sets import any_trainable

logger = logging.getLogger(__name__)


def weights_checksum(modules: list[nn.Module]) -> str:
    """Cheap digest of the weights of ``modules`` (per-parameter float64 sums, on their device).

    Example
    -------
    >>> a, b = nn.Linear(3, 2), nn.Linear(3, 2)
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
    inner = [m for module in modules for m in module.modules()]
    return not any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 and m.training for m in inner)


class FrozenOutputCache:
    """Per-utterance tensors on disk under ``root/<hash of key>``, up to ``max_gb``; DDP ranks
    write their own shards (``rank`` prefixes their names).

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
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        self.key, self.rank = key, rank
        self.folder, self.max_bytes = Path(root) / digest, int(max_gb * 2**30)
        for stale in Path(root).iterdir() if Path(root).is_dir() else []:
            if stale.is_dir() and stale != self.folder and (stale / "key.json").is_file():
                logger.info("frozen-output cache: removing %s (base, features or adapters changed)", stale)
                shutil.rmtree(stale, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True))
        self.index: dict[str, tuple[Path, int]] = {}
        shards = sorted(self.folder.glob("*.safetensors"))
        for shard in shards:
            with safe_open(str(shard), framework="pt") as f:
                meta = f.metadata() or {}
            for uid, samples in zip(json.loads(meta.get("ids", "[]")), json.loads(meta.get("samples", "[]"))):
                self.index[uid] = (shard, int(samples))
        self.nbytes, self._shards = sum(shard.stat().st_size for shard in shards), len(shards)
        self.full, self.hits, self.misses = False, 0, 0
        self._open: tuple[Path, object] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def get(self, uid: str, samples: int) -> torch.Tensor | None:
        """The stored tensor of ``uid`` if it was computed from ``samples`` samples of audio."""
        shard, stored = self.index.get(uid, (None, None))
        if stored != samples:
            return None
        if self._open is None or self._open[0] != shard:
            self._open = (shard, safe_open(str(shard), framework="pt"))
        return self._open[1].get_tensor(uid)

    def put(self, uids: list[str], tensors: list[torch.Tensor], samples: list[int]) -> None:
        """Store one shard with these utterances (no-op once the size limit is reached)."""
        size = sum(t.numel() * t.element_size() for t in tensors)
        if self.nbytes + size > self.max_bytes:
            if not self.full:
                sizes = f"{self.nbytes / 2**30:.2f} GB of {self.max_bytes / 2**30:.2f} GB"
                logger.warning("frozen-output cache full (%s): later utterances are recomputed", sizes)
            self.full = True
            return
        shard = self.folder / f"r{self.rank}_{self._shards:07d}.safetensors"
        self._shards += 1
        metadata = {"ids": json.dumps(list(uids)), "samples": json.dumps([int(s) for s in samples])}
        save_file({u: t.detach().to("cpu").contiguous() for u, t in zip(uids, tensors)}, str(shard), metadata)
        self.index.update({uid: (shard, int(s)) for uid, s in zip(uids, samples)})
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
    hidden = torch.nn.utils.rnn.pad_sequence([r.to(device, dtype) for r in rows], batch_first=True)
    lengths = torch.tensor([r.shape[0] for r in rows], device=device)
    return hidden, (torch.arange(hidden.shape[1], device=device) < lengths[:, None]).long()


class FrozenOutputs:
    """The lobe's frozen stages, computed once per utterance and read from the cache afterwards.

    :meth:`encoded` gives what :meth:`SeamlessM4T.forward` takes as ``encoded``; it is None
    when there is nothing exact to cache (the model is not training, the lowest trainable module
    is in the Conformer, or dropout/LayerDrop is active below it), and the lobe then runs whole.
    ``folder`` holds one sub-folder per input kind; beyond ``max_gb`` utterances are recomputed.
    """

    def __init__(self, m4t, folder: str | Path | None, max_gb: float = 20.0) -> None:
        if folder is None:
            raise ValueError("frozen_cache needs frozen_cache_folder")
        self.m4t, self.folder, self.max_gb = m4t, Path(folder), max_gb
        self._caches: dict[str, tuple[tuple, FrozenOutputCache]] = {}
        self._refusals: set[str] = set()

    def summaries(self) -> list[str]:
        """One log line per cache in use."""
        return [cache.summary() for _, cache in self._caches.values()]

    def _point(self, kind: str) -> tuple[str | None, list[nn.Module], str]:
        """Highest frozen stage of ``kind`` input below every trainable module (and why not, if None)."""
        model = self.m4t.model
        if kind == "text":
            if any_trainable(model.text_encoder):
                return None, [], "the text encoder trains"
            if model.config.encoder_layerdrop > 0:
                return None, [], "text-encoder LayerDrop is random"
            return "text_encoder", [model.text_encoder], ""
        encoder = active_module(model.speech_encoder)
        if any_trainable(encoder.feature_projection, encoder.encoder):
            return None, [], "the Conformer trains"
        if model.config.speech_encoder_layerdrop > 0:
            return None, [], "speech-encoder LayerDrop is random"
        if any_trainable(encoder.intermediate_ffn, encoder.adapter, encoder.inner_layer_norm):
            return "conformer", [encoder.feature_projection, encoder.encoder], ""
        return "speech_encoder", [encoder], ""

    def _cache(self, kind: str) -> tuple[FrozenOutputCache, str] | None:
        """The cache for ``kind`` batches, when in training and exact."""
        if not (self.m4t.training and torch.is_grad_enabled()):
            return None
        point, modules, why = self._point(kind)
        if point is not None and not is_deterministic(modules):
            point, why = None, "dropout is active below the trainable modules"
        if point is None:
            if kind not in self._refusals:
                logger.info("frozen-output cache off for %s batches: %s", kind, why)
                self._refusals.add(kind)
            return None
        sets = self.m4t.adapters
        frozen_sets = [n for n in sets.active if not sets.sets[n].trainable]
        state = (point, tuple(frozen_sets))
        if self._caches.get(kind, (None,))[0] != state:
            m4t, fb = self.m4t, self.m4t.fbank
            key = dict(point=point, source=m4t.source, fingerprint=m4t.fingerprint, dtype=str(m4t.dtype))
            key["features"] = {"bins": fb.num_mel_bins, "stride": fb.stride, "precision": str(fb.precision)}
            key.update(weights=weights_checksum(modules), frozen_sets=frozen_sets)  # frozen adapters too
            rank = torch.distributed.get_rank() if is_distributed_initialized() else 0
            # One sub-folder per input kind: a new key replaces only its own kind's entries.
            cache = FrozenOutputCache(self.folder / kind, key, self.max_gb, rank)
            logger.info("%s", cache.summary())
            self._caches[kind] = (state, cache)
        return self._caches[kind][1], point

    def encoded(self, ids, wavs=None, wav_lens=None, input_ids=None, attention_mask=None):
        """``(point, hidden, mask)`` of the batch's frozen stages, or None (see the class docstring);
        entries are keyed by id and sample count (speech) or token count (text)."""
        if (found := self._cache("speech" if wavs is not None else "text")) is None:
            return None
        (cache, point), ids = found, list(ids)
        if wavs is not None:
            wavs = wavs.to(self.m4t.device)
            lens = torch.ones(wavs.shape[0]) if wav_lens is None else wav_lens.float().cpu()
            counts, device = torch.round(lens * wavs.shape[-1]).long().tolist(), self.m4t.device
        else:
            counts, device = attention_mask.sum(1).tolist(), input_ids.device
        rows = [cache.get(uid, n) for uid, n in zip(ids, counts)]
        if all(r is not None for r in rows):
            cache.hits += 1
            hidden, mask = pad_rows(rows, device, rows[0].dtype)
            return point, hidden, (mask if wavs is not None else attention_mask)
        cache.misses += 1
        with torch.no_grad():
            if wavs is None:
                hidden, mask = self.m4t.encode_text(input_ids, attention_mask)[0], attention_mask
            else:
                features, mask = self.m4t.extract_features(wavs, wav_lens)
                if point == "conformer":
                    hidden = self.m4t.encode_conformer(features, mask)
                else:
                    hidden, mask = self.m4t.encode_speech(features, mask)
        # Padding as a cache hit pads (zeros), so epoch 1 computes exactly what later epochs do.
        hidden = hidden * mask.unsqueeze(-1).to(hidden.dtype)
        cache.put(ids, [hidden[i, :n] for i, n in enumerate(mask.sum(1).tolist())], counts)
        return point, hidden, mask
