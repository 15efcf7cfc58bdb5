"""The README's smallest example: a tiny offline SeamlessM4T + one adapter set.

Run: python examples/quickstart.py   (CPU, ~15 s, no download)
Swap the tiny folder for "facebook/hf-seamless-m4t-medium" or
"facebook/seamless-m4t-v2-large" to do the same on the real models.
"""

import tempfile

import soundfile as sf
import torch

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig
from speechbrain_m4t_adapters.tiny import build_tiny_model

folder = build_tiny_model(tempfile.mkdtemp(), version="v2")  # random weights, real tokenizer
m4t = SeamlessM4T(folder, adapters={"encoder": BottleneckConfig(bottleneck=64, placement=["speech_encoder"])})
print(m4t.parameter_report()["adapter_sets"])

wav, rate = sf.read(
    "tests/fixtures/real/respin/bn/wav/IISc_RESPIN_bn_D1_20102_721101_F_AGRI_202149_20833864.wav",
    dtype="float32",
)
text = "যে কোন পুকুর বা নদীতে চিংড়ি চাষ করা হতিছে"
wavs = torch.from_numpy(wav).unsqueeze(0)

# One training step on the adapter only (the base stays frozen).
optimizer = torch.optim.AdamW(m4t.trainable_parameters(), lr=1e-3)
m4t.train()
hidden, mask = m4t(wavs)
decoder_inputs, labels = m4t.batch_targets([text], "ben")
logits = m4t.decode(hidden, mask, decoder_inputs)
loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)
loss.backward()
optimizer.step()
print(f"loss {loss.item():.3f}")

m4t.eval()
print(m4t.transcribe(wavs, None, "ben", num_beams=2, max_new_tokens=10))  # meaningless text: random model
m4t.save_adapters("quickstart_adapters", language="ben")  # adapters.safetensors + adapters.json
