"""SpeechBrain datasets and loaders for speech (ASR) and text-pair batches.

Speech items provide ``sig`` (16 kHz mono audio), text items ``source`` (text-encoder ids); both
provide ``target`` (``[__lang__, tokens..., </s>]``), ``language`` and ``transcript``.
"""

import functools
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes
from speechbrain.utils.distributed import is_distributed_initialized
from torch.utils.data import ConcatDataset, DataLoader, Sampler

from ..data.audio import load_audio
from ..data.manifest import read_asr_manifest, read_text_manifest
from ..lobe import SeamlessM4T

logger = logging.getLogger(__name__)
ASR_KEYS = ["id", "sig", "target", "language", "transcript", "duration"]
UNWRITABLE = ("keep", "skip")
TEXT_KEYS = ["id", "source", "target", "language", "transcript"]


def _ids_item(m4t: SeamlessM4T, text_key: str, lang_key: str, provided: str):
    """Pipeline item: text + language -> token ids (``target``: ``[__lang__, tokens..., </s>]``)."""
    text_ids = m4t.text_ids  # not the model: workers only need the tokenizer

    @takes(text_key, lang_key)
    @provides(provided)
    def ids(text, lang):
        """Token ids of the text."""
        return torch.LongTensor(text_ids(text, lang))

    return ids


def unwritable_characters(tokenizer, known: dict[str, bool], text: str) -> str:
    """The characters of ``text`` the tokenizer can only write as ``<unk>`` (each once, in order);
    ``known`` caches character -> writable across calls."""
    for char in dict.fromkeys(text):
        if char not in known:
            ids = tokenizer(char, add_special_tokens=False)["input_ids"]
            known[char] = char.isspace() or tokenizer.unk_token_id not in ids
    return "".join(char for char in dict.fromkeys(text) if not known[char])


def _dataset(data: dict, m4t: SeamlessM4T, csv, unwritable: str, item, keys: list[str], sorting: str):
    data = check_writable_targets(data, m4t, csv, unwritable)
    items = [item, _ids_item(m4t, "transcript", "language", "target")]
    dataset = DynamicItemDataset(data, dynamic_items=items, output_keys=keys)
    if sorting in ("ascending", "descending"):
        return dataset.filtered_sorted(sort_key="duration", reverse=sorting == "descending")
    if sorting in ("random", "none"):
        return dataset
    raise ValueError(f"sorting must be ascending, descending, random or none; got {sorting!r}")


def check_writable_targets(
    data: dict[str, dict], m4t: SeamlessM4T, csv: str | Path, policy: str = "keep"
) -> dict:
    """Warn of targets the tokenizer cannot write (as ``<unk>``); drop them if ``policy`` is ``skip``
    (YAML ``unwritable_text``). ``data`` maps id -> item with a ``transcript``."""
    if policy not in UNWRITABLE:
        raise ValueError(f"unwritable_text must be one of {UNWRITABLE}, got {policy!r}")
    unwritable = functools.partial(unwritable_characters, m4t.text_ids.tokenizer, {})
    found = {uid: chars for uid, item in data.items() if (chars := unwritable(item["transcript"]))}
    if found:
        examples = ", ".join(f"{uid}: {chars!r}" for uid, chars in list(found.items())[:5])
        done = "skipped" if policy == "skip" else "kept (unwritable_text: skip drops them)"
        counted = f"{csv}: {len(found)} of {len(data)} targets"
        logger.warning("%s hold characters the tokenizer writes as <unk> (%s); %s", counted, examples, done)
    return {uid: item for uid, item in data.items() if policy == "keep" or uid not in found}


def asr_dataset(
    csv: str | Path, m4t: SeamlessM4T, sorting: str = "ascending", unwritable: str = "keep"
) -> DynamicItemDataset:
    """Speech dataset from an ASR manifest (``ID,duration,wav,language,transcript[,start,stop]``);
    ``m4t`` provides the tokenizer and language ids; ``sorting`` is ``ascending``/``descending``
    by duration (less padding) or ``random``/``none``; ``unwritable`` see :func:`check_writable_targets`.
    """
    normalize, data = m4t.languages.normalize, {}
    for entry in read_asr_manifest(csv):  # items: duration, wav, start, stop, language, transcript
        item = {key: value for key, value in asdict(entry).items() if key != "id"}  # the id is the key
        data[entry.id] = {**item, "language": normalize(entry.language)}

    @takes("wav", "start", "stop")
    @provides("sig")
    def audio(wav, start, stop):
        """Waveform of the utterance."""
        return load_audio(wav, start=start, stop=stop)

    return _dataset(data, m4t, csv, unwritable, audio, ASR_KEYS, sorting)


def text_dataset(
    csv: str | Path, m4t: SeamlessM4T, sorting: str = "random", unwritable: str = "keep"
) -> DynamicItemDataset:
    """Text-pair dataset from a text manifest (``ID,src_lang,tgt_lang,source,target``); arguments as in
    :func:`asr_dataset`; ``duration`` (the sort key) is the target's length in characters."""
    normalize, data = m4t.languages.normalize, {}
    for p in read_text_manifest(csv):
        src = {"source_text": p.source, "src_lang": normalize(p.src_lang)}
        tgt = {"language": normalize(p.tgt_lang), "transcript": p.target, "duration": float(len(p.target))}
        data[p.id] = {**src, **tgt}
    source = _ids_item(m4t, "source_text", "src_lang", "source")
    return _dataset(data, m4t, csv, unwritable, source, TEXT_KEYS, sorting)


class InterleavedBatchSampler(Sampler[list[int]]):
    """Homogeneous batches from several datasets, interleaved in random order.

    Mixes speech and text batches: indices refer to a ``ConcatDataset`` of datasets of
    ``sizes``, and each batch (of that dataset's ``batch_sizes`` entry) comes from one of them.
    ``shuffle`` shuffles items and batches (seed ``seed`` + epoch); ``rank``/``world_size``
    pick the DDP shard (default: from ``torch.distributed``).

    Example
    -------
    >>> sampler = InterleavedBatchSampler([5, 3], [2, 3], shuffle=False)
    >>> sorted(map(tuple, sampler))
    [(0, 1), (2, 3), (4,), (5, 6, 7)]
    >>> list(InterleavedBatchSampler([5, 3], [2, 3], shuffle=False, rank=1, world_size=3))
    [[2, 3], [0, 1]]
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch_sizes: Sequence[int],
        shuffle: bool = True,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ):
        self.sizes, self.batch_sizes = list(sizes), list(batch_sizes)
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        distributed = is_distributed_initialized()
        self.rank = rank if rank is not None else (dist.get_rank() if distributed else 0)
        self.world_size = world_size or (dist.get_world_size() if distributed else 1)

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently each epoch (SpeechBrain calls this)."""
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        batches, offset = [], 0
        for size, batch_size in zip(self.sizes, self.batch_sizes):
            order = list(range(offset, offset + size))
            if self.shuffle:
                rng.shuffle(order)
            batches += [order[i : i + batch_size] for i in range(0, size, batch_size)]
            offset += size
        if self.shuffle:
            rng.shuffle(batches)
        # DDP: every rank takes the same number of batches (gradients are averaged
        # each step), repeating the first ones if they do not divide evenly.
        per_rank = -(-len(batches) // self.world_size)
        batches += batches[: per_rank * self.world_size - len(batches)]
        return batches[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        total = sum(-(-s // b) for s, b in zip(self.sizes, self.batch_sizes))
        return -(-total // self.world_size)


def mixed_loader(
    speech: DynamicItemDataset,
    text: DynamicItemDataset,
    speech_batch_size: int,
    text_batch_size: int,
    seed: int = 0,
    num_workers: int = 0,
) -> DataLoader:
    """A loader yielding speech batches and text batches, interleaved at random."""
    sizes, batch_sizes = [len(speech), len(text)], [speech_batch_size, text_batch_size]
    sampler = InterleavedBatchSampler(sizes, batch_sizes, seed=seed)
    data = ConcatDataset([speech, text])
    return DataLoader(data, batch_sampler=sampler, collate_fn=PaddedBatch, num_workers=num_workers)
