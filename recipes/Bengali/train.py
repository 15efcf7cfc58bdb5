#!/usr/bin/env python3
"""Bengali recipe. Usage: python train.py hparams/<experiment>.yaml [--data_folder=...] [--smoke=True]

Everything about an experiment is in its YAML; the engine is
speechbrain_m4t_adapters.training.run_experiment.
"""

import sys

from speechbrain_m4t_adapters.training import run_experiment

if __name__ == "__main__":
    run_experiment(sys.argv[1:])
