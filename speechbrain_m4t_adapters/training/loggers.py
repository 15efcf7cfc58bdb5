"""Training loggers: the YAML's file logger, plus TensorBoard when switched on."""

from pathlib import Path
from typing import Any

from speechbrain.utils.train_logger import TensorboardLogger, TrainLogger


class FanOutLogger(TrainLogger):
    """Send every ``log_stats`` call to several SpeechBrain loggers.

    Example
    -------
    >>> class Recorder(TrainLogger):
    ...     def __init__(self):
    ...         self.calls = []
    ...     def log_stats(self, stats_meta, **kwargs):
    ...         self.calls.append(stats_meta)
    >>> a, b = Recorder(), Recorder()
    >>> FanOutLogger([a, b]).log_stats({"epoch": 1}, valid_stats={"loss": 1.0})
    >>> a.calls == b.calls == [{"epoch": 1}]
    True
    """

    def __init__(self, loggers: list[TrainLogger]) -> None:
        self.loggers = list(loggers)

    def log_stats(self, stats_meta: dict, train_stats=None, valid_stats=None, test_stats=None, verbose=False):
        """Forward to every logger."""
        stats = dict(train_stats=train_stats, valid_stats=valid_stats, test_stats=test_stats)
        for logger in self.loggers:
            logger.log_stats(stats_meta, verbose=verbose, **stats)


def _numbers(stats: dict | None) -> dict | None:
    if stats is None:
        return None
    return {k: v for k, v in stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class NumericTensorboardLogger(TensorboardLogger):
    """SpeechBrain's TensorboardLogger, fed only numbers (TensorBoard scalars hold no text); test
    statistics are tagged with the test-set name (``WER_bengali/test``): sets do not overwrite."""

    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=False):
        """Log the numeric statistics only."""
        name = stats_meta.get("test set")
        if name is not None and test_stats is not None:
            test_stats = {f"{k}_{name}": v for k, v in test_stats.items()}
        stats = (stats_meta, train_stats, valid_stats, test_stats)
        super().log_stats(*(_numbers(part) for part in stats), verbose)


def with_tensorboard(hparams: dict[str, Any]) -> TrainLogger:
    """``hparams["train_logger"]``, fanned out to TensorBoard (``tensorboard_folder``) if ``tensorboard``."""
    logger = hparams["train_logger"]
    if not hparams.get("tensorboard"):
        return logger
    folder = Path(hparams.get("tensorboard_folder") or Path(hparams["output_folder"]) / "tensorboard")
    try:
        board = NumericTensorboardLogger(str(folder))
    except ImportError as error:
        raise ImportError(
            "tensorboard: True needs the tensorboard package: pip install tensorboard"
        ) from error
    return FanOutLogger([logger, board])
