"""Non-finite values never reach saved weights: skipped steps, stopped runs, refused saves."""

from __future__ import annotations

import pytest
import speechbrain as sb
import torch
from conftest import REAL

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig
from speechbrain_m4t_adapters.data import prepare_respin
from speechbrain_m4t_adapters.training import AdapterBrain, asr_dataset
from speechbrain_m4t_adapters.training.nonfinite import NonFiniteTrainingError


def _adapter_weights(m4t: SeamlessM4T) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in m4t.named_parameters() if p.requires_grad}


def test_nonfinite_batches_are_skipped_counted_then_stop_the_run(tiny_v2, tmp_path, caplog):
    torch.manual_seed(0)
    m4t = SeamlessM4T(tiny_v2, adapters={"enc": BottleneckConfig(bottleneck=8, targets=["speech_encoder"])})
    csv = tmp_path / "bn.csv"
    prepare_respin(REAL / "respin", "bn", csv)
    dataset = asr_dataset(csv, m4t)
    items = [dataset[i] for i in range(3)]
    good = sb.dataio.batch.PaddedBatch(items)
    poisoned = [dict(item) for item in items]
    poisoned[1]["sig"] = poisoned[1]["sig"].clone()
    poisoned[1]["sig"][100] = float("nan")  # one sample of one clip
    bad = sb.dataio.batch.PaddedBatch(poisoned)
    brain = AdapterBrain(
        modules={"m4t": m4t},
        opt_class=lambda p: torch.optim.AdamW(p, lr=1e-2),
        hparams={"label_smoothing": 0.0, "loss_on_language_token": False},
        run_opts={"device": "cpu", "nonfinite_patience": 2},
    )
    brain.init_optimizers()
    brain.nonfinite_count = 0
    m4t.train()

    before = _adapter_weights(m4t)
    assert torch.isfinite(brain.fit_batch(good))
    after_good = _adapter_weights(m4t)
    assert any(not torch.equal(before[n], after_good[n]) for n in before)  # a real step happened

    with caplog.at_level("WARNING"):
        loss = brain.fit_batch(bad)
    assert not torch.isfinite(loss)
    after_bad = _adapter_weights(m4t)
    assert all(torch.equal(after_good[n], after_bad[n]) for n in before)  # skipped, weights intact
    assert all(p.grad is None for p in m4t.trainable_parameters())  # NaN gradients not carried over
    assert brain.nonfinite_steps_skipped == 1 and brain.nonfinite_count == 1
    assert str(poisoned[1]["id"]) in caplog.text and "optimiser step skipped" in caplog.text

    brain.fit_batch(good)  # training goes on normally
    assert all(torch.isfinite(p).all() for p in m4t.trainable_parameters())
    brain.fit_batch(bad)
    with pytest.raises(NonFiniteTrainingError, match="nonfinite_patience=2") as error:
        brain.fit_batch(bad)
    assert all(str(item["id"]) in str(error.value) for item in items)
    assert brain.nonfinite_steps_skipped == 3


def test_adapters_with_nonfinite_values_are_never_saved(tiny_v2, tmp_path):
    m4t = SeamlessM4T(tiny_v2, adapters={"enc": BottleneckConfig(bottleneck=8, targets=["speech_encoder"])})
    m4t.save_adapters(tmp_path / "ok")
    param = next(iter(m4t.trainable_parameters()))
    with torch.no_grad():
        param[0] = float("inf")
    with pytest.raises(ValueError, match="not saved: non-finite values in 1 adapter tensor"):
        m4t.save_adapters(tmp_path / "diverged")
    assert not (tmp_path / "diverged" / "adapters.safetensors").exists()
    with pytest.raises(ValueError, match="not saved: non-finite"):
        m4t._save(tmp_path / "m4t.ckpt")  # the Checkpointer hook
    assert not (tmp_path / "m4t.ckpt").exists()


def test_nonfinite_audio_is_a_per_file_error_at_inference(tiny_v2, tmp_path):
    import numpy as np
    import soundfile as sf

    from speechbrain_m4t_adapters.data.audio import AudioError
    from speechbrain_m4t_adapters.data.manifest import AsrEntry, write_asr_manifest
    from speechbrain_m4t_adapters.inference import M4TAdaptedASR, evaluate_manifest

    asr = M4TAdaptedASR.from_model(tiny_v2, device="cpu", max_new_tokens=3)
    good = sorted((REAL / "respin" / "bn" / "wav").glob("*.wav"))[0]
    audio, _ = sf.read(good, dtype="float32")
    audio[500] = np.nan
    nan_wav = tmp_path / "nan.wav"
    sf.write(nan_wav, audio, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=f"nonfinite_audio: {nan_wav}"):
        asr.transcribe_file(nan_wav, lang="ben")
    results = asr.transcribe_files([good, nan_wav], lang="ben")
    assert results[0].ok and not results[1].ok and "nonfinite_audio" in results[1].error
    manifest = tmp_path / "m.csv"
    write_asr_manifest(
        [AsrEntry("good", 1.0, str(good), "ben", "x"), AsrEntry("nan", 1.0, str(nan_wav), "ben", "x")],
        manifest,
    )
    summary = evaluate_manifest(asr, manifest, tmp_path / "out")
    assert summary["test_sets"]["m"]["failed"] == 1 and summary["test_sets"]["m"]["num_utterances"] == 1
    assert "nonfinite_audio" in summary["extra"]["failed"]["nan"]
