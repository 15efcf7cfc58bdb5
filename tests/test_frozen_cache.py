"""Frozen-output cache: cached training equals uncached training, and the frozen stack is skipped."""

from __future__ import annotations

import pytest
import torch
from conftest import pad_batch

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig, FinetuneConfig
from speechbrain_m4t_adapters.training.frozen_cache import FrozenOutputs

DECODER = {"dec": BottleneckConfig(bottleneck=8, targets=["text_decoder"])}
LENGTH_ADAPTOR = {"la": FinetuneConfig(targets=["length_adaptor"])}


def _train(folder, adapters, clips, epochs=2, cache=None, text=False, max_gb=1.0, setup=None, **kwargs):
    """Losses of ``epochs`` passes over 3 fixed batches, and the number of Conformer/text-encoder calls."""
    torch.manual_seed(0)
    m4t = SeamlessM4T(folder, adapters=adapters, **kwargs)
    frozen = FrozenOutputs(m4t, cache, max_gb) if cache is not None else None
    if setup is not None:
        setup(m4t)
    m4t.train()
    optimizer = torch.optim.AdamW(m4t.param_groups(), lr=1e-2)
    calls = []
    stack = m4t.model.text_encoder if text else m4t.model.speech_encoder.encoder
    stack.register_forward_hook(lambda *a: calls.append(1))
    batches = [clips[i : i + 2] for i in range(0, len(clips), 2)]
    losses, per_epoch_calls = [], []
    for _ in range(epochs):
        calls.clear()
        for b, batch in enumerate(batches):
            ids = [f"utt{b}_{i}" for i in range(len(batch))]
            inputs, labels = m4t.text_ids.batch_targets([c[1] for c in batch], [c[2] for c in batch])
            if text:
                src, mask = m4t.text_ids.batch_sources([c[1] for c in batch], "eng")
                encoded = frozen.encoded(ids, input_ids=src, attention_mask=mask) if frozen else None
                logits, _, _ = m4t(
                    input_ids=src, attention_mask=mask, decoder_input_ids=inputs, encoded=encoded
                )
            else:
                wavs, lens = pad_batch([c[0] for c in batch])
                encoded = frozen.encoded(ids, wavs, lens) if frozen else None
                logits, _, _ = m4t(wavs, lens, decoder_input_ids=inputs, encoded=encoded)
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
        per_epoch_calls.append(len(calls))
    return losses, per_epoch_calls, frozen


@pytest.mark.parametrize("adapters", [DECODER, LENGTH_ADAPTOR], ids=["decoder", "length_adaptor"])
def test_cached_training_equals_uncached(tiny_v2, real_clips, tmp_path, adapters):
    plain, plain_calls, _ = _train(tiny_v2, adapters, real_clips)
    cached, cached_calls, frozen = _train(tiny_v2, adapters, real_clips, cache=tmp_path / "cache")
    assert plain_calls == [3, 3]
    assert cached_calls == [3, 0]  # epoch 2 never runs the Conformer
    assert cached == pytest.approx(plain, abs=1e-6)
    assert cached[3:] != cached[:3]  # training moved
    (summary,) = frozen.summaries()
    point = "conformer" if adapters is LENGTH_ADAPTOR else "speech_encoder"
    assert f"({point}): 6 utterances" in summary and "hit rate 50%" in summary


def test_text_encoder_cache(tiny_v2, real_clips, tmp_path):
    plain, _, _ = _train(tiny_v2, DECODER, real_clips, text=True)
    cached, calls, _ = _train(tiny_v2, DECODER, real_clips, cache=tmp_path / "c", text=True)
    assert calls == [3, 0]
    assert cached == pytest.approx(plain, abs=1e-6)


def test_cache_reused_across_runs_and_invalidated(tiny_v2, real_clips, tmp_path):
    folder = tmp_path / "cache"
    _, calls, _ = _train(tiny_v2, DECODER, real_clips, epochs=1, cache=folder)
    assert calls == [3]
    _, calls, _ = _train(tiny_v2, DECODER, real_clips, epochs=1, cache=folder)
    assert calls == [0]  # a new run with the same base and settings reads the cache
    (old,) = [p for p in (folder / "speech").iterdir() if p.is_dir()]
    # A different cache point (length adaptor trains) is a different key: recomputed, old folder removed.
    _, calls, _ = _train(tiny_v2, LENGTH_ADAPTOR, real_clips, epochs=1, cache=folder)
    assert calls == [3]
    assert not old.exists() and len([p for p in (folder / "speech").iterdir() if p.is_dir()]) == 1


def test_changed_audio_length_is_recomputed(tiny_v2, real_clips, tmp_path):
    _train(tiny_v2, DECODER, real_clips, epochs=1, cache=tmp_path / "c")
    shorter = [(w[:-1600], t, lang) for w, t, lang in real_clips]  # same ids, other audio
    _, calls, _ = _train(tiny_v2, DECODER, shorter, epochs=1, cache=tmp_path / "c")
    assert calls == [3]


def test_size_limit_and_refusals(tiny_v2, real_clips, tmp_path, caplog):
    plain, _, _ = _train(tiny_v2, DECODER, real_clips)
    limited, calls, frozen = _train(tiny_v2, DECODER, real_clips, cache=tmp_path / "c", max_gb=1e-9)
    assert calls == [3, 3] and limited == pytest.approx(plain, abs=1e-6)
    assert "0 utterances" in frozen.summaries()[0]
    # Encoder adapters train the Conformer; active base dropout is random: no cache either way.
    enc = {"enc": BottleneckConfig(bottleneck=8, targets=["speech_encoder"])}
    _, calls, frozen = _train(tiny_v2, enc, real_clips, cache=tmp_path / "d")
    assert calls == [3, 3] and frozen.summaries() == []

    def with_dropout(m4t):
        m4t.model.speech_encoder.encoder.dropout.p = 0.1

    with caplog.at_level("INFO"):
        _, calls, frozen = _train(
            tiny_v2, DECODER, real_clips, cache=tmp_path / "e", base_dropout=True, setup=with_dropout
        )
    assert calls == [3, 3] and "dropout is active" in caplog.text
    with pytest.raises(ValueError, match="frozen_cache_folder"):
        FrozenOutputs(SeamlessM4T(tiny_v2), None)


def test_other_feature_precision_is_recomputed(tiny_v2, real_clips, tmp_path):
    _train(tiny_v2, DECODER, real_clips, epochs=1, cache=tmp_path / "c")
    float32 = lambda m4t: setattr(m4t.fbank, "precision", torch.float32)  # noqa: E731
    _, calls, _ = _train(tiny_v2, DECODER, real_clips, epochs=1, cache=tmp_path / "c", setup=float32)
    assert calls == [3]  # float32 features are other inputs: never read float64 entries
