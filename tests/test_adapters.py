"""Adapter sets: identity at init, only adapters train, stacking, counts, files, checkpoints."""

from __future__ import annotations

import pickle

import pytest
import torch
from conftest import pad_batch
from safetensors.torch import load_file

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import (
    AdapterMismatchError,
    AdapterSets,
    BottleneckAdapter,
    BottleneckConfig,
    FinetuneConfig,
    LoRAConfig,
    base_parameters,
)
from speechbrain_m4t_adapters.model import SeamlessM4TSpeechTextModel, SeamlessM4Tv2SpeechTextModel
from speechbrain_m4t_adapters.model.reference_configs import reference_config

ALL_KINDS = {
    "enc": BottleneckConfig(bottleneck=8, targets=["speech_encoder"]),
    "dec": BottleneckConfig(bottleneck=8, targets=["text_decoder"], layers=[-1]),
    "la": BottleneckConfig(bottleneck=4, targets=["length_adaptor"]),
    "lora": LoRAConfig(
        targets=[
            r"text_decoder\.layers\.\d+\.self_attn\.(q|v)_proj",
            r"speech_encoder\.adapter\.layers\.0\.residual_conv",
        ],
        rank=2,
    ),
}


def asr_batch(lobe, clips):
    batch, lens = pad_batch([c[0] for c in clips])
    decoder_inputs, labels = lobe.text_ids.batch_targets([c[1] for c in clips], [c[2] for c in clips])
    return batch, lens, decoder_inputs, labels


def asr_loss(lobe, batch, lens, decoder_inputs, labels):
    hidden, mask = lobe(batch, lens)
    logits = lobe.decode(hidden, mask, decoder_inputs)
    return torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), labels, ignore_index=-100
    ), logits


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_adapters_are_identity_at_init(version, tiny_dirs, real_clips):
    bare = SeamlessM4T(tiny_dirs[version])
    data = asr_batch(bare, real_clips[:2])
    with torch.no_grad():
        _, reference = asr_loss(bare, *data)
    for name, config in list(ALL_KINDS.items()) + [("la_ft", FinetuneConfig(targets=["length_adaptor"]))]:
        adapted = SeamlessM4T(tiny_dirs[version], adapters={name: config})
        with torch.no_grad():
            _, logits = asr_loss(adapted, *data)
        assert torch.equal(logits, reference), name


def test_only_active_trainable_adapters_change(tiny_v2, real_clips):
    lobe = SeamlessM4T(tiny_v2, adapters=dict(ALL_KINDS))
    lobe.adapters.add(
        "frozen_extra", BottleneckConfig(bottleneck=4, targets=["text_decoder"]), trainable=False
    )
    lobe.adapters.add("inactive", BottleneckConfig(bottleneck=4, targets=["text_encoder"]), activate=False)
    base_before = {n: p.detach().clone() for n, p in base_parameters(lobe.model)}
    sets_before = {
        n: {k: v.clone() for k, v in lobe.adapters.state_dict(n).items()} for n in lobe.adapters.sets
    }
    trainable = lobe.trainable_parameters()
    assert {id(p) for p in trainable} == {id(p) for n in ALL_KINDS for p in lobe.adapters.parameters(n)}
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    lobe.train()
    data = asr_batch(lobe, real_clips[:2])
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss, _ = asr_loss(lobe, *data)
        loss.backward()
        if not losses:  # gradients reach exactly the active trainable sets
            for name in lobe.adapters.sets:
                grads = [p.grad for p in lobe.adapters.parameters(name)]
                if name in ("frozen_extra", "inactive"):
                    assert all(g is None for g in grads), name
                else:
                    assert any(g is not None and g.abs().sum() > 0 for g in grads), name
            assert all(p.grad is None for _, p in base_parameters(lobe.model))
        optimizer.step()
        losses.append(loss.item())
    for name, p in base_parameters(lobe.model):
        assert torch.equal(p, base_before[name]), name
    for name in ALL_KINDS:
        after = lobe.adapters.state_dict(name)
        assert any(not torch.equal(after[k], v) for k, v in sets_before[name].items()), name
    for name in ("frozen_extra", "inactive"):
        after = lobe.adapters.state_dict(name)
        assert all(torch.equal(after[k], v) for k, v in sets_before[name].items()), name
    assert losses[-1] < losses[0]


def test_activate_deactivate_stack_and_remove(tiny_v2, real_clips):
    lobe = SeamlessM4T(tiny_v2)
    data = asr_batch(lobe, real_clips[:2])
    with torch.no_grad():
        _, bare = asr_loss(lobe, *data)
    keys_before = set(lobe.model.state_dict())
    lobe.adapters.add("a", BottleneckConfig(bottleneck=4, targets=["text_decoder"]))
    lobe.adapters.add("b", BottleneckConfig(bottleneck=4, targets=["speech_encoder", "text_decoder"]))
    for name in ("a", "b"):  # make them non-trivial
        for p in lobe.adapters.parameters(name):
            torch.nn.init.normal_(p, std=0.1)
    with torch.no_grad():
        both = asr_loss(lobe, *data)[1]
        lobe.adapters.deactivate("b")
        only_a = asr_loss(lobe, *data)[1]
        lobe.adapters.set_active(["b"])
        only_b = asr_loss(lobe, *data)[1]
        lobe.adapters.deactivate("b")
        none = asr_loss(lobe, *data)[1]
    assert torch.equal(none, bare)
    assert not torch.allclose(only_a, bare) and not torch.allclose(only_b, bare)
    assert not torch.allclose(both, only_a) and not torch.allclose(both, only_b)
    lobe.adapters.activate("a", "b")
    assert lobe.adapters.active == ["a", "b"]
    assert lobe.model.text_decoder.layers[0]._sb_post == ["a", "b"]
    lobe.adapters.remove("a")
    lobe.adapters.remove("b")
    assert set(lobe.model.state_dict()) == keys_before
    assert type(lobe.model.text_decoder.layers[0]).__name__ == "SeamlessM4Tv2DecoderLayer"
    with pytest.raises(KeyError, match="unknown adapter set"):
        lobe.adapters.activate("a")


def test_finetune_set_replaces_component_and_conflicts(tiny_v2, real_clips):
    lobe = SeamlessM4T(tiny_v2, adapters={"la": FinetuneConfig(targets=["length_adaptor"])})
    copy_params = list(lobe.adapters.parameters("la"))
    assert sum(p.numel() for p in copy_params) == sum(
        p.numel() for n, p in base_parameters(lobe.model) if n.startswith("speech_encoder.adapter.")
    )
    assert all(p.requires_grad and p.dtype == torch.float32 for p in copy_params)
    data = asr_batch(lobe, real_clips[:2])
    with torch.no_grad():
        for p in copy_params:
            p.add_(0.05)
        changed = asr_loss(lobe, *data)[1]
        lobe.adapters.deactivate("la")
        original = asr_loss(lobe, *data)[1]
    assert not torch.allclose(changed, original)
    lobe.adapters.add("inner", BottleneckConfig(bottleneck=4, targets=["length_adaptor"]), activate=False)
    with pytest.raises(ValueError, match="cannot be active together"):
        lobe.adapters.set_active(["la", "inner"])


def test_bf16_base_with_fp32_adapters_and_autocast(tiny_v2, real_clips):
    lobe = SeamlessM4T(tiny_v2, dtype="bfloat16", adapters={"enc": ALL_KINDS["enc"], "dec": ALL_KINDS["dec"]})
    assert all(p.dtype == torch.float32 for p in lobe.trainable_parameters())
    lobe.train()
    data = asr_batch(lobe, real_clips[:2])
    loss, logits = asr_loss(lobe, *data)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in lobe.trainable_parameters())
    fp32 = SeamlessM4T(tiny_v2, adapters={"enc": ALL_KINDS["enc"]})
    fp32.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = asr_loss(fp32, *data)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in fp32.trainable_parameters())


def test_no_grad_below_lowest_trainable_module(tiny_v2, real_clips):
    batch, lens = pad_batch([c[0] for c in real_clips[:2]])
    conformer_out = []
    decoder_only = SeamlessM4T(tiny_v2, adapters={"dec": ALL_KINDS["dec"]})
    decoder_only.train()
    hidden, _ = decoder_only(batch, lens)
    assert torch.is_grad_enabled() and not hidden.requires_grad

    length_only = SeamlessM4T(tiny_v2, adapters={"la": FinetuneConfig(targets=["length_adaptor"])})
    length_only.train()
    handle = length_only.model.speech_encoder.encoder.register_forward_hook(
        lambda mod, args, out: conformer_out.append(out.requires_grad)
    )
    hidden, _ = length_only(batch, lens)
    handle.remove()
    assert conformer_out == [False] and hidden.requires_grad

    encoder = SeamlessM4T(tiny_v2, adapters={"enc": ALL_KINDS["enc"]})
    encoder.train()
    hidden, _ = encoder(batch, lens)
    assert hidden.requires_grad


def test_activation_checkpointing_same_gradients_and_recomputes(tiny_v2, real_clips):
    grads = []
    calls = []
    for enabled in (False, True):
        torch.manual_seed(0)
        lobe = SeamlessM4T(
            tiny_v2,
            adapters={"enc": ALL_KINDS["enc"], "dec": ALL_KINDS["dec"]},
            activation_checkpointing=enabled,
        )
        for p in lobe.trainable_parameters():
            torch.nn.init.normal_(p, std=0.05)
        lobe.train()
        counter = []
        layer = lobe.model.speech_encoder.encoder.layers[0]
        handle = layer.self_attn.register_forward_hook(lambda *a, c=counter: c.append(1))
        loss, _ = asr_loss(lobe, *asr_batch(lobe, real_clips[:2]))
        loss.backward()
        handle.remove()
        calls.append(len(counter))
        grads.append([p.grad.clone() for p in lobe.trainable_parameters()])
    assert calls == [1, 2]  # recomputed in backward
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="activation checkpointing"):
        SeamlessM4T(tiny_v2, activation_checkpointing=["length_adaptor"])


def test_every_kth_layer_checkpointing_recomputes_only_those_layers(tiny_v2, real_clips):
    grads, calls = [], []
    for setting in (False, {"speech_encoder": 2}):
        torch.manual_seed(0)
        lobe = SeamlessM4T(tiny_v2, adapters={"enc": ALL_KINDS["enc"]}, activation_checkpointing=setting)
        for p in lobe.trainable_parameters():
            torch.nn.init.normal_(p, std=0.05)
        lobe.train()
        layers = lobe.model.speech_encoder.encoder.layers
        counts = [[] for _ in layers]
        handles = [
            layer.self_attn.register_forward_hook(lambda *a, c=c: c.append(1))
            for layer, c in zip(layers, counts)
        ]
        loss, _ = asr_loss(lobe, *asr_batch(lobe, real_clips[:2]))
        loss.backward()
        for handle in handles:
            handle.remove()
        calls.append([len(c) for c in counts])
        grads.append([p.grad.clone() for p in lobe.trainable_parameters()])
    assert len(calls[0]) == 2 and calls == [[1, 1], [1, 2]]  # the 2nd layer recomputed, the 1st not
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))
    for bad in ({"speech_encoder": 0}, {"length_adaptor": 2}):
        with pytest.raises(ValueError, match="activation checkpointing"):
            SeamlessM4T(tiny_v2, activation_checkpointing=bad)


def _recompute_counts(lobe, clips, block="self_attn.linear_q"):
    """Forward calls of ``block`` in each Conformer layer over one training step, and the gradients.

    A module inside the sub-block: a recomputation runs the sub-block's forward, not its hooks."""
    layers = lobe.model.speech_encoder.encoder.layers
    counts = [[] for _ in layers]
    handles = [
        layer.get_submodule(block).register_forward_hook(lambda *a, c=c: c.append(1))
        for layer, c in zip(layers, counts)
    ]
    loss, _ = asr_loss(lobe, *asr_batch(lobe, clips))
    loss.backward()
    for handle in handles:
        handle.remove()
    return [len(c) for c in counts], [p.grad.clone() for p in lobe.trainable_parameters()]


def test_sub_block_checkpointing_recomputes_those_blocks_and_pickles(tiny_v2, real_clips):
    results = {}
    for setting in (False, {"speech_encoder": ["self_attn", "conv_module"]}):
        torch.manual_seed(0)
        lobe = SeamlessM4T(tiny_v2, adapters={"enc": ALL_KINDS["enc"]}, activation_checkpointing=setting)
        for p in lobe.trainable_parameters():
            torch.nn.init.normal_(p, std=0.05)
        lobe.train()
        results[bool(setting)] = lobe, *_recompute_counts(lobe, real_clips[:2])
    (plain, plain_calls, plain_grads), (lobe, calls, grads) = results[False], results[True]
    # layer 2 recomputes its attention in backward; layer 1 has no input needing gradients
    assert plain_calls == [1, 1] and calls == [1, 2]
    # ffn1 is not a chosen sub-block: never recomputed
    assert _recompute_counts(lobe, real_clips[:2], "ffn1.intermediate_dense")[0] == [1, 1]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain_grads, grads))
    assert set(lobe.model.state_dict()) == set(plain.model.state_dict())
    copy = pickle.loads(pickle.dumps(lobe))  # the copy checkpoints its own modules
    assert _recompute_counts(copy, real_clips[:2])[0] == [1, 2]
    lobe.set_activation_checkpointing(False)
    assert _recompute_counts(lobe, real_clips[:2])[0] == [1, 1]
    for bad in ({"speech_encoder": ["attn"]}, {"speech_encoder": "self_attn"}, {"text_decoder": [1]}):
        with pytest.raises(ValueError, match="activation checkpointing"):
            SeamlessM4T(tiny_v2, activation_checkpointing=bad)


def test_save_load_roundtrip_reproduces_outputs(tiny_v2, real_clips, tmp_path):
    dec_lora = LoRAConfig(targets=[r"text_decoder\.layers\.\d+\.ffn\.fc1"], rank=2)
    adapters = {"enc": ALL_KINDS["enc"], "dec": ALL_KINDS["dec"], "lora": dec_lora}
    lobe = SeamlessM4T(tiny_v2, adapters=dict(adapters, ft=FinetuneConfig(targets=["length_adaptor"])))
    for p in lobe.trainable_parameters():
        torch.nn.init.normal_(p, std=0.05)
    data = asr_batch(lobe, real_clips[:2])
    with torch.no_grad():
        expected = asr_loss(lobe, *data)[1]
    folder = lobe.save_adapters(tmp_path / "saved", language="ben")
    weights = load_file(str(folder / "adapters.safetensors"))
    assert sum(v.numel() for v in weights.values()) == sum(
        lobe.adapters.num_parameters(n) for n in lobe.adapters.sets
    )
    assert all(k.split("/", 1)[0] in lobe.adapters.sets for k in weights)

    fresh = SeamlessM4T(tiny_v2)
    loaded = fresh.load_adapters(folder, names=["enc", "dec", "lora", "ft"])
    assert loaded == ["enc", "dec", "lora", "ft"] and not fresh.trainable_parameters()
    with torch.no_grad():
        assert torch.equal(asr_loss(fresh, *data)[1], expected)


def test_loading_onto_another_architecture_is_a_clear_error(tiny_v2, tiny_v1, tmp_path):
    lobe = SeamlessM4T(tiny_v1, adapters={"enc": ALL_KINDS["enc"]})
    folder = lobe.save_adapters(tmp_path / "v1_adapters")
    other = SeamlessM4T(tiny_v2)
    with pytest.raises(AdapterMismatchError, match="saved for base model .*seamless_m4t.*fingerprint"):
        other.load_adapters(folder)
    with pytest.raises(FileNotFoundError, match="adapters.json"):
        other.load_adapters(tmp_path)


def test_speechbrain_checkpointer_recovers_adapter_state(tiny_v2, tmp_path):
    from speechbrain.utils.checkpoints import Checkpointer

    lobe = SeamlessM4T(tiny_v2, adapters={"enc": ALL_KINDS["enc"]})
    for p in lobe.trainable_parameters():
        torch.nn.init.normal_(p, std=0.05)
    saved = {k: v.clone() for k, v in lobe.adapters.state_dict("enc").items()}
    checkpointer = Checkpointer(tmp_path / "ckpt", recoverables={"m4t": lobe})
    checkpoint = checkpointer.save_checkpoint()
    ckpt_file = checkpoint.paramfiles["m4t"]
    assert ckpt_file.stat().st_size < 4 * sum(v.numel() for v in saved.values()) + 10_000  # adapters only
    for p in lobe.trainable_parameters():
        torch.nn.init.zeros_(p)
    restored = SeamlessM4T(tiny_v2, adapters={"enc": ALL_KINDS["enc"]})
    restored.adapters.deactivate("enc")  # which sets run is the run's choice: recovery keeps it
    Checkpointer(tmp_path / "ckpt", recoverables={"m4t": restored}).recover_if_possible()
    for key, value in restored.adapters.state_dict("enc").items():
        assert torch.equal(value, saved[key])
    assert restored.adapters.active == []


def test_layer_selection_and_bad_configs(tiny_v2):
    lobe = SeamlessM4T(tiny_v2)
    s = lobe.adapters.add("sel", BottleneckConfig(bottleneck=4, targets=["speech_encoder"], layers=[-1]))
    assert s.targets == ["speech_encoder.encoder.layers.1"]
    with pytest.raises(ValueError, match="out of range"):
        lobe.adapters.add("bad", BottleneckConfig(bottleneck=4, layers=[5]))
    with pytest.raises(ValueError, match="unknown targets"):
        BottleneckConfig(targets=["vocoder"])
    with pytest.raises(ValueError, match="match no Linear"):
        lobe.adapters.add("lora", LoRAConfig(targets=["nothing.*"]))


def _meta_counts(model_cls, config, bottleneck):
    with torch.device("meta"):
        model = model_cls(config)
    sets = AdapterSets(model, hidden_size=config.hidden_size)
    sets.add("enc", BottleneckConfig(bottleneck=bottleneck, targets=["speech_encoder"]))
    sets.add("dec", BottleneckConfig(bottleneck=bottleneck, targets=["text_decoder"]))
    sets.add("la", FinetuneConfig(targets=["length_adaptor"]))
    return model, sets


@pytest.mark.parametrize("bottleneck,expected", [(256, 6_331_392), (2048, 50_393_088)])
def test_paper_adapter_sizes_on_real_medium_config(bottleneck, expected):
    model, sets = _meta_counts(SeamlessM4TSpeechTextModel, reference_config("v1-medium"), bottleneck)
    per_layer = BottleneckAdapter.num_parameters(1024, bottleneck)
    assert per_layer == 2 * 1024 * bottleneck + bottleneck + 3 * 1024
    assert sets.num_parameters("enc") == 12 * per_layer == expected
    assert sets.num_parameters("dec") == expected
    assert sets.num_parameters("la") == 46_156_800  # the paper's 46M length adaptor
    base = sum(p.numel() for _, p in base_parameters(model))
    assert base == 972_508_480
    decoder = sum(p.numel() for n, p in base_parameters(model) if n.startswith("text_decoder.layer"))
    assert decoder == 201_562_112


def test_adapter_sizes_on_v2_large_config():
    model, sets = _meta_counts(SeamlessM4Tv2SpeechTextModel, reference_config("v2-large"), 256)
    assert sets.num_parameters("enc") == 24 * BottleneckAdapter.num_parameters(1024, 256) == 12_662_784
    assert sets.num_parameters("la") == 46_156_800
    assert sum(p.numel() for _, p in base_parameters(model)) == 2_005_578_560


@pytest.mark.parametrize("component", ["speech_encoder", "text_decoder", "conformer"])
def test_finetuning_whole_components_trains_the_copy(component, tiny_v2, real_clips):
    lobe = SeamlessM4T(tiny_v2, dtype="bfloat16", adapters={"ft": FinetuneConfig(targets=[component])})
    data = asr_batch(lobe, real_clips[:2])
    with torch.no_grad():
        before = asr_loss(lobe, *data)[1]
        lobe.adapters.deactivate("ft")
        bare = asr_loss(lobe, *data)[1]
        lobe.adapters.activate("ft")
    assert torch.allclose(before.float(), bare.float(), atol=0.1)  # a copy in fp32 of a bf16 base
    lobe.train()
    loss, _ = asr_loss(lobe, *data)
    loss.backward()
    copy_params = list(lobe.adapters.parameters("ft"))
    assert copy_params and all(p.dtype == torch.float32 for p in copy_params)
    with_grad = [p for p in copy_params if p.grad is not None and p.grad.abs().sum() > 0]
    assert len(with_grad) > len(copy_params) // 2
    assert all(p.grad is None for _, p in base_parameters(lobe.model))


def test_finetune_text_decoder_leaves_tied_embeddings_alone(tiny_v2):
    lobe = SeamlessM4T(tiny_v2, adapters={"ft": FinetuneConfig(targets=["text_decoder"])})
    expected = sum(
        p.numel()
        for n, p in base_parameters(lobe.model)
        if n.startswith(("text_decoder.layers.", "text_decoder.layer_norm."))
    )
    assert lobe.adapters.num_parameters("ft") == expected
    assert not lobe.model.shared.weight.requires_grad
    with pytest.raises(ValueError, match="tied to 'shared.weight'"):
        lobe.adapters.add("whole", FinetuneConfig(targets=["text_decoder.embed_tokens"]))


def _saved_set(base, folder, name: str, seed: int):
    lobe = SeamlessM4T(base, adapters={name: BottleneckConfig(bottleneck=4, targets=["text_decoder"])})
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in lobe.adapters.parameters(name):
            p.copy_(torch.randn(p.shape, generator=gen))
    return lobe.save_adapters(folder), {k: v.clone() for k, v in lobe.adapters.state_dict(name).items()}


def test_stacking_two_folders_with_one_set_name_is_an_error_or_renamed(tiny_v2, tmp_path):
    """Two folders holding a set 'encoder': never a silent overwrite; YAML's rename loads both."""
    first, first_weights = _saved_set(tiny_v2, tmp_path / "bengali", "encoder", seed=1)
    second, second_weights = _saved_set(tiny_v2, tmp_path / "odia", "encoder", seed=2)
    with pytest.raises(ValueError, match=r"'encoder' from .*odia is already attached \(from .*bengali\)"):
        SeamlessM4T(tiny_v2, pretrained_adapters=[first, second])
    with pytest.raises(ValueError, match="new adapter set 'encoder' has the name of a set loaded from"):
        SeamlessM4T(tiny_v2, pretrained_adapters=[first], adapters={"encoder": ALL_KINDS["enc"]})

    lobe = SeamlessM4T(
        tiny_v2,
        pretrained_adapters=[str(first), {"folder": str(second), "rename": {"encoder": "odia_encoder"}}],
    )
    assert lobe.adapters.active == ["encoder", "odia_encoder"]
    for name, expected in (("encoder", first_weights), ("odia_encoder", second_weights)):
        assert all(torch.equal(v, expected[k]) for k, v in lobe.adapters.state_dict(name).items())
    assert lobe.adapters.sets["odia_encoder"].source == str(second)
    with pytest.raises(ValueError, match="unknown key"):
        SeamlessM4T(tiny_v2, pretrained_adapters=[{"folder": str(first), "renamed": {}}])


def test_training_and_inference_share_one_adapter_folder_loader(tiny_v2, tmp_path, monkeypatch):
    """Inference profiles go through adapters.io.load_adapters: same checks, same errors."""
    from speechbrain_m4t_adapters.adapters import io
    from speechbrain_m4t_adapters.inference.profiles import AdapterProfiles

    folder, _ = _saved_set(tiny_v2, tmp_path / "odia", "encoder", seed=1)
    calls = []
    original = io.load_adapters
    monkeypatch.setattr(
        "speechbrain_m4t_adapters.lobe.load_adapters",
        lambda *a, **k: calls.append(k.get("prefix", "")) or original(*a, **k),
    )
    lobe = SeamlessM4T(tiny_v2, pretrained_adapters=[folder])
    profile = AdapterProfiles(lobe).load(folder, name="odia")
    assert calls == ["", "odia-"] and profile.sets == ["odia-encoder"]
    (folder / "adapters.safetensors").write_bytes(b"broken")
    for load in (
        lambda: SeamlessM4T(tiny_v2, pretrained_adapters=[folder]),
        lambda: AdapterProfiles(lobe).load(folder, name="second"),
    ):
        with pytest.raises(ValueError, match="adapters.safetensors: damaged or replaced: its SHA-256"):
            load()
