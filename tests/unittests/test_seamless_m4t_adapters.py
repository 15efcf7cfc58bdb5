"""Unit tests of the SeamlessM4T lobe and its adapter kinds, in the style of SpeechBrain's tests/unittests.

Self-contained (a tiny random checkpoint is built offline in a temporary folder), so
``tools/layout_upstream.py`` copies this file into SpeechBrain's ``tests/unittests/`` with its
imports rewritten, and SpeechBrain's own ``pytest tests/unittests`` runs it there.
"""

import importlib.util
import io
import pickle
from pathlib import Path

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_m4t_adapters.model import BottleneckAdapter, BottleneckConfig, FinetuneConfig, SeamlessM4T

#: The tiny random checkpoint builder: test scaffolding that ships with the recipe (whose test
#: rows build a tiny model too), loaded from its file.
TINY_BUILDER = Path(__file__).resolve().parents[2] / "speechbrain_m4t_adapters/tiny.py"


def _load_tiny_builder():
    spec = importlib.util.spec_from_file_location("tiny_seamless_m4t", TINY_BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tiny = _load_tiny_builder()


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory):
    return tiny.build_tiny_model(tmp_path_factory.mktemp("tiny_m4t"), "v2", vocab_size=400)


def _batch(m4t, device):
    torch.manual_seed(0)
    wavs = torch.randn(2, 16000, device=device) * 0.1
    wav_lens = torch.tensor([1.0, 0.6], device=device)
    inputs, labels = m4t.text_ids.batch_targets(["abc def", "gh"], "ben", device=device)
    return wavs, wav_lens, inputs, labels


def test_forward_shapes_and_frozen_base(tiny_source, device):
    m4t = SeamlessM4T(source=tiny_source, freeze=True).to(device)
    wavs, wav_lens, inputs, _ = _batch(m4t, device)
    logits, hidden, mask = m4t(wavs, wav_lens, decoder_input_ids=inputs)
    assert logits.shape[:2] == inputs.shape and logits.shape[2] == m4t.model.config.vocab_size
    assert hidden.shape[0] == 2 and mask.shape == hidden.shape[:2]
    assert mask[1].sum() < mask[0].sum()  # the shorter utterance keeps fewer frames
    assert m4t.trainable_parameters() == []


def test_bottleneck_adapters_start_as_identity_and_train_alone(tiny_source, device):
    plain = SeamlessM4T(source=tiny_source).to(device).eval()
    config = BottleneckConfig(bottleneck=8, targets=["speech_encoder"])
    m4t = SeamlessM4T(source=tiny_source, adapters={"enc": config}).to(device)
    wavs, wav_lens, inputs, labels = _batch(m4t, device)
    with torch.no_grad():
        before = plain(wavs, wav_lens, decoder_input_ids=inputs)[0]
        assert torch.allclose(m4t.eval()(wavs, wav_lens, decoder_input_ids=inputs)[0], before, atol=1e-5)
    trainable = m4t.trainable_parameters()
    layers = m4t.model.config.speech_encoder_layers
    assert sum(p.numel() for p in trainable) == m4t.adapters.num_parameters("enc") > 0
    assert len(m4t.adapters.modules_of("enc")) == layers
    base = {k: v.clone() for k, v in m4t.model.state_dict().items() if "enc" not in k}
    optimizer = torch.optim.SGD(trainable, lr=1.0)
    m4t.train()
    logits = m4t(wavs, wav_lens, decoder_input_ids=inputs)[0]
    torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels).backward()
    optimizer.step()
    after = {k: v for k, v in m4t.model.state_dict().items() if k in base}
    assert all(torch.equal(base[k], after[k]) for k in base)  # the base never moves
    with torch.no_grad():
        assert not torch.allclose(m4t.eval()(wavs, wav_lens, decoder_input_ids=inputs)[0], before, atol=1e-5)


def test_optimizer_groups_per_adapter_set(tiny_source, device):
    configs = {
        "enc": BottleneckConfig(bottleneck=4, targets=["speech_encoder"], lr=1e-4, weight_decay=0.1),
        "dec": BottleneckConfig(bottleneck=4, targets=["text_decoder"]),
        "off": BottleneckConfig(bottleneck=4, targets=["text_decoder"]),
    }
    m4t = SeamlessM4T(source=tiny_source, adapters=configs).to(device)
    m4t.adapters.set_active(["enc", "dec"])  # "off" is attached but not active: not trained
    groups = m4t.param_groups()
    assert [g["name"] for g in groups] == ["enc", "enc (norms, biases)", "dec", "dec (norms, biases)"]
    assert [(g.get("lr"), g.get("weight_decay")) for g in groups] == [
        (1e-4, 0.1),
        (1e-4, 0.0),
        (None, None),  # the optimizer's defaults
        (None, 0.0),
    ]
    grouped = [p for g in groups for p in g["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == len(m4t.trainable_parameters())
    assert all(p.ndim >= 2 for p in groups[0]["params"]) and all(p.ndim < 2 for p in groups[1]["params"])
    full = SeamlessM4T(source=tiny_source, freeze=False)  # no sets: the whole base, in two groups
    fine_tuned = full.param_groups()
    assert [g["name"] for g in fine_tuned] == ["base model", "base model (norms, biases)"]
    assert sum(p.numel() for g in fine_tuned for p in g["params"]) == sum(
        p.numel() for p in full.parameters()
    )


def test_trainable_copy_of_the_length_adaptor(tiny_source, device):
    m4t = SeamlessM4T(source=tiny_source, adapters={"la": FinetuneConfig(targets=["length_adaptor"])})
    names = {n for n, p in m4t.named_parameters() if p.requires_grad}
    assert names and all(n.startswith("model.speech_encoder.adapter.sb_adapters.la.") for n in names)
    original = m4t.model.speech_encoder.adapter
    copy_size = sum(p.numel() for n, p in original.named_parameters() if ".la." in f".{n}")
    assert (
        m4t.adapters.num_parameters("la") == copy_size == sum(p.numel() for p in m4t.trainable_parameters())
    )
    assert not any(p.requires_grad for n, p in original.named_parameters() if ".la." not in f".{n}")


def test_adapters_save_load_and_pickle_keep_outputs(tiny_source, device, tmp_path):
    config = BottleneckConfig(bottleneck=4, targets=["text_decoder"])
    m4t = SeamlessM4T(source=tiny_source, adapters={"dec": config}).eval()
    with torch.no_grad():
        for p in m4t.adapters.parameters("dec"):
            p.add_(0.05)
    wavs, wav_lens, inputs, _ = _batch(m4t, "cpu")
    with torch.no_grad():
        expected = m4t(wavs, wav_lens, decoder_input_ids=inputs)[0]
    Checkpointer(tmp_path, {"m4t": m4t}).save_checkpoint()
    other = SeamlessM4T(source=tiny_source, adapters={"dec": config}).eval()
    assert Checkpointer(tmp_path, {"m4t": other}).recover_if_possible()
    (saved,) = tmp_path.glob("CKPT*/m4t.ckpt")  # the adapter weights alone, not the frozen base
    weights = torch.load(saved, weights_only=True)["weights"]
    assert list(weights) == ["dec"] and sum(v.numel() for v in weights["dec"].values()) == len(
        m4t.model.text_decoder.layers
    ) * BottleneckAdapter.num_parameters(m4t.model.config.hidden_size, 4)
    buffer = io.BytesIO()
    torch.save(m4t, buffer)
    buffer.seek(0)
    copies = [other, pickle.loads(pickle.dumps(m4t)), torch.load(buffer, weights_only=False)]
    with torch.no_grad():
        for copy in copies:
            assert torch.allclose(copy(wavs, wav_lens, decoder_input_ids=inputs)[0], expected, atol=1e-5)


def test_tiny_source_is_built_once_into_save_path_and_loads(tmp_path):
    with pytest.raises(ValueError, match="save_path"):
        tiny.build_tiny_once("tiny-v1", None)
    m4t = SeamlessM4T(source=tiny.build_tiny_once("tiny-v1", tmp_path))
    folder = tmp_path / "tiny-v1"
    assert m4t.source == str(folder) and m4t.version == "v1" and (folder / "config.json").is_file()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    again = SeamlessM4T(source=tiny.build_tiny_once("tiny-v1", tmp_path))  # reused, not rebuilt
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-v1"]  # no scratch folder left
    state, other = m4t.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(state[k], other[k]) for k in state)
    with pytest.raises(ValueError, match="tiny-v1, tiny-v2"):
        tiny.build_tiny_once("tiny-v3", tmp_path)
