"""SeamlessM4T + saved adapters as a SpeechBrain interface (like ``EncoderDecoderASR``), with a
language per call, several adapter folders on one base, batched files and long-audio chunking."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import batch_pad_right
from tqdm import tqdm

from ..data.audio import AudioError, audio_info, load_audio
from ..lobe import SeamlessM4T
from ..model.decoding import SAMPLE_RATE, join_texts, split_audio, transcribe_chunks
from ..model.features import FRAME_LENGTH
from .inputs import AudioInput, InputLike, as_input
from .profiles import AdapterProfile, AdapterProfiles
from .quantize import quantize_lobe
from .results import Transcription

AdapterSelection = str | Sequence[str] | None
#: Keywords of :meth:`M4TAdaptedASR.from_model` that set the hyperparameter of the same name.
_HPARAMS = ("num_beams", "max_new_tokens", "max_chunk_seconds", "batch_size", "active_adapters", "quantize")
_MODEL_DIR = re.compile(r"^model_dir\s*:", re.M)


class M4TAdaptedASR(Pretrained):
    """SeamlessM4T speech recognition with adapter folders, SpeechBrain style.

    The arguments are those of :class:`~speechbrain.inference.interfaces.Pretrained`
    (``modules={"m4t": SeamlessM4T(...)}``, ``hparams``, ``run_opts``); the hyperparameters
    are documented in ``inference/hparams/inference.yaml`` (unset ``num_beams`` and
    ``max_new_tokens``: the first adapters' training-time test decoding; ``quantize`` keeps
    adapters float, so they load before it, through ``adapter_folders``).

    Per call, ``lang`` picks the output language; ``adapters`` names profiles or attached sets
    (a list or a comma-separated string, ``"none"``: the base alone), by default the profiles
    saved for ``lang``, else the active ones (:meth:`use_adapters` sets those); ``num_beams``
    and ``max_new_tokens`` override the defaults for that call only.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_m4t_adapters.tiny import build_tiny_model
    >>> folder = build_tiny_model(tempfile.mkdtemp(), "v2", vocab_size=400)
    >>> asr = M4TAdaptedASR.from_model(folder, device="cpu", max_new_tokens=4)
    >>> texts, tokens = asr.transcribe_batch(torch.randn(2, 16000), torch.tensor([1.0, 0.5]), lang="ory")
    >>> len(texts), len(tokens[0]) <= 4
    (2, True)
    >>> asr.transcribe_waveform(torch.randn(16000 * 3), lang="ben", max_chunk_seconds=1.0) != ""
    True
    """

    HPARAMS_NEEDED: list[str] = []
    MODULES_NEEDED = ["m4t"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.hparams is None or not isinstance(self.mods.m4t, SeamlessM4T):
            raise ValueError("M4TAdaptedASR needs modules={'m4t': SeamlessM4T(...)}")
        hp = vars(self.hparams)
        self.quantize: str | None = None  # set once the base is quantised (adapters load before)
        self.profiles = AdapterProfiles(self.mods.m4t)
        folders = hp.get("adapter_folders") or []
        items = folders.items() if isinstance(folders, dict) else ((None, f) for f in folders)
        for name, folder in items:
            self.load_adapters(folder, name=name, activate=False)
        # Unset decoding settings: those the first adapters were tested with in training
        trained = next((p.metadata.get("decoding") or {} for p in self.profiles.profiles.values()), {})
        self.num_beams: int = int(hp.get("num_beams") or trained.get("num_beams") or 1)
        self.max_new_tokens: int | None = hp.get("max_new_tokens") or trained.get("max_new_tokens")
        self.max_chunk_seconds: float | None = hp.get("max_chunk_seconds", 30.0)
        self.batch_size: int = int(hp.get("batch_size") or 8)
        active = hp.get("active_adapters")
        if active is None and self.profiles.profiles:
            active = [next(iter(self.profiles.profiles))]
        if active is not None:
            self.use_adapters(active)
        lang = hp.get("default_lang")
        self.default_lang: str | None = self.m4t.languages.normalize(lang) if lang else None
        if hp.get("quantize"):
            quantize_lobe(self.m4t, hp["quantize"])
            self.quantize = hp["quantize"]
        self.eval()

    @classmethod
    def from_model(
        cls,
        source: str | os.PathLike,
        adapter_folders: Sequence[str | os.PathLike] | dict[str, str | os.PathLike] = (),
        lang: str | None = None,
        device: str | None = None,
        dtype: str = "float32",
        save_path: str | None = None,
        **kwargs: Any,
    ) -> M4TAdaptedASR:
        """Load a base model (hub id or folder) and adapter folders without a YAML file.

        ``lang`` is the ``default_lang``, ``device`` defaults to CUDA if available, ``save_path`` is the
        Hugging Face cache. ``num_beams``, ``max_new_tokens``, ``max_chunk_seconds``, ``batch_size``,
        ``active_adapters`` and ``quantize`` set that hyperparameter; other keywords go to
        :class:`SeamlessM4T` (``revision``, ``local_files_only``...)."""
        hparams = {key: kwargs.pop(key) for key in _HPARAMS if key in kwargs}
        m4t = SeamlessM4T(source, save_path=save_path, dtype=dtype, **kwargs)
        named = isinstance(adapter_folders, dict)
        hparams["adapter_folders"] = dict(adapter_folders) if named else [str(f) for f in adapter_folders]
        hparams["default_lang"] = lang
        return cls(modules={"m4t": m4t}, hparams=hparams, run_opts={"device": device} if device else None)

    @classmethod
    def from_hparams(cls, source: str, hparams_file: str = "hyperparams.yaml", **kwargs) -> M4TAdaptedASR:
        """Load from a folder (or hub repo) holding a hyperpyyaml file, as SpeechBrain does.

        A top-level ``model_dir`` key in the file is set to the local folder's absolute path
        (so paths can be ``!ref <model_dir>/adapters_ory``), or for a hub id to where
        SpeechBrain's ``fetch`` put its ``adapters.json`` and ``adapters.safetensors``.
        ``kwargs`` go to :meth:`Pretrained.from_hparams` (``overrides``, ``savedir``...)."""
        local = Path(source) / hparams_file
        if Path(source).is_dir():
            uses_model_dir = local.is_file() and _MODEL_DIR.search(local.read_text(encoding="utf-8"))
            folder = str(Path(source).resolve()) if uses_model_dir else None
        else:  # hub id or URL: a published adapter folder, fetched by SpeechBrain's own code
            folder = _fetch_published_adapters(source, hparams_file, kwargs)
        if folder is not None:
            overrides = kwargs.pop("overrides", None) or {}
            if isinstance(overrides, str):  # YAML text, as hyperpyyaml also accepts
                if not _MODEL_DIR.search(overrides):
                    overrides += f"\nmodel_dir: {json.dumps(folder)}\n"
            else:
                overrides = {"model_dir": folder, **overrides}
            kwargs["overrides"] = overrides
        return super().from_hparams(source=source, hparams_file=hparams_file, **kwargs)

    @property
    def m4t(self) -> SeamlessM4T:
        """The underlying :class:`SeamlessM4T` module."""
        return self.mods.m4t

    def load_adapters(
        self, folder: str | os.PathLike, name: str | None = None, activate: bool | None = None
    ) -> AdapterProfile:
        """Attach a saved adapter folder as profile ``name`` (default: the folder's name), made the default
        if ``activate`` (None: if no adapters are active); AdapterMismatchError if saved for another base."""
        if self.quantize:
            raise ValueError(f"{folder}: adapters must be loaded before int8 quantisation (adapter_folders)")
        activate = not self.m4t.adapters.active if activate is None else activate
        profile = self.profiles.load(folder, name=name, activate=activate)
        self.mods.eval()
        return profile

    def unload_adapters(self, name: str) -> None:
        """Detach profile ``name``."""
        self.profiles.unload(name)

    def use_adapters(self, names: AdapterSelection) -> list[str]:
        """Make profiles or sets ``names`` the default, in order (``"none"``: base only); returns the sets."""
        sets = self.profiles.resolve(names)
        self.m4t.adapters.set_active(sets)
        return sets

    @property
    def adapter_profiles(self) -> dict[str, AdapterProfile]:
        """Loaded profiles by name."""
        return dict(self.profiles.profiles)

    @property
    def languages(self) -> list[str]:
        """Language codes the decoder knows."""
        return self.m4t.languages.codes

    def select(self, lang: str | None = None, adapters: AdapterSelection = None) -> tuple[str, list[str]]:
        """A call's normalised language and adapter sets (see the class docstring); ValueError for an
        unknown language or none given nor implied, KeyError for an unknown adapter name."""
        if adapters is not None:
            sets = self.profiles.resolve(adapters)
        else:  # the profiles saved for lang, else the active sets
            saved = [] if lang is None else self.profiles.for_language(self.m4t.languages.normalize(lang))
            sets = saved or list(self.m4t.adapters.active)
        if lang is None:
            implied = self.profiles.languages_of(sets)
            lang = implied[0] if implied else self.default_lang
        if lang is None:
            raise ValueError(
                "no language given: pass lang=<ISO 639-3 code> (this model knows: "
                f"{', '.join(self.languages)}), or load adapters saved with language=..."
            )
        return self.m4t.languages.normalize(lang), sets

    def load_audio(self, path: str | os.PathLike, start: float | None = None, stop: float | None = None):
        """Read a file as mono 16 kHz float32; an :class:`AudioError` names a missing or unreadable one."""
        return load_audio(path, SAMPLE_RATE, start=start, stop=stop)

    def _decode(
        self, wavs, wav_lens, lang, num_beams=None, max_new_tokens=None
    ) -> tuple[list[str], list[list[int]]]:
        beams, limit = num_beams or self.num_beams, max_new_tokens or self.max_new_tokens
        with torch.no_grad():
            hidden, mask = self.m4t(wavs.float().to(self.m4t.device), wav_lens)
            tokens = self.m4t.generate(hidden, mask, lang, num_beams=beams, max_new_tokens=limit)
        return self.m4t.decode_tokens(tokens), tokens

    def transcribe_batch(
        self,
        wavs: torch.Tensor,
        wav_lens: torch.Tensor | None = None,
        lang: str | None = None,
        adapters: AdapterSelection = None,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
    ) -> tuple[list[str], list[list[int]]]:
        """Transcribe a padded batch, like ``EncoderDecoderASR.transcribe_batch``; rows are decoded whole.

        ``wavs`` is (B, T) 16 kHz mono, right-padded; ``wav_lens`` (B,) lengths relative to T
        (default all 1). Returns the texts and token ids (without language token and ``</s>``)."""
        lang, sets = self.select(lang, adapters)
        with self.profiles.using(sets):
            return self._decode(wavs, wav_lens, lang, num_beams, max_new_tokens)

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None, lang: str | None = None):
        """Same as :meth:`transcribe_batch`."""
        return self.transcribe_batch(wavs, wav_lens, lang)

    def transcribe_waveform(
        self, wav: torch.Tensor, sample_rate: int = SAMPLE_RATE, lang: str | None = None, **options: Any
    ) -> str:
        """Transcribe one (T,) or (channels, T) recording, resampled to 16 kHz and cut if long.

        ``options``: ``adapters``, ``max_chunk_seconds`` (``None``: the instance's; ``0`` never
        cuts), ``batch_size`` (chunks per forward pass), ``num_beams``, ``max_new_tokens``.
        Returns the chunk transcripts joined with spaces."""
        wav = torch.as_tensor(wav, dtype=torch.float32)
        if wav.dim() == 2:
            wav = wav.mean(dim=0)
        if wav.dim() != 1:
            raise ValueError(f"expected a (T,) or (channels, T) waveform, got shape {tuple(wav.shape)}")
        if sample_rate != SAMPLE_RATE:
            import torchaudio

            wav = torchaudio.functional.resample(wav, sample_rate, SAMPLE_RATE)
        return self._transcribe_long(wav, "waveform", lang, **options)

    def transcribe_file(self, path: str | os.PathLike, lang: str | None = None, **options: Any) -> str:
        """Transcribe one audio file, any rate or channels (``options``: see :meth:`transcribe_waveform`);
        a missing, corrupt, empty or too short file raises :class:`AudioError` naming it."""
        return self._transcribe_long(self.load_audio(path), path, lang, **options)

    def _transcribe_long(
        self, wav, what, lang, adapters=None, max_chunk_seconds=None, batch_size=None, **decode_kwargs
    ) -> str:
        """Chunk a 16 kHz waveform, decode the chunks in batches, join the texts."""
        lang, sets = self.select(lang, adapters)
        chunks = split_audio(wav, self.max_chunk_seconds if max_chunk_seconds is None else max_chunk_seconds)
        _check_length(chunks, what)
        search = {"num_beams": self.num_beams, "max_new_tokens": self.max_new_tokens, **decode_kwargs}
        with self.profiles.using(sets):
            return transcribe_chunks(self.m4t, chunks, lang, batch_size or self.batch_size, **search)

    def transcribe_files(
        self,
        inputs: Sequence[InputLike],
        lang: str | None = None,
        adapters: AdapterSelection = None,
        batch_size: int | None = None,
        max_chunk_seconds: float | None = None,
        progress: bool = False,
        **decode_kwargs: Any,
    ) -> list[Transcription]:
        """Transcribe many files in padded batches; one result per input, in input order.

        ``inputs`` are paths, :class:`AudioInput` or manifest rows (with their own language and
        segment); ``lang`` (default: each input's) and ``adapters`` (default: per language)
        apply to all; the others are those of :meth:`transcribe_waveform` (``progress``: a
        tqdm bar on stderr). Batches hold files of similar length, long ones chunked; a file
        that fails gets ``error`` set and the others go on."""
        items = [as_input(x) for x in inputs]
        results = [Transcription(x.id, x.path, lang=lang or x.lang, reference=x.reference) for x in items]
        limit = self.max_chunk_seconds if max_chunk_seconds is None else max_chunk_seconds
        groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for i, item in enumerate(items):
            try:
                code, sets = self.select(lang or item.lang, adapters)
            except ValueError as error:
                results[i].error = f"{item.path}: {error}"
                continue
            results[i].lang, results[i].adapters = code, sets
            results[i].duration = _duration(item, results[i])
            if results[i].error is None:
                groups.setdefault((code, tuple(sets)), []).append(i)
        bar = tqdm(total=len(items), unit="file", disable=not progress, file=sys.stderr, dynamic_ncols=True)
        bar.update(sum(1 for r in results if r.error))
        texts: dict[tuple[int, int], str] = {}  # (input, chunk) -> text
        for (code, sets), indices in groups.items():
            # Longest first: a too-large batch fails at once, not after an hour.
            indices.sort(key=lambda i: -(results[i].duration or 0.0))
            with self.profiles.using(list(sets)):
                for batch in self._batches(items, results, indices, limit, batch_size or self.batch_size):
                    self._run_batch(batch, results, texts, code, decode_kwargs)
                    # A file is done with its last chunk (chunk -1 of 0 when its audio failed to load).
                    for i in [i for i, k, _ in batch if k == results[i].chunks - 1]:
                        if (r := results[i]).error is None:
                            r.text = join_texts([texts.pop((i, k), "") for k in range(r.chunks)])
                        bar.update(1)
        bar.close()
        return results

    def _batches(self, items, results, indices, limit, batch_size) -> Iterator[list]:
        """Yield batches of (input index, chunk index, waveform) in length order."""
        buffer: list = []
        for i in indices:
            try:
                wav = self.load_audio(items[i].path, items[i].start, items[i].stop)
                chunks = split_audio(wav, limit)
                _check_length(chunks, items[i].path)
            except AudioError as error:
                results[i].error = str(error)
                yield [(i, -1, None)]
                continue
            results[i].duration = wav.numel() / SAMPLE_RATE
            results[i].chunks = len(chunks)
            buffer += [(i, k, chunk) for k, chunk in enumerate(chunks)]
            while len(buffer) >= batch_size:
                yield buffer[:batch_size]
                buffer = buffer[batch_size:]
        if buffer:
            yield buffer

    def _run_batch(self, batch: list, results: list, texts: dict, lang: str, decode_kwargs: dict) -> None:
        work = [(i, k, w) for i, k, w in batch if w is not None and results[i].error is None]
        if not work:
            return
        try:
            decoded = self._decode(*batch_pad_right([w for _, _, w in work]), lang, **decode_kwargs)[0]
        except Exception as error:
            if len(work) > 1:  # retry one by one so a single bad input does not sink the batch
                for entry in work:
                    self._run_batch([entry], results, texts, lang, decode_kwargs)
            else:
                result = results[work[0][0]]
                result.error = f"{result.path}: transcription failed ({error})"
            return
        texts.update(((i, k), text) for (i, k, _), text in zip(work, decoded))


def _fetch_published_adapters(source: str, hparams_file: str, kwargs: dict) -> str | None:
    """Fetch a published folder's adapter files as ``from_hparams`` would; None if it has no model_dir."""
    from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch

    from ..adapters.io import METADATA_NAME, WEIGHTS_NAME

    options = {"source": source, "savedir": kwargs.get("savedir")}
    options["local_strategy"] = kwargs.get("local_strategy", LocalStrategy.SYMLINK)
    options["fetch_config"] = kwargs.get("fetch_config", FetchConfig())
    if not _MODEL_DIR.search(Path(fetch(hparams_file, **options)).read_text(encoding="utf-8")):
        return None
    metadata, weights = (Path(fetch(name, **options)).parent for name in (METADATA_NAME, WEIGHTS_NAME))
    if metadata != weights:
        raise FileNotFoundError(f"{source}: {METADATA_NAME} and {WEIGHTS_NAME} were fetched to two folders")
    return str(metadata.resolve())


def _duration(item: AudioInput, result: Transcription) -> float | None:
    """Seconds to transcribe, from the header; records header errors on ``result``."""
    try:
        total = audio_info(item.path)[0]
    except AudioError as error:
        result.error = str(error)
        return None
    stop = total if item.stop is None else min(item.stop, total)
    return max(0.0, stop - (item.start or 0.0))


def _check_length(chunks: list[torch.Tensor], what: str | os.PathLike) -> None:
    """The front-end needs at least one 25 ms frame per chunk."""
    if not chunks or min(int(c.numel()) for c in chunks) < FRAME_LENGTH:
        raise AudioError(what, "empty_audio", f"shorter than one 25 ms frame ({FRAME_LENGTH} samples)")
