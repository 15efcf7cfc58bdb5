"""Synthetic speech of real text: espeak-ng reading FLORES-200 dev phrases.

The mini SeamlessM4T (``tools/mini/mini_model.py``) was pretrained on such speech and its
experiments adapt it with it. Text is real (FLORES-200 dev, bundled for eng, ben, ory, mai; CC BY-SA
4.0); espeak-ng (PyPI ``espeakng-loader``, in-process through ``ctypes``) reads each phrase with a
random voice variant, rate and pitch, silence around it and white noise at a random SNR
(``resources/mini/speech_spec.yaml``). Every choice derives from a seed: the same arguments give the
same wavs with the same espeak-ng build. **It is robot speech**: error rates on it say nothing about
real recordings. Maithili has no espeak-ng voice: the Hindi voice reads it. Dev sentences are split
by index (:data:`SPLITS`), the same for every language: ``train`` 0-799 (adaptation training; the
mini model's pretraining heard the other languages' phrases of 0-899), ``valid`` 800-899, ``test``
900-996 (held out of ALL pretraining, speech and text).
"""

import ctypes
import logging
import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..evaluation.normalize import normalize_text
from .languages import FLORES_CODES
from .manifest import PathLike, SkipReport
from .prepare import Candidate, PrepareOptions, prepare_manifest

logger = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
#: Synthesis settings shared by pretraining data (tools/mini) and the experiments' data.
SPEECH_SPEC = RESOURCES / "mini" / "speech_spec.yaml"
#: FLORES-200 dev files bundled with the package (see resources/README.md).
BUNDLED_FLORES = RESOURCES / "flores200"
#: Dev sentence ranges ``[start, stop)`` of each split (stop None: to the end).
SPLITS = {"train": (0, 800), "valid": (800, 900), "test": (900, None)}

# espeak-ng C API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS, _ESPEAK_CHARS_UTF8, _ESPEAK_RATE, _ESPEAK_PITCH = 2, 1, 1, 3
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Espeak:
    """In-process espeak-ng synthesiser (one per process: the library keeps global state).

    ``library``/``data``: ``libespeak-ng`` and ``espeak-ng-data`` paths (default: the wheel's).

    Example
    -------
    >>> tts = Espeak()
    >>> wav = tts.synthesize("नमस्ते दुनिया", "hi+f2", rate=150, pitch=50)
    >>> tts.sample_rate, wav.dtype, 0.3 < len(wav) / tts.sample_rate < 3
    (22050, dtype('float32'), True)
    """

    def __init__(self, library: str | None = None, data: str | None = None) -> None:
        if library is None or data is None:
            try:
                import espeakng_loader
            except ImportError as error:
                raise ImportError("synthetic speech needs espeak-ng: pip install espeakng-loader") from error
            library = library or espeakng_loader.get_library_path()
            data = data or espeakng_loader.get_data_path()
        self.lib = ctypes.CDLL(library)
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.sample_rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed with {library} and data {data}")
        self._chunks: list[np.ndarray] = []

        def collect(samples, count, events) -> int:
            """espeak-ng's synthesis callback: keep a copy of each chunk of samples."""
            if count > 0:
                self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
            return 0

        self._callback = _CALLBACK(collect)  # keep a reference: the C side holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def synthesize(self, text: str, voice: str, rate: int, pitch: int, seed: int = 0) -> np.ndarray:
        """Speak ``text`` with ``voice`` (e.g. ``hi+f2``): float32 samples at :attr:`sample_rate`.

        ``seed`` seeds espeak-ng's own random generator (breathy variants differ between processes
        without it)."""
        self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(_ESPEAK_RATE, int(rate), 0)
        self.lib.espeak_SetParameter(_ESPEAK_PITCH, int(pitch), 0)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        if (err := self.lib.espeak_Synth(data, len(data), 0, 0, 0, _ESPEAK_CHARS_UTF8, None, None)) != 0:
            raise RuntimeError(f"espeak_Synth failed ({err}) on {text!r}")
        self.lib.espeak_Synchronize()
        return np.concatenate(self._chunks or [np.zeros(0, np.int16)]).astype(np.float32) / 32768.0


def load_speech_spec(path: PathLike = SPEECH_SPEC) -> dict:
    """Synthesis settings (rates, pitches, variants, SNR...; see ``resources/mini/speech_spec.yaml``)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


#: Language -> espeak-ng voice, from the speech spec (the same voices as the pretraining data).
_SPEC = load_speech_spec()
VOICES = {lang: e["voice"] for lang, e in {**_SPEC["pretrain_speech"], **_SPEC["target_speech"]}.items()}


def read_flores_dev(flores_dir: PathLike | None, stem: str) -> list[str]:
    """Sentences of ``<flores_dir>/dev/<stem>.dev`` (default folder: the bundled copy)."""
    path = Path(flores_dir or BUNDLED_FLORES) / "dev" / f"{stem}.dev"
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: FLORES-200 dev file missing (the package bundles eng, ben, ory, mai; "
            "give flores_dir for other languages)"
        )
    return path.read_text(encoding="utf-8").splitlines()


def seeded_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator that depends only on the seed and the keys (stable across runs and machines).

    Example
    -------
    >>> float(seeded_rng(1, "a").random()) == float(seeded_rng(1, "a").random())
    True
    """
    return np.random.default_rng([seed] + [zlib.crc32(str(k).encode()) for k in keys])


def cut_phrases(sentence: str, rng: np.random.Generator, min_words: int, max_words: int) -> list[str]:
    """Cut a sentence into consecutive phrases of ``min_words``-``max_words`` words.

    Phrases holding a digit are dropped (espeak-ng reads numbers in words the transcript lacks).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> phrases = cut_phrases("a b c d e f g", rng, 2, 3)
    >>> " ".join(phrases), all(2 <= len(p.split()) <= 3 for p in phrases[:-1])
    ('a b c d e f g', True)
    >>> cut_phrases("in 1990 there", rng, 3, 3)
    []
    """
    words = sentence.split()
    phrases, start = [], 0
    while start < len(words):
        size = int(rng.integers(min_words, max_words + 1))
        phrase = words[start : start + size]
        start += size
        if len(phrase) < min_words and phrases:  # glue a short tail to the previous phrase
            phrases[-1] += " " + " ".join(phrase)
        else:
            phrases.append(" ".join(phrase))
    return [p for p in phrases if not any(ch.isdigit() for ch in p)]


def clip_settings(spec: dict, rng: np.random.Generator) -> dict:
    """Random voice variant, rate, pitch and SNR of one clip (drawn from ``rng``)."""
    return {
        "variant": str(rng.choice(spec["variants"])),
        "rate": int(rng.integers(spec["rate_wpm"][0], spec["rate_wpm"][1] + 1)),
        "pitch": int(rng.integers(spec["pitch"][0], spec["pitch"][1] + 1)),
        "snr_db": round(float(rng.uniform(*spec["snr_db"])), 2),
    }


def render_clip(tts: Espeak, clip: dict, spec: dict) -> np.ndarray:
    """Audio of one planned clip at ``spec['sample_rate']``: speech, silences, noise.

    ``clip`` has ``id``, ``text``, ``voice`` and the keys of :func:`clip_settings`."""
    from scipy.signal import resample_poly

    voice = f"{clip['voice']}+{clip['variant']}"
    seed = zlib.crc32(f"{spec['seed']} {clip['id']}".encode())
    wav = tts.synthesize(clip["text"], voice, clip["rate"], clip["pitch"], seed=seed)
    rate = spec["sample_rate"]
    wav = resample_poly(wav, rate, tts.sample_rate).astype(np.float32)  # reduces the ratio by its gcd
    rng = seeded_rng(spec["seed"], "noise", clip["id"])
    pads = [np.zeros(int(rng.uniform(*spec["lead_silence_s"]) * rate), np.float32) for _ in range(2)]
    wav = np.concatenate([pads[0], wav, pads[1]])
    power = float(np.mean(wav**2)) + 1e-12
    noise = rng.standard_normal(len(wav)).astype(np.float32)
    wav = wav + noise * np.sqrt(power / 10 ** (clip["snr_db"] / 10))
    return np.clip(wav, -1.0, 1.0).astype(np.float32)


def unreadable_reason(seconds: float, text: str, spec: dict) -> str | None:
    """Why a rendered clip is unusable (None: it is fine).

    A voice fed a script it cannot read spells out Unicode character names: such clips are far
    longer than 1 s + ``max_seconds_per_word`` per word."""
    if seconds < 0.2:
        return f"espeak-ng gave no speech for {text!r}"
    if seconds > 1.0 + spec["max_seconds_per_word"] * len(text.split()):
        return f"{seconds:.1f} s for {text!r}: the voice probably cannot read this script"
    return None


def plan_phrases(
    language: str, split: str, count: int, seed: int, spec: dict, flores_dir: PathLike | None = None
) -> list[dict]:
    """Deterministic clips (id, text, voice and settings) of one language and split.

    Example
    -------
    >>> spec = load_speech_spec()
    >>> clips = plan_phrases("ory", "test", 3, seed=1, spec=spec)
    >>> [c["id"] for c in clips], clips == plan_phrases("ory", "test", 3, seed=1, spec=spec)
    (['ory_test_1_0000', 'ory_test_1_0001', 'ory_test_1_0002'], True)
    """
    if language not in VOICES:
        raise ValueError(f"no espeak-ng voice for language {language!r}; known: {sorted(VOICES)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    sentences = read_flores_dev(flores_dir, FLORES_CODES[language])
    start, stop = SPLITS[split]
    rng = seeded_rng(seed, "phrases", language, split)
    low, high = spec["phrase_words"]
    pool = [p for s in sentences[start:stop] for p in cut_phrases(s, rng, low, high)]
    order = rng.permutation(len(pool))[:count]
    if len(order) < count:
        logger.warning("%s/%s: only %d phrases for %d asked", language, split, len(order), count)
    ids = [f"{language}_{split}_{seed}_{k:04d}" for k in range(len(order))]
    drawn = [clip_settings(spec, seeded_rng(seed, "clip", i)) for i in ids]
    return [{"id": i, "text": pool[j], "voice": VOICES[language], **d} for i, j, d in zip(ids, order, drawn)]


def _render_all(clips: list[dict], spec: dict, folder: str) -> list[tuple[str, str | None]]:
    """Render clips in this (fresh) process; ``[(wav path, unusable reason or None)]``."""
    import soundfile as sf

    tts = Espeak()
    out = []
    for clip in clips:
        wav = render_clip(tts, clip, spec)
        path = Path(folder) / f"{clip['id']}.wav"
        reason = unreadable_reason(len(wav) / spec["sample_rate"], clip["text"], spec)
        if reason is None:
            sf.write(path, wav, spec["sample_rate"], subtype="PCM_16")
        out.append((str(path), reason))
    return out


def prepare_synthetic(
    save_csv: PathLike,
    language: str,
    split: str = "train",
    count: int = 300,
    wav_folder: PathLike | None = None,
    flores_dir: PathLike | None = None,
    options: PrepareOptions | None = None,
    **settings: Any,
) -> SkipReport:
    """Make ``count`` espeak-ng clips of ``language``'s FLORES dev phrases (:data:`VOICES`) and a manifest.

    Transcripts are the phrases normalised for scoring (``normalize_text``), as the mini model was
    pretrained. The options' ``seed`` picks the phrases and every synthesis setting; clips the voice
    cannot read are ``synthesis_failed``, fewer phrases than ``count`` a warning. ``split``:
    :data:`SPLITS`; ``wav_folder`` defaults to ``synthetic_wavs/<manifest stem>`` next to ``save_csv``,
    ``flores_dir`` (holding ``dev/``) to the bundled copy."""
    opts = PrepareOptions.from_settings(options, settings, "prepare_synthetic")
    name = f"synthetic/{language}/{split}"

    def candidates(report: SkipReport) -> list[Candidate]:
        """Render the planned clips; those the voice cannot read go to ``report``."""
        spec = load_speech_spec()
        clips = plan_phrases(language, split, count, opts.seed, spec, flores_dir)
        manifest = Path(save_csv)
        folder = Path(wav_folder) if wav_folder else manifest.parent / "synthetic_wavs" / manifest.stem
        folder.mkdir(parents=True, exist_ok=True)
        # espeak-ng keeps state across utterances (even across espeak_Initialize): a fresh
        # process makes the wavs depend only on the arguments, not on what ran before.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            rendered = pool.submit(_render_all, clips, spec, str(folder)).result()
        found = []
        for clip, (wav, reason) in zip(clips, rendered):
            if reason is not None:
                report.skip(clip["id"], "synthesis_failed", f"espeak-ng voice {clip['voice']}", reason)
                continue
            text = normalize_text(clip["text"], language)
            found.append(Candidate(clip["id"], Path(wav), text, f"{name}/{clip['id']}"))
        return found

    return prepare_manifest(name, save_csv, opts, candidates, language)
