"""Files that other processes may read while they are written.

Experiments of one language share their manifest folder, so two runs started
together may prepare the same manifest. :func:`atomic_write` makes a reader
see either the old file or the complete new one, never a half-written one;
``filelock.FileLock`` on ``<manifest>.lock`` lets only one process prepare at
a time (the others wait, then find the manifest ready and reuse it).
"""

from __future__ import annotations

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
