"""Training: the shared Brain, datasets/loaders, experiment hyperparameters, the recipe runner."""

from .brain import AdapterBrain, TrainClock
from .datasets import InterleavedBatchSampler, asr_dataset, mixed_loader, text_dataset
from .hparams import load_experiment
from .recipe import run_experiment

__all__ = [
    "AdapterBrain",
    "InterleavedBatchSampler",
    "TrainClock",
    "asr_dataset",
    "load_experiment",
    "mixed_loader",
    "run_experiment",
    "text_dataset",
]
