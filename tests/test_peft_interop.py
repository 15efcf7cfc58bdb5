"""LoRA sets <-> Hugging Face PEFT folders, and merging LoRA into the base weights."""

from __future__ import annotations

import json

import pytest
import torch

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import LoRAConfig
from speechbrain_m4t_adapters.adapters.lora import (
    PEFT_CONFIG_NAME,
    export_peft,
    import_peft,
    merge_lora,
    read_peft_lora,
    unmerge_lora,
)

peft = pytest.importorskip("peft")

# Conformer attention, the length adaptor's Conv1d and decoder projections.
TARGETS = [
    r"speech_encoder\.encoder\.layers\.\d+\.self_attn\.linear_(q|v)",
    r"speech_encoder\.adapter\.layers\.0\.residual_conv",
    r"text_decoder\.layers\.\d+\.(self_attn\.q_proj|ffn\.fc1)",
]


def _randomise(m4t: SeamlessM4T, name: str) -> None:
    """Non-zero B matrices, so the LoRA really changes the outputs."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m4t.adapters.parameters(name):
            p.copy_(torch.randn(p.shape, generator=generator) * 0.2)


def _inputs(m4t: SeamlessM4T):
    torch.manual_seed(1)
    features, mask = m4t.extract_features(torch.randn(1, 16000))
    decoder_ids = torch.tensor([[m4t.text_ids.eos_id, m4t.languages.id("ory"), 10, 11, 12]])
    return features, mask, decoder_ids


@torch.no_grad()
def _our_logits(m4t: SeamlessM4T, features, mask, decoder_ids) -> torch.Tensor:
    hidden, hidden_mask = m4t.encode_speech(features, mask)
    return m4t.decode(hidden, hidden_mask, decoder_ids)


def _hf_speech_to_text(folder, version: str):
    from transformers import SeamlessM4TForSpeechToText, SeamlessM4Tv2ForSpeechToText

    cls = SeamlessM4Tv2ForSpeechToText if version == "v2" else SeamlessM4TForSpeechToText
    return cls.from_pretrained(folder).eval()


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_exported_lora_reproduces_our_outputs_in_peft(tiny_dirs, tmp_path, version):
    m4t = SeamlessM4T(tiny_dirs[version], adapters={"lora": LoRAConfig(targets=TARGETS, rank=4, alpha=8)})
    m4t.eval()
    _randomise(m4t, "lora")
    features, mask, decoder_ids = _inputs(m4t)
    ours = _our_logits(m4t, features, mask, decoder_ids)
    folder = export_peft(m4t.adapters, "lora", tmp_path / "peft", base_model=str(tiny_dirs[version]))
    config = json.loads((folder / PEFT_CONFIG_NAME).read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 4 and config["lora_alpha"] == 8
    assert "speech_encoder.adapter.layers.0.residual_conv" in config["target_modules"]

    model = peft.PeftModel.from_pretrained(_hf_speech_to_text(tiny_dirs[version], version), folder).eval()
    with torch.no_grad():
        theirs = model(input_features=features, attention_mask=mask, decoder_input_ids=decoder_ids).logits
        with model.disable_adapter():
            base = model(input_features=features, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    assert (ours - theirs).abs().max().item() <= 1e-5
    assert (ours - base).abs().max().item() > 0.1  # the LoRA matters, so equality means something


def test_peft_folder_imports_as_named_set(tiny_v2, tmp_path):
    hf = _hf_speech_to_text(tiny_v2, "v2")
    config = peft.LoraConfig(
        r=2,
        lora_alpha=6,
        target_modules=r".*(linear_k|self_attn_conv|cross_attention\.v_proj)",
        use_rslora=True,  # scaling alpha / sqrt(r): imported with an equivalent alpha
    )
    model = peft.get_peft_model(hf, config)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    model.save_pretrained(tmp_path / "peft")
    m4t = SeamlessM4T(tiny_v2)
    m4t.eval()
    adapter_set = import_peft(m4t.adapters, tmp_path / "peft", "from_peft")
    assert m4t.adapters.active == ["from_peft"] and adapter_set.config.rank == 2
    assert adapter_set.config.alpha == pytest.approx(6 * 2**0.5)
    assert "speech_encoder.adapter.layers.0.self_attn_conv" in adapter_set.targets
    features, mask, decoder_ids = _inputs(m4t)
    ours = _our_logits(m4t, features, mask, decoder_ids)
    with torch.no_grad():
        theirs = model.eval()(
            input_features=features, attention_mask=mask, decoder_input_ids=decoder_ids
        ).logits
    assert (ours - theirs).abs().max().item() <= 1e-5
    m4t.adapters.deactivate("from_peft")
    assert (ours - _our_logits(m4t, features, mask, decoder_ids)).abs().max().item() > 0.1


def test_peft_import_refuses_what_it_cannot_reproduce(tiny_v2, tmp_path):
    m4t = SeamlessM4T(tiny_v2, adapters={"lora": LoRAConfig(targets=TARGETS, rank=2)})
    folder = export_peft(m4t.adapters, "lora", tmp_path / "peft")
    config = json.loads((folder / PEFT_CONFIG_NAME).read_text())
    (folder / PEFT_CONFIG_NAME).write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ValueError, match="adapter_config.json: use_dora=True is not supported"):
        read_peft_lora(folder)
    (folder / PEFT_CONFIG_NAME).write_text(json.dumps({**config, "peft_type": "IA3"}))
    with pytest.raises(ValueError, match="only LORA imports"):
        read_peft_lora(folder)
    with pytest.raises(FileNotFoundError, match="no PEFT adapter config"):
        read_peft_lora(tmp_path)
    (folder / PEFT_CONFIG_NAME).write_text(json.dumps({**config, "r": 4}))  # the weights are rank 2
    with pytest.raises(
        ValueError, match=r"lora_A\.weight has shape \[2, [\d, ]+\] \(rank 2\), but r is 4 in .*json"
    ):
        import_peft(m4t.adapters, folder, "from_peft")
    assert "from_peft" not in m4t.adapters.sets  # nothing half-attached


def test_merge_and_unmerge_lora_keep_outputs(tiny_v2):
    m4t = SeamlessM4T(tiny_v2, adapters={"lora": LoRAConfig(targets=TARGETS, rank=4)})
    m4t.eval()
    _randomise(m4t, "lora")
    features, mask, decoder_ids = _inputs(m4t)
    before = _our_logits(m4t, features, mask, decoder_ids)
    conv = m4t.model.speech_encoder.adapter.layers[0].residual_conv
    weight = conv.weight.detach().clone()

    merge_lora(m4t.adapters, "lora")
    assert [n for n, s in m4t.adapters.sets.items() if s.merged] == ["lora"]
    assert not torch.equal(conv.weight, weight)
    assert conv.merged  # PEFT runs the merged weight alone
    assert m4t.trainable_parameters() == []  # a merged set gets no gradients
    # float32 rounding of W + BA: equal to 1e-5 relative to the logits' size
    assert torch.allclose(_our_logits(m4t, features, mask, decoder_ids), before, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="merged into the base weights"):
        m4t.adapters.deactivate("lora")
    with pytest.raises(ValueError, match="already merged"):
        merge_lora(m4t.adapters, "lora")

    unmerge_lora(m4t.adapters, "lora")
    assert (conv.weight - weight).abs().max().item() <= 1e-6
    assert not conv.merged and conv.active_adapters == ["lora"]
    assert torch.allclose(_our_logits(m4t, features, mask, decoder_ids), before, rtol=1e-5, atol=1e-5)
    m4t.adapters.deactivate("lora")
    with pytest.raises(ValueError, match="not active"):
        merge_lora(m4t.adapters, "lora")
