"""Ready-to-use ASR with SeamlessM4T and saved adapters, as a SpeechBrain interface.

:class:`M4TAdaptedASR` follows :class:`speechbrain.inference.ASR.EncoderDecoderASR`
(``transcribe_file``, ``transcribe_batch``, ``from_hparams``) and adds what
multilingual adapters need: a language per call, several adapter folders on
one base model (switched per call without reloading), batched transcription
of many files with per-file errors, and chunking of long recordings.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import batch_pad_right
from tqdm import tqdm

from ..data.audio import AudioError, audio_info, load_audio
from ..model.decoding import SAMPLE_RATE, join_texts, split_audio, transcribe_chunks
from ..model.features import FRAME_LENGTH
from ..model.lobe import SeamlessM4T
from .inputs import AudioInput, InputLike, as_input
from .profiles import AdapterProfile, AdapterProfiles
from .quantize import quantize_lobe
from .results import Transcription

#: The example hyperparameter file shipped with the package.
HPARAMS_TEMPLATE = Path(__file__).parent / "hparams" / "inference.yaml"

AdapterSelection = str | Sequence[str] | None


@dataclass
class _Pending:
    """A file being transcribed: its chunks' texts fill in as batches finish."""

    index: int
    result: Transcription
    texts: list[str | None] = field(default_factory=list)
    finished: bool = False

    @property
    def done(self) -> bool:
        """Whether every chunk has a text (or the file failed)."""
        return self.result.error is not None or all(t is not None for t in self.texts)


class M4TAdaptedASR(Pretrained):
    """SeamlessM4T speech recognition with adapter folders, SpeechBrain style.

    Hyperparameters (all optional except the ``m4t`` module; see
    ``inference/hparams/inference.yaml``):

    * ``adapter_folders``: list of folders (or ``{name: folder}``) written by
      :meth:`SeamlessM4T.save_adapters`; each becomes a profile named after
      its folder.
    * ``active_adapters``: profiles active by default (default: the first one).
    * ``default_lang``: language when a call gives none and the active
      adapters carry none (adapter metadata ``language``).
    * ``num_beams`` (1), ``max_new_tokens`` (checkpoint default),
      ``max_chunk_seconds`` (30; ``null`` disables chunking), ``batch_size`` (8).
    * ``quantize``: ``int8`` (or ``int8-encoder``) runs the base's linear layers in
      int8 on CPU and the filterbank in float32
      (:mod:`~speechbrain_m4t_adapters.inference.quantize`); adapters stay
      float and must be loaded before (``adapter_folders``).

    Language and adapters per call: ``lang`` picks the output language; with
    ``adapters=None`` the profiles whose metadata ``language`` equals ``lang``
    are used if there are any, else the currently active ones. ``adapters``
    may name profiles or attached sets (a list, or a comma-separated string);
    ``"none"`` runs the base model alone. Per-call choices are undone after
    the call; :meth:`use_adapters` changes the default.

    Arguments
    ---------
    *args, **kwargs
        Forwarded to :class:`speechbrain.inference.interfaces.Pretrained`
        (``modules={"m4t": SeamlessM4T(...)}``, ``hparams``, ``run_opts``).

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
        self.default_lang: str | None = None
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
        if hp.get("default_lang"):
            self.default_lang = self.m4t.languages.normalize(hp["default_lang"])
        if hp.get("quantize"):
            quantize_lobe(self.m4t, hp["quantize"])
            self.quantize = hp["quantize"]
        self.eval()

    # ------------------------------------------------------------ building
    @classmethod
    def from_model(
        cls,
        source: str | os.PathLike,
        adapter_folders: Sequence[str | os.PathLike] | dict[str, str | os.PathLike] = (),
        lang: str | None = None,
        device: str | None = None,
        dtype: str = "float32",
        save_path: str | None = None,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        max_chunk_seconds: float | None = 30.0,
        batch_size: int = 8,
        active_adapters: Sequence[str] | None = None,
        quantize: str | None = None,
        **model_kwargs: Any,
    ) -> M4TAdaptedASR:
        """Load a base model (hub id or folder) and adapter folders without a YAML file.

        Arguments
        ---------
        source : str or path
            SeamlessM4T hub id or local checkpoint folder.
        adapter_folders : list of folders or dict name -> folder
            Saved adapters to attach (each a profile; the first is active).
        lang : str, optional
            Default language (``default_lang``).
        device : str, optional
            ``"cpu"``, ``"cuda:0"``...; default: CUDA if available.
        dtype : str
            Base weight dtype (``float32``, ``bfloat16``, ``float16``).
        save_path : str, optional
            Hugging Face cache folder for hub downloads.
        num_beams, max_new_tokens, max_chunk_seconds, batch_size, active_adapters, quantize
            Defaults of the hyperparameters of the same names (``num_beams`` and
            ``max_new_tokens`` unset: what the first adapters were tested with in training).
        **model_kwargs
            More :class:`SeamlessM4T` arguments (``revision``, ``local_files_only``...).

        Returns
        -------
        M4TAdaptedASR
        """
        m4t = SeamlessM4T(source, save_path=save_path, dtype=dtype, **model_kwargs)
        hparams = {
            "adapter_folders": dict(adapter_folders)
            if isinstance(adapter_folders, dict)
            else [str(f) for f in adapter_folders],
            "active_adapters": active_adapters,
            "default_lang": lang,
            "num_beams": num_beams,
            "max_new_tokens": max_new_tokens,
            "max_chunk_seconds": max_chunk_seconds,
            "batch_size": batch_size,
            "quantize": quantize,
        }
        run_opts = {"device": device} if device else None
        return cls(modules={"m4t": m4t}, hparams=hparams, run_opts=run_opts)

    @classmethod
    def from_hparams(cls, source: str, hparams_file: str = "hyperparams.yaml", **kwargs) -> M4TAdaptedASR:
        """Load from a folder (or hub repo) holding a hyperpyyaml file, as SpeechBrain does.

        When ``source`` is a local folder and the file defines a top-level
        ``model_dir`` key, it is set to that folder's absolute path, so
        paths in the file can be written relative to it
        (``!ref <model_dir>/adapters_ory``). For a hub id (a folder published
        as ``save_adapters`` writes it), ``adapters.json`` and
        ``adapters.safetensors`` are fetched with SpeechBrain's ``fetch`` and
        ``model_dir`` is where they landed.

        Arguments
        ---------
        source : str
            Folder or hub repository.
        hparams_file : str
            File name inside ``source``.
        **kwargs
            Forwarded to :meth:`Pretrained.from_hparams` (``overrides``,
            ``savedir``, ``run_opts={"device": "cpu"}``...).

        Returns
        -------
        M4TAdaptedASR
        """
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

    # ------------------------------------------------------------ adapters
    def load_adapters(
        self, folder: str | os.PathLike, name: str | None = None, activate: bool | None = None
    ) -> AdapterProfile:
        """Attach a saved adapter folder as profile ``name`` (default: the folder's name).

        ``activate=None`` makes it the default only if no adapters are active yet.
        Raises :class:`~speechbrain_m4t_adapters.adapters.AdapterMismatchError`
        naming the folder if it was saved for another base model.
        """
        if self.quantize:
            raise ValueError(f"{folder}: adapters must be loaded before int8 quantisation (adapter_folders)")
        if activate is None:
            activate = not self.m4t.adapters.active
        profile = self.profiles.load(folder, name=name, activate=activate)
        self.mods.eval()
        return profile

    def unload_adapters(self, name: str) -> None:
        """Detach profile ``name``."""
        self.profiles.unload(name)

    def use_adapters(self, names: AdapterSelection) -> list[str]:
        """Make profiles (or sets) ``names`` the default, in order; ``"none"``/``[]``: base only.

        Returns
        -------
        list of str
            The attached set names now active.
        """
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
        """Resolve a call's language and adapter sets (see the class docstring).

        Returns
        -------
        (str, list of str)
            Normalised language code and the set names to activate.

        Raises
        ------
        ValueError
            Unknown language code (the message lists the valid ones), or no
            language given nor implied.
        KeyError
            Unknown adapter name.
        """
        if adapters is not None:
            sets = self.profiles.resolve(adapters)
        elif lang is not None and self.profiles.for_language(self.m4t.languages.normalize(lang)):
            sets = self.profiles.for_language(self.m4t.languages.normalize(lang))
        else:
            sets = list(self.m4t.adapters.active)
        if lang is None:
            implied = self.profiles.languages_of(sets)
            lang = implied[0] if implied else self.default_lang
        if lang is None:
            raise ValueError(
                "no language given: pass lang=<ISO 639-3 code> (this model knows: "
                f"{', '.join(self.languages)}), or load adapters saved with language=..."
            )
        return self.m4t.languages.normalize(lang), sets

    # ---------------------------------------------------------------- audio
    def load_audio(self, path: str | os.PathLike, start: float | None = None, stop: float | None = None):
        """Read a file as mono 16 kHz float32 (resampled, channels averaged).

        Raises :class:`~speechbrain_m4t_adapters.data.audio.AudioError` naming
        the file when it is missing, unreadable or empty.
        """
        return load_audio(path, SAMPLE_RATE, start=start, stop=stop)

    # ------------------------------------------------------------ decoding
    def _decode(
        self, wavs, wav_lens, lang, num_beams=None, max_new_tokens=None
    ) -> tuple[list[str], list[list[int]]]:
        with torch.no_grad():
            hidden, mask = self.m4t(wavs.float().to(self.m4t.device), wav_lens)
            tokens = self.m4t.generate(
                hidden,
                mask,
                lang,
                num_beams=num_beams or self.num_beams,
                max_new_tokens=max_new_tokens or self.max_new_tokens,
            )
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
        """Transcribe a padded batch, like ``EncoderDecoderASR.transcribe_batch``.

        No chunking here: each row is decoded whole (use
        :meth:`transcribe_waveform` or :meth:`transcribe_files` for long audio).

        Arguments
        ---------
        wavs : torch.Tensor
            (B, T) 16 kHz mono, right-padded.
        wav_lens : torch.Tensor, optional
            (B,) lengths relative to T (SpeechBrain convention); default all 1.
        lang : str, optional
            Output language (ISO 639-3); see the class docstring for defaults.
        adapters : str or list of str, optional
            Profiles/sets for this call.
        num_beams, max_new_tokens : int, optional
            Override the defaults for this call.

        Returns
        -------
        texts : list of str
        tokens : list of list of int
            Predicted token ids (without language token and ``</s>``).
        """
        lang, sets = self.select(lang, adapters)
        with self.profiles.using(sets):
            return self._decode(wavs, wav_lens, lang, num_beams, max_new_tokens)

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None, lang: str | None = None):
        """Same as :meth:`transcribe_batch`."""
        return self.transcribe_batch(wavs, wav_lens, lang)

    def transcribe_waveform(
        self,
        wav: torch.Tensor,
        sample_rate: int = SAMPLE_RATE,
        lang: str | None = None,
        adapters: AdapterSelection = None,
        max_chunk_seconds: float | None = None,
        batch_size: int | None = None,
        **decode_kwargs: Any,
    ) -> str:
        """Transcribe one recording given as a tensor, cutting it if long.

        Arguments
        ---------
        wav : torch.Tensor
            (T,) or (channels, T); channels are averaged.
        sample_rate : int
            Rate of ``wav``; resampled to 16 kHz if different.
        lang, adapters
            As in :meth:`transcribe_batch`.
        max_chunk_seconds : float or None
            Chunk limit; ``None``: the instance's; ``0`` never cuts.
        batch_size : int, optional
            Chunks per forward pass (default: the instance's).
        **decode_kwargs
            ``num_beams``, ``max_new_tokens``.

        Returns
        -------
        str
            Chunk transcripts joined with spaces.
        """
        wav = torch.as_tensor(wav, dtype=torch.float32)
        if wav.dim() == 2:
            wav = wav.mean(dim=0)
        if wav.dim() != 1:
            raise ValueError(f"expected a (T,) or (channels, T) waveform, got shape {tuple(wav.shape)}")
        if sample_rate != SAMPLE_RATE:
            import torchaudio

            wav = torchaudio.functional.resample(wav, sample_rate, SAMPLE_RATE)
        return self._transcribe_long(
            wav, "waveform", lang, adapters, max_chunk_seconds, batch_size, decode_kwargs
        )

    def _transcribe_long(
        self, wav, what, lang, adapters, max_chunk_seconds, batch_size, decode_kwargs
    ) -> str:
        """Chunk a 16 kHz waveform, decode the chunks in batches, join the texts."""
        limit = self.max_chunk_seconds if max_chunk_seconds is None else max_chunk_seconds
        lang, sets = self.select(lang, adapters)
        chunks = split_audio(wav, limit)
        _check_length(chunks, what)
        search = {"num_beams": self.num_beams, "max_new_tokens": self.max_new_tokens, **decode_kwargs}
        with self.profiles.using(sets):
            return transcribe_chunks(self.m4t, chunks, lang, batch_size or self.batch_size, **search)

    def transcribe_file(
        self,
        path: str | os.PathLike,
        lang: str | None = None,
        adapters: AdapterSelection = None,
        max_chunk_seconds: float | None = None,
        batch_size: int | None = None,
        **decode_kwargs: Any,
    ) -> str:
        """Transcribe one audio file (any rate, any channel count, chunked if long).

        ``path`` is any file soundfile reads; the other arguments are those of
        :meth:`transcribe_waveform`. A missing, corrupt, empty or too short file raises
        :class:`AudioError` naming it.
        """
        wav = self.load_audio(path)
        return self._transcribe_long(wav, path, lang, adapters, max_chunk_seconds, batch_size, decode_kwargs)

    # ------------------------------------------------------------ many files
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

        Files are sorted by duration (read from headers) so that a batch holds
        similar lengths; long files are chunked and their chunks batched like
        short files. A file that fails (missing, corrupt, empty, unknown
        language...) gets ``error`` set and the others go on.

        Arguments
        ---------
        inputs : sequence of path, AudioInput or AsrEntry
            Manifest rows carry their own language and segment.
        lang : str, optional
            Language for every input (overrides the inputs' own).
        adapters : str or list of str, optional
            Profiles/sets for every input; default chosen per language.
        batch_size : int, optional
            Chunks per forward pass (default: the instance's).
        max_chunk_seconds : float or None
            Chunk limit; ``None``: the instance's; ``0`` never cuts.
        progress : bool
            Show a tqdm progress bar on stderr.
        **decode_kwargs
            ``num_beams``, ``max_new_tokens``.

        Returns
        -------
        list of Transcription
        """
        items = [as_input(x) for x in inputs]
        results = [
            Transcription(item.id, item.path, lang=lang or item.lang, reference=item.reference)
            for item in items
        ]
        limit = self.max_chunk_seconds if max_chunk_seconds is None else max_chunk_seconds
        batch_size = batch_size or self.batch_size
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
        for (code, sets), indices in groups.items():
            # Longest first: a too-large batch fails at once, not after an hour.
            indices.sort(key=lambda i: -(results[i].duration or 0.0))
            with self.profiles.using(list(sets)):
                for batch in self._batches(items, results, indices, limit, batch_size):
                    self._run_batch(batch, code, decode_kwargs)
                    for pending in {id(p): p for p, _, _ in batch}.values():
                        if pending.done and not pending.finished:
                            self._finish(pending, bar)
        bar.close()
        return results

    def _batches(self, items, results, indices, limit, batch_size) -> Iterator[list]:
        """Yield batches of (pending file, chunk index, waveform) in length order."""
        buffer: list = []
        for i in indices:
            pending = _Pending(i, results[i])
            try:
                wav = self.load_audio(items[i].path, items[i].start, items[i].stop)
                chunks = split_audio(wav, limit)
                _check_length(chunks, items[i].path)
            except AudioError as error:
                results[i].error = str(error)
                yield [(pending, -1, None)]
                continue
            results[i].duration = wav.numel() / SAMPLE_RATE
            results[i].chunks = len(chunks)
            pending.texts = [None] * len(chunks)
            buffer += [(pending, k, chunk) for k, chunk in enumerate(chunks)]
            while len(buffer) >= batch_size:
                yield buffer[:batch_size]
                buffer = buffer[batch_size:]
        if buffer:
            yield buffer

    def _run_batch(self, batch: list, lang: str, decode_kwargs: dict) -> None:
        work = [(p, k, w) for p, k, w in batch if w is not None and p.result.error is None]
        if not work:
            return
        try:
            texts = self._decode(*batch_pad_right([w for _, _, w in work]), lang, **decode_kwargs)[0]
        except Exception as error:
            if len(work) == 1:
                work[0][0].result.error = f"{work[0][0].result.path}: transcription failed ({error})"
                return
            # Retry one by one so a single bad input does not sink the batch.
            for entry in work:
                self._run_batch([entry], lang, decode_kwargs)
            return
        for (pending, k, _), text in zip(work, texts):
            pending.texts[k] = text

    @staticmethod
    def _finish(pending: _Pending, bar) -> None:
        if pending.result.error is None:
            pending.result.text = join_texts([t or "" for t in pending.texts])
        pending.finished = True
        bar.update(1)


_MODEL_DIR = re.compile(r"^model_dir\s*:", re.M)


def _fetch_published_adapters(source: str, hparams_file: str, kwargs: dict) -> str | None:
    """Fetch a published folder's adapter files; returns the folder holding them.

    A folder written by ``save_adapters`` (see :mod:`..adapters.publish`) keeps
    ``adapters.json`` and ``adapters.safetensors`` next to a ``hyperparams.yaml``
    whose ``adapter_folders`` point at ``<model_dir>``. They are fetched with the
    same ``savedir``/``fetch_config``/``local_strategy`` that
    :meth:`Pretrained.from_hparams` uses for the hyperparameters; None when the
    file does not use ``model_dir``.
    """
    from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch

    from ..adapters.io import METADATA_NAME, WEIGHTS_NAME

    options = dict(
        source=source,
        savedir=kwargs.get("savedir"),
        local_strategy=kwargs.get("local_strategy", LocalStrategy.SYMLINK),
        fetch_config=kwargs.get("fetch_config", FetchConfig()),
    )
    hparams_path = Path(fetch(hparams_file, **options))
    if not _MODEL_DIR.search(hparams_path.read_text(encoding="utf-8")):
        return None
    metadata_path = Path(fetch(METADATA_NAME, **options))
    weights_path = Path(fetch(WEIGHTS_NAME, **options))
    if metadata_path.parent != weights_path.parent:
        raise FileNotFoundError(f"{source}: {METADATA_NAME} and {WEIGHTS_NAME} were fetched to two folders")
    return str(metadata_path.parent.resolve())


def _duration(item: AudioInput, result: Transcription) -> float | None:
    """Seconds to transcribe, from the header; records header errors on ``result``."""
    try:
        total, _, _ = audio_info(item.path)
    except AudioError as error:
        result.error = str(error)
        return None
    start = item.start or 0.0
    stop = total if item.stop is None else min(item.stop, total)
    return max(0.0, stop - start)


def _check_length(chunks: list[torch.Tensor], what: str | os.PathLike) -> None:
    """The front-end needs at least one 25 ms frame per chunk."""
    if not chunks or min(int(c.numel()) for c in chunks) < FRAME_LENGTH:
        raise AudioError(what, "empty_audio", f"shorter than one 25 ms frame ({FRAME_LENGTH} samples)")
