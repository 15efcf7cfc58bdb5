"""The SeamlessM4T lobe: loading, features, encoding, labels, generation, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import REAL, pad_batch
from transformers import GenerationMixin, SeamlessM4TFeatureExtractor

from speechbrain_m4t_adapters import SeamlessM4T, SeamlessM4TFbank
from speechbrain_m4t_adapters.model.decoding import transcribe, translate


@pytest.fixture(scope="module")
def lobe_v2(tiny_v2):
    return SeamlessM4T(tiny_v2)


@pytest.fixture(scope="module")
def lobe_v1(tiny_v1):
    return SeamlessM4T(tiny_v1)


def test_loads_without_speech_output_towers(lobe_v2, lobe_v1):
    for lobe in (lobe_v2, lobe_v1):
        names = {n for n, _ in lobe.model.named_children()}
        assert names == {"shared", "speech_encoder", "text_encoder", "text_decoder", "lm_head"}
        assert lobe.model.lm_head.weight is lobe.model.shared.weight
        assert not any(p.requires_grad for p in lobe.model.parameters())
        assert lobe.model.config.speech_encoder_layerdrop == 0.0
        assert lobe.model.config._attn_implementation == "sdpa"
    assert lobe_v2.version == "v2" and lobe_v1.version == "v1"


def test_weights_equal_saved_checkpoint(tiny_v2, lobe_v2):
    from safetensors.torch import load_file

    saved = load_file(str(tiny_v2 / "model.safetensors"))
    assert any(k.startswith("t2u_model.") for k in saved)  # the folder is a full checkpoint
    own = lobe_v2.model.state_dict()
    for key, value in own.items():
        if key in saved:
            assert torch.equal(value, saved[key]), key
    assert "speech_encoder.adapter.layers.0.residual_conv.weight" in own


def test_dtype_option_and_errors(tiny_v2, tmp_path):
    lobe = SeamlessM4T(tiny_v2, dtype="bfloat16")
    assert lobe.model.text_decoder.layers[0].ffn.fc1.weight.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="eager"):
        SeamlessM4T(tiny_v2, attn_implementation="eager")
    with pytest.raises(ValueError, match="unknown dtype"):
        SeamlessM4T(tiny_v2, dtype="float8")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="not SeamlessM4T"):
        SeamlessM4T(tmp_path)


def test_batched_features_match_hf_extractor(real_clips):
    waves = [c[0] for c in real_clips[:4]]
    waves[1] = waves[1][:20_001]  # odd frame count
    reference = SeamlessM4TFeatureExtractor()(
        [w.numpy() for w in waves], sampling_rate=16000, return_tensors="pt"
    )
    batch, lens = pad_batch(waves)
    for precision, tolerance in ((torch.float64, 5e-4), (torch.float32, 1e-3)):
        feats, mask = SeamlessM4TFbank(precision=precision)(batch, lens)
        assert feats.shape == reference["input_features"].shape and feats.dtype == torch.float32
        assert torch.equal(mask, reference["attention_mask"].long())
        assert (feats - reference["input_features"]).abs().max().item() < tolerance, precision


def test_features_refuse_other_rates_and_short_audio():
    fbank = SeamlessM4TFbank()
    with pytest.raises(ValueError, match="16 kHz"):
        fbank(torch.randn(1, 8000), sample_rate=8000)
    with pytest.raises(ValueError, match="shorter than one"):
        fbank(torch.randn(1, 300))
    with pytest.raises(ValueError, match="non-empty"):
        fbank(torch.zeros(0, 16000))


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_speech_encoding_matches_hf_and_shapes(version, tiny_dirs, real_clips, lobe_v2, lobe_v1):
    lobe = lobe_v2 if version == "v2" else lobe_v1
    for wave, _, _ in real_clips[:3]:  # unpadded: exactly transformers' speech encoder
        feats, mask = lobe.extract_features(wave.unsqueeze(0))
        valid = int(mask.sum())  # an odd 10 ms frame count leaves one masked stacked frame: drop it
        feats, mask = feats[:, :valid], mask[:, :valid]
        hidden, _ = lobe.encode_speech(feats, mask)
        reference = lobe.model.speech_encoder(input_features=feats, attention_mask=mask).last_hidden_state
        assert torch.allclose(hidden, reference, atol=1e-6)
    # Padded batch: shapes and masks (values: see test_padding_invariance; transformers
    # itself lets padding leak through the length adaptor, which the lobe masks).
    batch, lens = pad_batch([c[0] for c in real_clips[:2]])
    feats, mask = lobe.extract_features(batch, lens)
    hidden, enc_mask = lobe.encode_speech(feats, mask)
    assert hidden.shape[1] == feats.shape[1] // 8 + 1
    assert enc_mask.sum(1).tolist() == [int(n) // 8 + 1 for n in mask.sum(1)]
    conformer, conformer_mask = lobe.encode_speech(feats, mask, length_adaptor=False)
    assert conformer.shape[:2] == feats.shape[:2] and torch.equal(conformer_mask, mask)


def test_label_layout_matches_tokenizer(lobe_v2):
    text, lang = "যে কোন পুকুর বা নদীতে চিংড়ি চাষ করা হতিছে", "ben"
    reference = lobe_v2.tokenizer(text_target=text, tgt_lang=lang)["input_ids"]
    assert reference[0] == lobe_v2.text_ids.eos_id  # the tokenizer's target starts with </s>
    decoder_inputs, labels = lobe_v2.text_ids.batch_targets([text, "ଆମେ"], [lang, "ory"])
    assert labels[0].tolist() == reference[1:]  # [__ben__, tokens..., </s>]
    assert labels[0, 0].item() == lobe_v2.languages.id("ben")
    assert decoder_inputs[0, :2].tolist() == [lobe_v2.text_ids.eos_id, lobe_v2.languages.id("ben")]
    assert decoder_inputs[0].tolist().count(lobe_v2.text_ids.eos_id) == 1  # no double </s>
    assert torch.equal(decoder_inputs[0, 1:], labels[0, :-1])
    short = (labels[1] != -100).sum().item()
    assert (labels[1, short:] == -100).all() and (decoder_inputs[1, short:] == lobe_v2.text_ids.pad_id).all()


def test_teacher_forced_loss_equals_hf_forward(lobe_v2, real_clips):
    batch, lens = pad_batch([c[0] for c in real_clips[:2]])
    feats, mask = lobe_v2.extract_features(batch, lens)
    decoder_inputs, labels = lobe_v2.text_ids.batch_targets([c[1] for c in real_clips[:2]], "ben")
    hidden, enc_mask = lobe_v2.encode_speech(feats, mask)
    logits = lobe_v2.decode(hidden, enc_mask, decoder_inputs)
    ours = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)
    lobe_v2.model.set_modality("speech")
    reference = lobe_v2.model(input_features=feats, attention_mask=mask, labels=labels).loss
    assert torch.allclose(ours, reference, atol=1e-5)


def test_unknown_language_is_a_clear_error(lobe_v2):
    with pytest.raises(ValueError, match="unknown language code 'xyz'.*ben, eng, hin, mai, ory"):
        lobe_v2.text_ids("text", "xyz")
    with pytest.raises(ValueError, match="unknown language code"):
        transcribe(lobe_v2, torch.randn(1, 16000), None, "fra")


@pytest.mark.parametrize("lang", ["ory", "mai", "ben"])
def test_generate_v2_matches_hf_generate(lang, lobe_v2, real_clips):
    batch, lens = pad_batch([c[0] for c in real_clips[:2]])
    feats, mask = lobe_v2.extract_features(batch, lens)
    hidden, enc_mask = lobe_v2(batch, lens)
    ours = lobe_v2.generate(hidden, enc_mask, lang, max_new_tokens=8)
    lobe_v2.model.set_modality("speech")
    reference = lobe_v2.model.generate(
        input_features=feats, attention_mask=mask, tgt_lang=lang, generate_speech=False, max_new_tokens=8
    ).sequences
    lang_id = lobe_v2.languages.id(lang)
    assert (reference[:, 1] == lang_id).all()
    for row, ref_row in zip(ours, reference.tolist()):
        stripped = ref_row[2:]
        if lobe_v2.text_ids.eos_id in stripped:
            stripped = stripped[: stripped.index(lobe_v2.text_ids.eos_id)]
        assert row == [t for t in stripped if t != lobe_v2.text_ids.pad_id]
        assert lang_id not in row
    texts = lobe_v2.decode_tokens(ours)
    assert all(isinstance(t, str) and "__" not in t for t in texts)


@pytest.mark.parametrize("lang", ["ory", "mai"])
def test_generate_v1_text_only_languages(lang, lobe_v1, real_clips):
    batch, lens = pad_batch([c[0] for c in real_clips[:2]])
    feats, mask = lobe_v1.extract_features(batch, lens)
    lobe_v1.model.set_modality("speech")
    # The full v1 model's own generate refuses languages without speech output...
    with pytest.raises(ValueError):
        lobe_v1.model.generate(
            input_features=feats, attention_mask=mask, tgt_lang=lang, generate_speech=False
        )
    # ...the lobe forces the decoder prefix instead, which equals HF's text generation with that prefix.
    hidden, enc_mask = lobe_v1(batch, lens)
    ours = lobe_v1.generate(hidden, enc_mask, lang, num_beams=2, max_new_tokens=6)
    prefix = torch.tensor([[lobe_v1.text_ids.eos_id, lobe_v1.languages.id(lang)]] * 2)
    reference = GenerationMixin.generate(
        lobe_v1.model,
        input_features=feats,
        attention_mask=mask,
        decoder_input_ids=prefix,
        num_beams=2,
        max_new_tokens=6,
        do_sample=False,
    )
    reference = reference if isinstance(reference, torch.Tensor) else reference.sequences
    for row, ref_row in zip(ours, reference[:, 2:].tolist()):
        if lobe_v1.text_ids.eos_id in ref_row:
            ref_row = ref_row[: ref_row.index(lobe_v1.text_ids.eos_id)]
        assert row == [t for t in ref_row if t != lobe_v1.text_ids.pad_id]


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_padding_invariance(version, lobe_v2, lobe_v1, real_clips):
    lobe = lobe_v2 if version == "v2" else lobe_v1
    waves = [c[0] for c in real_clips]
    # Both cases of the length adaptor's last window: it ends inside the padding or not.
    frames = [int(lobe.extract_features(w.unsqueeze(0))[1].sum()) for w in waves]
    assert {f % 8 < 4 for f in frames} == {True, False}
    batch, lens = pad_batch(waves)
    hidden, mask = lobe(batch, lens)
    batched_text = lobe.generate(hidden, mask, "ben", max_new_tokens=6)
    for i, wave in enumerate(waves):
        alone, alone_mask = lobe(wave.unsqueeze(0))
        valid = int(alone_mask.sum())
        assert int(mask[i].sum()) == valid
        assert torch.allclose(hidden[i, :valid], alone[0, :valid], atol=1e-5), (i, frames[i] % 8)
        assert lobe.generate(alone, alone_mask, "ben", max_new_tokens=6)[0] == batched_text[i]


def test_translate_runs_text_path_only(lobe_v2):
    calls = []
    handle = lobe_v2.model.speech_encoder.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        out = translate(lobe_v2, ["Hello world", "On Monday"], "eng", "ory", max_new_tokens=5)
    finally:
        handle.remove()
    assert len(out) == 2 and calls == []


def test_greedy_equals_single_beam_and_beam_runs(lobe_v2, real_clips):
    batch, lens = pad_batch([c[0] for c in real_clips[:2]])
    greedy = transcribe(lobe_v2, batch, lens, "ben", num_beams=1, max_new_tokens=6)
    beam = transcribe(lobe_v2, batch, lens, "ben", num_beams=3, max_new_tokens=6)
    assert len(greedy) == len(beam) == 2
    assert np.all([isinstance(t, str) for t in beam])


def test_features_ignore_autocast(real_clips):
    fbank = SeamlessM4TFbank()
    wave = real_clips[0][0].unsqueeze(0)
    plain, _ = fbank(wave)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = fbank(wave)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, plain)


def test_tiny_tokenizer_equals_the_official_sentencepiece_conversion(tiny_v2, lobe_v2, tmp_path):
    """A hub-style folder (sentencepiece.bpe.model + config) tokenizes exactly like the tiny model."""
    import json
    import shutil

    import sentencepiece as spm
    from transformers import SeamlessM4TTokenizer

    from speechbrain_m4t_adapters.tiny import TINY_LANGUAGES

    shutil.copy(tiny_v2 / "sentencepiece.bpe.model", tmp_path / "sentencepiece.bpe.model")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"additional_special_tokens": [f"__{c}__" for c in TINY_LANGUAGES], "src_lang": "eng"})
    )
    official = SeamlessM4TTokenizer.from_pretrained(tmp_path)  # converts with protobuf, as for hub repos
    lines = []
    for lang in ("ory_Orya", "ben_Beng", "mai_Deva", "eng_Latn"):
        lines += (
            (REAL / "flores200" / "devtest" / f"{lang}.devtest").read_text(encoding="utf-8").splitlines()[:20]
        )
    ours = lobe_v2.tokenizer(lines, add_special_tokens=False)["input_ids"]
    assert official(lines, add_special_tokens=False)["input_ids"] == ours
    if "Precompiled" in official.backend_tokenizer.to_str():  # transformers >= 5.25 applies SentencePiece's
        # own normalisation rules (5.24 used NFKC, which splits 3 of these 80 lines otherwise)
        pieces = spm.SentencePieceProcessor(model_file=str(tiny_v2 / "sentencepiece.bpe.model"))
        assert ours == [[i + 1 for i in pieces.encode(line)] for line in lines]  # fairseq ids: piece + 1
    for code in TINY_LANGUAGES:
        assert official.convert_tokens_to_ids(f"__{code}__") == lobe_v2.languages.id(code)
