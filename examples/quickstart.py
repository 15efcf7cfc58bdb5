"""The README's smallest example: a tiny offline SeamlessM4T + one adapter set.

Run: python examples/quickstart.py   (CPU, ~15 s, no download; from any directory)
The tiny model lives in a temporary folder removed at the end; the adapters are
saved under results/quickstart_adapters of the current directory. Swap the tiny
folder for "facebook/hf-seamless-m4t-medium" or "facebook/seamless-m4t-v2-large"
to do the same on the real models.
"""

import tempfile
from pathlib import Path

import soundfile as sf
import torch

from speechbrain_m4t_adapters import SeamlessM4T
from speechbrain_m4t_adapters.adapters import BottleneckConfig, parameter_report
from speechbrain_m4t_adapters.model.decoding import transcribe
from speechbrain_m4t_adapters.tiny import build_tiny_model

CLIP = "respin/bn/wav/IISc_RESPIN_bn_D1_20102_721101_F_AGRI_202149_20833864.wav"
REAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "real"  # shipped clips

workdir = tempfile.TemporaryDirectory()  # the tiny model; deleted when the script ends
folder = build_tiny_model(workdir.name, version="v2")  # random weights, real tokenizer
m4t = SeamlessM4T(folder, adapters={"encoder": BottleneckConfig(bottleneck=64, targets=["speech_encoder"])})
print(parameter_report(m4t.adapters)["adapter_sets"])

wav, rate = sf.read(REAL / CLIP, dtype="float32")
text = "যে কোন পুকুর বা নদীতে চিংড়ি চাষ করা হতিছে"
wavs = torch.from_numpy(wav).unsqueeze(0)

# One training step on the adapter only (the base stays frozen).
optimizer = torch.optim.AdamW(m4t.trainable_parameters(), lr=1e-3)
m4t.train()
hidden, mask = m4t(wavs)
decoder_inputs, labels = m4t.text_ids.batch_targets([text], "ben")
logits = m4t.decode(hidden, mask, decoder_inputs)
loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)
loss.backward()
optimizer.step()
print(f"loss {loss.item():.3f}")

m4t.eval()
print(transcribe(m4t, wavs, None, "ben", num_beams=2, max_new_tokens=10))  # meaningless text: random model
print(m4t.save_adapters("results/quickstart_adapters", language="ben"))  # .safetensors + .json
workdir.cleanup()
