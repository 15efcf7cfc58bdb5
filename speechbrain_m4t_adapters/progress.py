"""Progress bars on long steps that stay quiet in CI and logs.

A bar is shown when stderr is a terminal and no ``CI`` variable is set; ``M4T_PROGRESS=1`` forces
bars on, ``M4T_PROGRESS=0`` off (SpeechBrain's training/evaluation bars in ``run_experiment`` too).
"""

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

ENV_VAR = "M4T_PROGRESS"


def progress_enabled(requested: bool | None = None) -> bool:
    """Whether to draw progress bars: ``requested`` is the caller's choice (e.g. a ``--no-progress``
    flag; None = automatic), which ``M4T_PROGRESS`` overrides.

    Example
    -------
    >>> os.environ[ENV_VAR] = "0"
    >>> progress_enabled(True)
    False
    >>> del os.environ[ENV_VAR]
    """
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced in ("0", "false", "no", "off", "1", "true", "yes", "on"):
        return forced in ("1", "true", "yes", "on")
    return requested if requested is not None else sys.stderr.isatty() and not os.environ.get("CI")


def progress_bar(iterable: Iterable | None = None, requested: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, disabled unless :func:`progress_enabled`.

    Example
    -------
    >>> sum(progress_bar(range(3), requested=False, desc="counting"))
    3
    """
    kwargs = {"file": sys.stderr, "dynamic_ncols": True, **kwargs}
    return tqdm(iterable, disable=not progress_enabled(requested), **kwargs)


__all__ = ["ENV_VAR", "progress_bar", "progress_enabled"]
