"""Files that other processes may read while they are written: atomic replace and a lock.

Experiments of one language share their manifest folder, so two runs started
together may prepare the same manifest. :func:`atomic_write` makes a reader
see either the old file or the complete new one, never a half-written one,
and :func:`file_lock` lets only one process prepare at a time (the others
wait, then find the manifest ready and reuse it).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success fsync it and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "m.csv"
    >>> with atomic_write(path, encoding="utf-8") as f:
    ...     _ = f.write("ID\\n")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('ID\\n', ['m.csv'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


@contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (blocking) for the ``with`` block.

    Example
    -------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "train.csv"
    >>> with file_lock(target):
    ...     (target.parent / "train.csv.lock").exists()
    True
    """
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
