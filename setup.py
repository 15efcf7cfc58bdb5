"""Install speechbrain-m4t-adapters: ``pip install -e .``"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
version_ns: dict = {}
exec((HERE / "speechbrain_m4t_adapters" / "version.py").read_text(), version_ns)

setup(
    name="speechbrain-m4t-adapters",
    version=version_ns["__version__"],
    description=(
        "Parameter-efficient adaptation of SeamlessM4T (v1/v2) for low-resource ASR, as a SpeechBrain plugin"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8")
    if (HERE / "README.md").exists()
    else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["speechbrain_m4t_adapters", "speechbrain_m4t_adapters.*"]),
    package_data={
        "speechbrain_m4t_adapters": [
            "resources/*",
            "resources/mini/*",
            "resources/mini_m4t/*",
            "resources/flores200/dev/*",
            "inference/hparams/*.yaml",
        ],
    },
    include_package_data=True,
    install_requires=[
        "speechbrain>=1.1",
        "torch>=2.3,<2.15",
        "torchaudio>=2.3,<2.12",
        "transformers>=5.0,<6",
        "hyperpyyaml>=1.2",
        "filelock>=3.0",  # one process prepares a shared manifest, the others wait (training.recipe)
        "peft>=0.13",  # LoRA sets are PEFT's LoRA layers (adapters.lora)
        "jiwer>=3.0",
        "sentencepiece>=0.2",
        "protobuf>=4",  # converting a hub sentencepiece.bpe.model into the fast tokenizer
        "safetensors>=0.4",
        "soundfile>=0.12",
        "pyarrow>=14",  # hub parquet shards / datasets Arrow folders (data.parquet)
        "numpy>=1.24",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "scipy>=1.10",  # resampling of the synthetic speech (data.synthetic)
        "espeakng-loader>=0.2.4",  # libespeak-ng + voices in a 10 MB wheel: synthetic speech for --mini=True
    ],
    extras_require={
        "lora-peft": [],  # kept for old install commands: peft is a core dependency
        "indic": ["indic-nlp-library>=0.92"],  # the "vistaar" scoring normaliser
        "dev": [
            "pytest>=8",
            "ruff>=0.6",
            "indic-nlp-library>=0.92",
            "tensorboard>=2.10",
            "yamllint==1.35.1",  # SpeechBrain's pinned linters, run on the upstream layout
            "codespell>=2.3.0",
        ],
        # kept for old install commands: espeakng-loader is now a core dependency
        "mini": ["espeakng-loader>=0.2.4"],
    },
    entry_points={
        "console_scripts": [
            "m4t-adapters=speechbrain_m4t_adapters.cli:main",
        ]
    },
)
