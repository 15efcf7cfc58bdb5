"""Shared pieces of the benchmarks: models, the shipped real audio, memory meters.

Not a public API: the scripts in this folder import it as ``_common`` (their
own folder is first on ``sys.path`` when run as ``python benchmarks/x.py``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import soundfile as sf  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "real"
RESPIN_LANGS = {"bn": "ben", "mt": "mai"}

# The real architectures, for random-weight checkpoints (weights are never downloaded).
# v1-medium: the kwargs of transformers' conversion script for hf-seamless-m4t-medium.
REAL_CONFIGS = {
    "v2-large": ("v2", {}),
    "v1-medium": (
        "v1",
        dict(
            vocab_size=256206,
            t2u_vocab_size=10082,
            hidden_size=1024,
            max_position_embeddings=4096,
            encoder_layers=12,
            decoder_layers=12,
            encoder_ffn_dim=4096,
            decoder_ffn_dim=4096,
            t2u_encoder_layers=4,
            t2u_decoder_layers=4,
            speech_encoder_layers=12,
        ),
    ),
}


def load_clips() -> list[tuple[torch.Tensor, str, str]]:
    """The 12 real RESPIN clips shipped with the tests: (16 kHz waveform, transcript, language)."""
    clips = []
    for folder in sorted((REAL / "respin").iterdir()):
        lines = (folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
        texts = dict(line.split("\t", 1) for line in lines if line.strip())
        for wav in sorted((folder / "wav").glob("*.wav")):
            audio, rate = sf.read(wav, dtype="float32")
            assert rate == 16000, wav
            clips.append((torch.from_numpy(audio), texts[wav.stem], RESPIN_LANGS[folder.name]))
    return clips


def clips_of(seconds: float, count: int) -> list[tuple[torch.Tensor, str, str]]:
    """``count`` utterances of exactly ``seconds`` s, each the shipped real clips joined from a different
    first clip (cut at ``seconds``), with their transcripts joined; the language of the first clip."""
    clips = load_clips()
    made = []
    for i in range(count):
        parts, words, j = [], [], i
        while sum(p.numel() for p in parts) < seconds * 16000:
            parts.append(clips[j % len(clips)][0])
            words.append(clips[j % len(clips)][1])
            j += 1
        made.append((torch.cat(parts)[: int(seconds * 16000)], " ".join(words), clips[i % len(clips)][2]))
    return made


def load_text_pairs(target: str = "ben_Beng", count: int = 16) -> list[tuple[str, str]]:
    """(English source, target) sentence pairs from the shipped FLORES-200 devtest excerpt."""
    folder = REAL / "flores200" / "devtest"
    src = (folder / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()
    tgt = (folder / f"{target}.devtest").read_text(encoding="utf-8").splitlines()
    return list(zip(src, tgt))[:count]


def hf_generated_tokens(out, eos_id: int, pad_id: int) -> list[list[int]]:
    """Token ids of transformers' ``generate`` output as our lobe returns them: without the
    ``[</s>, __lang__]`` prefix, cut at the first ``</s>``, without padding."""
    rows = (out if isinstance(out, torch.Tensor) else out.sequences)[:, 2:].tolist()
    cut = [row[: row.index(eos_id)] if eos_id in row else row for row in rows]
    return [[t for t in row if t != pad_id] for row in cut]


def pad(wavs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad waveforms: (B, T) and SpeechBrain relative lengths (B,)."""
    longest = max(w.numel() for w in wavs)
    out = torch.zeros(len(wavs), longest)
    for i, w in enumerate(wavs):
        out[i, : w.numel()] = w
    return out, torch.tensor([w.numel() / longest for w in wavs])


def build_checkpoint(name: str, folder: Path | None = None, hidden: int = 384, layers: int = 4) -> Path:
    """A local SeamlessM4T folder with random weights: ``tiny``, ``mid`` or a real config.

    ``mid`` is a v2 of width ``hidden`` with ``layers`` per stack and the real
    initialiser range (0.02; the tiny models' 0.25 makes a wide model chaotic).
    No weights are written: an empty safetensors file makes ``from_pretrained``
    initialise every parameter randomly (seconds, instead of writing GBs), so
    two loads differ: copy one model's state into the other to compare them.
    The tokenizer is always the tiny one (ids stay inside any vocabulary).
    """
    from safetensors.torch import save_file
    from transformers import (
        GenerationConfig,
        SeamlessM4TConfig,
        SeamlessM4TFeatureExtractor,
        SeamlessM4Tv2Config,
    )

    from speechbrain_m4t_adapters.tiny import TINY_LANGUAGES, tiny_config, train_tokenizer

    folder = Path(folder or tempfile.mkdtemp(prefix=f"m4t_{name}_"))
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    if name == "tiny":
        config = tiny_config("v2", vocab_size=len(tokenizer))
    elif name == "mid":
        config = tiny_config(
            "v2", vocab_size=len(tokenizer), hidden_size=hidden, layers=layers, initializer_range=0.02
        )
    elif name in REAL_CONFIGS:
        version, kwargs = REAL_CONFIGS[name]
        config = (SeamlessM4Tv2Config if version == "v2" else SeamlessM4TConfig)(**kwargs)
    else:
        raise ValueError(f"unknown model {name!r}: tiny, mid, {', '.join(REAL_CONFIGS)}")
    config.save_pretrained(folder)
    generation = GenerationConfig.from_model_config(config)
    generation.text_decoder_lang_to_code_id = {
        code: tokenizer.convert_tokens_to_ids(f"__{code}__") for code in TINY_LANGUAGES
    }
    generation.max_new_tokens = 64
    generation._from_model_config = False  # keep the language map on reload
    generation.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SeamlessM4TFeatureExtractor().save_pretrained(folder)
    save_file({}, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "RANDOM_WEIGHTS.json").write_text(
        json.dumps({"config": name, "hidden": hidden, "layers": layers})
    )
    return folder


class SavedBytes:
    """Bytes of distinct non-parameter tensors saved for backward inside the context.

    Device independent (works on CPU): the activation memory a training step
    keeps until its backward pass. Parameters (which autograd also saves) are
    excluded, and a storage saved twice is counted once.
    """

    def __init__(self, *modules: torch.nn.Module) -> None:
        self.params = {p.untyped_storage().data_ptr() for m in modules for p in m.parameters()}
        self.seen: dict[int, int] = {}
        self._ctx = None

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in self.params:
            self.seen[ptr] = storage.nbytes()
        return tensor

    def __enter__(self) -> SavedBytes:
        self.seen.clear()
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)

    @property
    def nbytes(self) -> int:
        return sum(self.seen.values())


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """Peak memory of a block above its start: CUDA max allocated, or peak RSS on CPU.

    On CPU the kernel's RSS high-water mark is reset through
    ``/proc/self/clear_refs`` (Linux), so each block is measured alone.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = torch.device(device)
        self.peak = 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                pass
            self.start = _status_kb("VmRSS") * 1024
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.start
        else:
            self.peak = _status_kb("VmHWM") * 1024 - self.start


def timed(func: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """(seconds, result) of ``func()``, synchronising CUDA."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = func()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, result


def fixed_mmap_threshold() -> None:
    """Re-run under a fixed glibc mmap threshold, so freed tensors leave RSS and peak RSS means something."""
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ and sys.platform == "linux":
        os.execve(
            sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
        )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    """One line naming the machine the numbers come from."""
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU {cpu}, {os.cpu_count()} cores visible, torch threads {threads}, torch {torch.__version__}"
