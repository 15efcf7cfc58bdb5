"""Progress bars on long steps that stay quiet in CI and logs.

A bar is shown when stderr is a terminal and no ``CI`` variable is set;
``M4T_PROGRESS=1`` forces bars on, ``M4T_PROGRESS=0`` off (this also turns off
SpeechBrain's training/evaluation bars in :func:`~.training.run_experiment`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

ENV_VAR = "M4T_PROGRESS"


def progress_enabled(requested: bool | None = None) -> bool:
    """Whether to draw progress bars.

    Arguments
    ---------
    requested : bool, optional
        The caller's choice (e.g. a ``--no-progress`` flag); None = automatic.
        ``M4T_PROGRESS`` overrides it.

    Example
    -------
    >>> os.environ[ENV_VAR] = "0"
    >>> progress_enabled(True)
    False
    >>> del os.environ[ENV_VAR]
    """
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced in ("0", "false", "no", "off"):
        return False
    if forced in ("1", "true", "yes", "on"):
        return True
    if requested is not None:
        return requested
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress_bar(iterable: Iterable | None = None, requested: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, disabled unless :func:`progress_enabled`.

    Example
    -------
    >>> sum(progress_bar(range(3), requested=False, desc="counting"))
    3
    """
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=not progress_enabled(requested), **kwargs)


__all__ = ["ENV_VAR", "progress_bar", "progress_enabled"]
