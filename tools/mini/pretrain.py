"""Pretrain the mini SeamlessM4T, from scratch or continued: ASR + text-to-text, resumable.

Tasks: ASR on the speech languages of ``make_speech.py``'s output (Odia as a
low-resource language, never Maithili speech) and text-to-text translation
among all text languages (Odia and Maithili included), through the package's
:class:`~speechbrain_m4t_adapters.SeamlessM4T` lobe with its base unfrozen.

``init_from`` (config) continues from an exported mini model folder: its
weights and tokenizer become ``init/`` instead of a random model, and the
config's ``continue_overrides`` (gentler lr, short warmup, no curriculum)
apply. The CTC head, which is not exported, starts afresh.

Aids for learning from scratch on CPU:

* an auxiliary CTC head on the Conformer output, BEFORE the length adaptor
  (50 frames/s); it is not part of the exported model, which stays a pure
  SeamlessM4T;
* a short-utterances-first curriculum;
* features computed once and cached (``features.pt``);
* ``torch.set_flush_denormal(True)`` (denormals make CPU steps crawl).

The run folder holds ``config.yaml``, ``init/`` (tokenizer + initial model:
random, or a copy of ``init_from``), ``speech_data.json`` (training clips and
hours per speech language), ``features.pt``, ``ckpt.pt`` (written atomically every
``checkpoint_every`` steps: killing the process at any time, even with
``kill -9``, loses at most those steps), ``curve.tsv`` (step, time, losses,
held-out CER per language) and ``examples.log`` (one decoded held-out clip per
language per evaluation). Re-running the same command resumes; keys a
resume changes with ``--set`` (e.g. ``lr``) go to ``config_changes.jsonl``.

Usage::

    OMP_NUM_THREADS=1 nice -n 19 python tools/mini/pretrain.py \\
        --data /work/mini_run/data --run /work/mini_run/full
    OMP_NUM_THREADS=1 nice -n 19 python tools/mini/pretrain.py \\
        --data /work/mini_run/data --run /work/mini_run/odia \\
        --set init_from=speechbrain_m4t_adapters/resources/mini_m4t
    python tools/mini/pretrain.py --run /work/mini_run/full --export /tmp/mini_model
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
import yaml
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from make_speech import read_manifest, read_tsv  # noqa: E402
from mini_model import (  # noqa: E402
    LOW_RESOURCE_LANGUAGES,
    MINI_LANGUAGES,
    NEVER_HEARD_LANGUAGES,
    TARGET_LANGUAGES,
    build_mini_init,
    write_tokenizer_corpus,
)

from speechbrain_m4t_adapters import SeamlessM4T  # noqa: E402
from speechbrain_m4t_adapters.evaluation.metrics import compute_error_rates  # noqa: E402
from speechbrain_m4t_adapters.evaluation.normalize import normalize_text  # noqa: E402
from speechbrain_m4t_adapters.model.features import SeamlessM4TFbank  # noqa: E402

CONFIG = Path(__file__).with_name("pretrain.yaml")
MODEL_KEYS = (
    "hidden_size",
    "speech_layers",
    "text_encoder_layers",
    "decoder_layers",
    "ffn_multiplier",
    "adaptor_stride",
    "conv_kernel",
    "dropout",
)
#: Card files of an exported folder: not part of the model copied by ``init_from``.
CARD_FILES = ("README.md", "MINI_MODEL.json", "held_out_error_rates.json")
#: Config keys -> the ``config.json`` fields they set (checked against an ``init_from`` model).
CONFIG_FIELDS = {
    "hidden_size": "hidden_size",
    "speech_layers": "speech_encoder_layers",
    "text_encoder_layers": "encoder_layers",
    "decoder_layers": "decoder_layers",
    "adaptor_stride": "adaptor_stride",
}


# ------------------------------------------------------------------ config
def load_config(path: str | Path = CONFIG, overrides: list[str] | None = None, new_run: bool = True) -> dict:
    """YAML config with ``key=value`` overrides (values parsed as YAML).

    In a new run with ``init_from`` set, ``continue_overrides`` apply first
    (``--set`` still wins); a resumed run's saved config already has them.
    """
    cfg = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cfg.setdefault("init_from", None)  # run folders made before init_from existed
    cfg.setdefault("continue_overrides", {})
    cfg.setdefault("low_resource_batch_share", 0.0)
    sets = {}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or key not in cfg:
            raise ValueError(f"--set {item!r}: expected key=value with a key of {path}")
        sets[key] = yaml.safe_load(value)
    if new_run and sets.get("init_from", cfg["init_from"]):
        cfg.update(cfg["continue_overrides"] or {})
    cfg.update(sets)
    bad = [lang for lang in cfg["speech_languages"] if lang in NEVER_HEARD_LANGUAGES]
    if bad:
        raise ValueError(f"speech_languages holds {bad}: the mini model must never hear Maithili")
    return cfg


def read_text_table(path: Path) -> list[dict]:
    """Rows of ``text.tsv`` or ``text_pairs.tsv`` written by ``make_speech.py``."""
    return read_tsv(path)


# -------------------------------------------------------------------- data
def prepare(cfg: dict, data: Path, run: Path) -> Path:
    """Tokenizer + initial model in ``run/init`` (made once): random, or a copy of ``init_from``."""
    init = run / "init"
    if (init / "config.json").exists():
        return init
    if cfg["init_from"]:
        return copy_init(Path(cfg["init_from"]), cfg, run)
    text = read_text_table(data / "text.tsv")
    corpus = write_tokenizer_corpus(
        ((r["lang"], r["text"]) for r in text if r["split"] == "train" and r["lang"] in MINI_LANGUAGES),
        run / "tokenizer_corpus.txt",
    )
    tmp = run / "init.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    build_mini_init(tmp, corpus, cfg["vocab_size"], seed=cfg["seed"], **{k: cfg[k] for k in MODEL_KEYS})
    os.replace(tmp, init)
    return init


def copy_init(source: Path, cfg: dict, run: Path) -> Path:
    """Copy an exported mini model folder (weights, tokenizer; no card) to ``run/init``."""
    model = json.loads((source / "config.json").read_text(encoding="utf-8"))
    wrong = {k: (cfg[k], model[f]) for k, f in CONFIG_FIELDS.items() if cfg[k] != model[f]}
    if wrong:
        raise ValueError(f"init_from {source}: config keys differ from the model's (config, model): {wrong}")
    tmp, init = run / "init.tmp", run / "init"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*CARD_FILES))
    card = source / "MINI_MODEL.json"  # kept apart: the new card lists the earlier stages
    if card.exists():
        shutil.copyfile(card, run / "init_card.json")
    os.replace(tmp, init)
    return init


def speech_data(rows: list[dict]) -> dict[str, dict]:
    """``{lang: {"clips", "hours"}}`` of the training clips used."""
    out: dict[str, dict] = {}
    for row in rows:
        entry = out.setdefault(row["lang"], {"clips": 0, "hours": 0.0})
        entry["clips"] += 1
        entry["hours"] += row["duration_s"] / 3600
    order = list(MINI_LANGUAGES)
    return {
        lang: {"clips": out[lang]["clips"], "hours": round(out[lang]["hours"], 3)}
        for lang in sorted(out, key=order.index)
    }


def load_features(data: Path, rows: list[dict], cache: Path) -> dict[str, torch.Tensor]:
    """SeamlessM4T filter banks (F, 160) in fp16 per clip id, computed once into ``cache``."""
    feats: dict[str, torch.Tensor] = torch.load(cache) if cache.exists() else {}
    missing = [r for r in rows if r["id"] not in feats]
    if missing:
        fbank = SeamlessM4TFbank()
        for n, row in enumerate(missing):
            wav, rate = sf.read(data / row["wav"], dtype="float32")
            if rate != 16000:
                raise ValueError(f"{data / row['wav']}: {rate} Hz, expected 16000")
            with torch.no_grad():
                f, _ = fbank(torch.from_numpy(wav).unsqueeze(0))
            feats[row["id"]] = f[0].half()
            if (n + 1) % 1000 == 0:
                print(f"features {n + 1}/{len(missing)}", flush=True)
        torch.save(feats, str(cache) + ".tmp")
        os.replace(str(cache) + ".tmp", cache)
    return feats


def pad_features(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (F_i, 160) features into (B, F, 160) float32 and a (B, F) mask."""
    length = max(x.shape[0] for x in items)
    out = torch.zeros(len(items), length, items[0].shape[1])
    mask = torch.zeros(len(items), length, dtype=torch.long)
    for i, x in enumerate(items):
        out[i, : x.shape[0]] = x.float()
        mask[i, : x.shape[0]] = 1
    return out, mask


def pad_ids(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) ids padded with ``pad`` and the attention mask."""
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.as_tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


# ------------------------------------------------------------------- model
class Pretrainer(nn.Module):
    """The lobe (base unfrozen) plus the auxiliary CTC head on the Conformer output.

    The head reads the Conformer stack's output (before the intermediate FFN
    and the length adaptor), captured by a forward hook, so the lobe's own
    speech encoding runs once per step.
    """

    def __init__(self, lobe: SeamlessM4T) -> None:
        super().__init__()
        self.lobe = lobe
        config = lobe.model.config
        self.ctc_head = nn.Linear(config.hidden_size, config.vocab_size)
        self._conformer: torch.Tensor | None = None
        self.hook = lobe.model.speech_encoder.encoder.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self._conformer = output

    def encode(
        self, feats: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Speech -> (adapted hidden, its mask, CTC log-probs (B, F, V))."""
        hidden, out_mask = self.lobe.encode_speech(feats, mask)
        ctc = self.ctc_head(self._conformer).log_softmax(-1)
        return hidden, out_mask, ctc

    def speech_loss(
        self, feats: torch.Tensor, mask: torch.Tensor, targets: list[list[int]], cfg: dict
    ) -> tuple[torch.Tensor, float, float]:
        """Weighted decoder CE + CTC for a batch of ``[__lang__, tokens..., </s>]`` targets."""
        hidden, out_mask, ctc = self.encode(feats, mask)
        dec_in, labels = self.lobe.text_ids.batch_targets(targets, device=self.lobe.device)
        logits = self.lobe.decode(hidden, out_mask, dec_in)
        ce = F.cross_entropy(
            logits.flatten(0, 1), labels.flatten(), ignore_index=-100, label_smoothing=cfg["label_smoothing"]
        )
        tokens = [t[1:-1] for t in targets]  # no language token, no </s>
        ctc_loss = F.ctc_loss(
            ctc.transpose(0, 1),
            torch.cat([torch.as_tensor(t) for t in tokens]),
            mask.sum(1),
            torch.as_tensor([len(t) for t in tokens]),
            blank=self.lobe.text_ids.pad_id,
            zero_infinity=True,
        )
        w = cfg["ctc_weight"]
        return (1 - w) * ce + w * ctc_loss, ce.item(), ctc_loss.item()

    def text_loss(self, sources: list[list[int]], targets: list[list[int]], cfg: dict) -> torch.Tensor:
        """Decoder CE for text-to-text translation."""
        ids, mask = pad_ids(sources, self.lobe.text_ids.pad_id)
        hidden, mask = self.lobe.encode_text(ids, mask)
        dec_in, labels = self.lobe.text_ids.batch_targets(targets, device=self.lobe.device)
        logits = self.lobe.decode(hidden, mask, dec_in)
        return F.cross_entropy(
            logits.flatten(0, 1), labels.flatten(), ignore_index=-100, label_smoothing=cfg["label_smoothing"]
        )

    def ctc_greedy(self, ctc: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best-path CTC decoding: collapse repeats, drop blanks."""
        out = []
        for row, n in zip(ctc.argmax(-1).tolist(), mask.sum(1).tolist()):
            seq, prev = [], None
            for t in row[:n]:
                if t != prev and t != self.lobe.text_ids.pad_id:
                    seq.append(t)
                prev = t
            out.append(seq)
        return out


# -------------------------------------------------------------- the run
class Run:
    """State of one pretraining run folder (see module docstring)."""

    def __init__(self, cfg: dict, data: Path, run: Path) -> None:
        self.cfg, self.data, self.run = cfg, data, run
        init = prepare(cfg, data, run)
        torch.manual_seed(cfg["seed"])
        self.lobe = SeamlessM4T(init, freeze=False, local_files_only=True)
        self.model = Pretrainer(self.lobe)
        rows = read_manifest(data / "manifest.tsv")
        speech = set(cfg["speech_languages"])
        self.train_rows = [
            r
            for r in rows
            if r["split"] == "train" and r["lang"] in speech and r["duration_s"] <= cfg["max_duration_s"]
        ]
        missing = speech - {r["lang"] for r in self.train_rows}
        if missing:
            raise ValueError(f"{data / 'manifest.tsv'} has no training clips for {sorted(missing)}")
        self.train_rows.sort(key=lambda r: (r["duration_s"], r["id"]))  # curriculum order
        self.low_rows = [r for r in self.train_rows if r["lang"] in LOW_RESOURCE_LANGUAGES]
        used = json.dumps(speech_data(self.train_rows), indent=1)
        (run / "speech_data.json").write_text(used, encoding="utf-8")
        # Held-out: the pretraining languages, plus the unheard targets (zero-shot) the data has.
        eval_langs = list(cfg["speech_languages"]) + [
            lang for lang in TARGET_LANGUAGES if lang not in speech and any(r["lang"] == lang for r in rows)
        ]
        self.heldout = {
            lang: [r for r in rows if r["split"] == "heldout" and r["lang"] == lang][
                : cfg["eval_per_language"]
            ]
            for lang in eval_langs
        }
        self.feats = load_features(
            data, self.train_rows + sum(self.heldout.values(), []), run / "features.pt"
        )
        self.targets = {
            r["id"]: self.lobe.text_ids(normalize_text(r["text"], r["lang"]), r["lang"])
            for r in self.train_rows
        }
        self.pairs = self._text_pairs() if cfg["text_prob"] > 0 else []
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], betas=(0.9, 0.98)
        )
        self.step, self.train_seconds = 0, 0.0
        self.ckpt = run / "ckpt.pt"
        self.curve = run / "curve.tsv"
        if self.ckpt.exists():
            state = torch.load(self.ckpt, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.train_seconds = state["step"], state["train_seconds"]
            self._truncate_curve()
            self._record_changes(state.get("config", cfg))
            print(f"resumed {self.ckpt} at step {self.step}", flush=True)

    def _record_changes(self, before: dict) -> None:
        """Append the config keys a resume changed (``--set``) to ``config_changes.jsonl``."""
        changed = {k: [before.get(k), v] for k, v in self.cfg.items() if before.get(k) != v}
        if changed:
            with open(self.run / "config_changes.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": self.step, "changed": changed}) + "\n")

    def _text_pairs(self) -> list[tuple[list[int], list[int]]]:
        langs = set(self.cfg["text_languages"])
        pairs = []
        for r in read_text_table(self.data / "text_pairs.tsv"):
            if r["src_lang"] not in langs or r["tgt_lang"] not in langs:
                continue
            src = self.lobe.text_ids(normalize_text(r["src_text"], r["src_lang"]), r["src_lang"])
            tgt = self.lobe.text_ids(normalize_text(r["tgt_text"], r["tgt_lang"]), r["tgt_lang"])
            if max(len(src), len(tgt)) <= self.cfg["max_text_tokens"]:
                pairs.append((src, tgt))
        return pairs

    def _truncate_curve(self) -> None:
        """Drop curve rows written after the checkpoint being resumed."""
        if not self.curve.exists():
            return
        lines = self.curve.read_text(encoding="utf-8").splitlines()
        kept = [lines[0]] + [line for line in lines[1:] if int(line.split("\t")[0]) <= self.step]
        self.curve.write_text("\n".join(kept) + "\n", encoding="utf-8")

    def lr(self, step: int) -> float:
        """Linear warmup to ``lr``, then inverse square-root decay."""
        warm = self.cfg["warmup_steps"]
        return self.cfg["lr"] * min(step / warm, math.sqrt(warm / max(step, 1)))

    def speech_batch(self, rng: np.random.Generator) -> list[dict]:
        """A length-homogeneous batch from the curriculum's current pool of short clips.

        A ``low_resource_batch_share`` of the batches comes from the low-resource languages'
        clips only: they are drawn more often, while their clips and hours stay few.
        """
        cfg, rows = self.cfg, self.train_rows
        share = cfg["low_resource_batch_share"]
        if share > 0 and self.low_rows and rng.random() < share:  # no draw at 0: old runs unchanged
            rows = self.low_rows
        n_all = len(rows)
        frac = min(
            1.0, cfg["curriculum_start"] + (1 - cfg["curriculum_start"]) * self.step / cfg["curriculum_steps"]
        )
        pool = min(n_all, max(cfg["batch_size"], int(frac * n_all)))
        centre = int(rng.integers(0, pool))
        lo, hi = max(0, centre - 2 * cfg["batch_size"]), min(pool, centre + 2 * cfg["batch_size"])
        picks = rng.choice(np.arange(lo, hi), size=min(cfg["batch_size"], hi - lo), replace=False)
        return [rows[i] for i in picks]

    def train_step(self) -> dict:
        """One optimiser step; the batch depends only on (seed, step), so resuming is exact."""
        cfg = self.cfg
        rng = np.random.default_rng([cfg["seed"], self.step])
        torch.manual_seed(cfg["seed"] * 1_000_003 + self.step)
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr(self.step + 1)
        if self.pairs and rng.random() < cfg["text_prob"]:
            idx = rng.choice(len(self.pairs), size=cfg["batch_size"], replace=False)
            loss = self.model.text_loss([self.pairs[i][0] for i in idx], [self.pairs[i][1] for i in idx], cfg)
            stats = {"text": loss.item()}
        else:
            batch = self.speech_batch(rng)
            feats, mask = pad_features([self.feats[r["id"]] for r in batch])
            loss, ce, ctc = self.model.speech_loss(feats, mask, [self.targets[r["id"]] for r in batch], cfg)
            stats = {"ce": ce, "ctc": ctc}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), cfg["grad_clip"])
        self.optimizer.step()
        self.step += 1
        return stats

    @torch.no_grad()
    def evaluate(self) -> dict[str, tuple[float, float, str, str]]:
        """Held-out CER (decoder greedy, CTC greedy) per language, with one example."""
        self.model.eval()
        result = {}
        for lang, rows in self.heldout.items():
            hyps, ctc_hyps = [], []
            for start in range(0, len(rows), 20):
                chunk = rows[start : start + 20]
                feats, mask = pad_features([self.feats[r["id"]] for r in chunk])
                hidden, out_mask, ctc = self.model.encode(feats, mask)
                ids = self.lobe.generate(hidden, out_mask, lang, max_new_tokens=self.cfg["max_new_tokens"])
                hyps += self.lobe.decode_tokens(ids)
                ctc_hyps += self.lobe.decode_tokens(self.model.ctc_greedy(ctc, mask))
            ids = [r["id"] for r in rows]
            refs = [r["text"] for r in rows]
            result[lang] = (
                compute_error_rates(ids, refs, hyps, lang=lang)["cer"],
                compute_error_rates(ids, refs, ctc_hyps, lang=lang)["cer"],
                normalize_text(refs[0], lang),
                hyps[0],
            )
        return result

    def write_row(self, stats: list[dict], seconds_per_step: float, cers: dict) -> None:
        langs = list(self.heldout)
        if not self.curve.exists():
            head = ["step", "train_seconds", "sec_per_step", "loss_ce", "loss_ctc", "loss_text"]
            head += [f"cer_{lang}" for lang in langs] + [f"ctc_cer_{lang}" for lang in langs]
            self.curve.write_text("\t".join(head) + "\n", encoding="utf-8")

        def mean(key: str) -> str:
            vals = [s[key] for s in stats if key in s]
            return f"{np.mean(vals):.3f}" if vals else ""

        row = [str(self.step), f"{self.train_seconds:.0f}", f"{seconds_per_step:.3f}"]
        row += [mean("ce"), mean("ctc"), mean("text")]
        row += [f"{cers[lang][0]:.2f}" for lang in langs] + [f"{cers[lang][1]:.2f}" for lang in langs]
        with open(self.curve, "a", encoding="utf-8") as f:
            f.write("\t".join(row) + "\n")
        with open(self.run / "examples.log", "a", encoding="utf-8") as f:
            for lang in langs:
                f.write(f"step {self.step} {lang}\tREF {cers[lang][2]}\tHYP {cers[lang][3]}\n")
        print("\t".join(row), flush=True)

    def save(self) -> None:
        """Atomic checkpoint: write a temporary file, fsync, rename."""
        tmp = str(self.ckpt) + ".tmp"
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "train_seconds": self.train_seconds,
            "config": self.cfg,
        }
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.ckpt)

    def train(self) -> None:
        cfg = self.cfg
        if self.step == 0 and not self.curve.exists():
            self.write_row([], 0.0, self.evaluate())
        stats: list[dict] = []
        begun, window_start, window_seconds = time.time(), self.step, 0.0
        while self.step < cfg["max_steps"] and time.time() - begun < 60 * cfg["max_minutes"]:
            t0 = time.perf_counter()
            stats.append(self.train_step())
            elapsed = time.perf_counter() - t0
            self.train_seconds += elapsed
            window_seconds += elapsed
            if self.step % cfg["eval_every"] == 0:
                self.write_row(stats, window_seconds / max(1, self.step - window_start), self.evaluate())
                stats, window_start, window_seconds = [], self.step, 0.0
            if self.step % cfg["checkpoint_every"] == 0 or self.step % cfg["eval_every"] == 0:
                self.save()
        self.save()


def export(run: Path, out: Path, dtype: str = "float16") -> Path:
    """Write the pretrained model as a plain SeamlessM4T folder (no CTC head) with a card.

    The folder loads with ``SeamlessM4T(out)`` like a hub checkpoint; the
    speech-output towers (T2U, vocoder) are absent, as in the lobe.
    """
    cfg = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    lobe = SeamlessM4T(run / "init", freeze=False, local_files_only=True)
    model = Pretrainer(lobe)
    state = torch.load(run / "ckpt.pt", weights_only=False)
    model.load_state_dict(state["model"])
    model.hook.remove()  # the exported model is the plain lobe.model: no hook, no CTC head
    base = copy.deepcopy(lobe.model).to({"float16": torch.float16, "float32": torch.float32}[dtype])
    out.mkdir(parents=True, exist_ok=True)
    base.save_pretrained(out)
    lobe.tokenizer.save_pretrained(out)
    for name in ("preprocessor_config.json", "sentencepiece.bpe.model"):
        shutil.copyfile(run / "init" / name, out / name)
    card = export_card(run, cfg, state)
    (out / "MINI_MODEL.json").write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    return out


def export_card(run: Path, cfg: dict, state: dict) -> dict:
    """``MINI_MODEL.json``: what was heard and how much, in this run and the ones it continued."""
    curve = (run / "curve.tsv").read_text(encoding="utf-8") if (run / "curve.tsv").exists() else ""
    data = run / "speech_data.json"
    stage = {
        "what": "continued pretraining" if cfg["init_from"] else "pretraining from scratch",
        "init_from": cfg["init_from"],
        "speech_languages": cfg["speech_languages"],
        "speech_data": json.loads(data.read_text(encoding="utf-8")) if data.exists() else None,
        "steps": state["step"],
        "train_seconds": round(state["train_seconds"]),
        "lr": cfg["lr"],
        "warmup_steps": cfg["warmup_steps"],
        "low_resource_batch_share": cfg.get("low_resource_batch_share", 0.0),  # at the stage's start
    }
    changes = run / "config_changes.jsonl"  # keys changed on resuming: lr before and after a step
    if changes.exists():
        stage["config_changes"] = [json.loads(x) for x in changes.read_text(encoding="utf-8").splitlines()]
    earlier = run / "init_card.json"
    stages = [stage]
    if cfg["init_from"] and earlier.exists():
        before = json.loads(earlier.read_text(encoding="utf-8"))
        stages = before.get("stages") or [  # a card from before stages were recorded (issue 9)
            {
                "what": "pretraining from scratch",
                "init_from": None,
                "speech_languages": before["speech_languages"],
                "speech_data": None,
                "steps": before["steps"],
                "train_seconds": before["train_seconds"],
                "lr": before["config"]["lr"],
                "warmup_steps": before["config"]["warmup_steps"],
            }
        ]
        stages = stages + [stage]
    heard = sorted({lang for s in stages for lang in s["speech_languages"]}, key=list(MINI_LANGUAGES).index)
    return {
        "what": "mini SeamlessM4T v2: real FLORES-200 dev text, SYNTHETIC espeak-ng speech",
        "speech_languages": heard,  # heard in any stage
        "text_languages": cfg["text_languages"],
        "low_resource": [lang for lang in LOW_RESOURCE_LANGUAGES if lang in heard],
        "never_heard": [lang for lang in TARGET_LANGUAGES if lang not in heard],
        "steps": state["step"],  # of the last stage
        "train_seconds": round(state["train_seconds"]),
        "stages": stages,
        "config": cfg,
        "last_curve_row": curve.strip().splitlines()[-1] if curve else None,
        "curve_header": curve.splitlines()[0] if curve else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="run folder (resumed if it exists)")
    parser.add_argument("--data", type=Path, help="make_speech.py output folder (needed to train)")
    parser.add_argument("--config", type=Path, default=CONFIG, help="YAML config (first run only)")
    parser.add_argument("--set", nargs="*", default=[], help="key=value overrides")
    parser.add_argument("--export", type=Path, help="write the model folder from the run's checkpoint")
    parser.add_argument("--dtype", default="float16", choices=["float16", "float32"], help="export dtype")
    args = parser.parse_args(argv)
    if args.export:
        print(export(args.run, args.export, args.dtype))
        return
    if args.data is None:
        parser.error("--data is needed to train")
    torch.set_flush_denormal(True)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    args.run.mkdir(parents=True, exist_ok=True)
    # One trainer per run folder: a second one would interleave checkpoints and curve rows. The
    # lock is the kernel's, so it goes with the process, even after kill -9.
    lock = open(args.run / "train.lock", "w")  # held (open) until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"{args.run} is being trained by another process (train.lock)")
    saved = args.run / "config.yaml"
    # A resumed run keeps its config; --set may still change run-length keys such as max_minutes.
    cfg = load_config(saved if saved.exists() else args.config, args.set, new_run=not saved.exists())
    saved.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    Run(cfg, args.data, args.run).train()


if __name__ == "__main__":
    main()
