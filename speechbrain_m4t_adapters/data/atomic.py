"""Files that other processes may read while they are written.

Experiments of one language share their manifest folder, so two runs started together may prepare
the same manifest. :func:`atomic_write` makes a reader see either the old file or the complete new
one; ``filelock.FileLock`` on ``<manifest>.lock`` lets one process prepare at a time (the others wait,
then find the manifest ready and reuse it)."""

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def explain_full_disk(error: BaseException, path: str | os.PathLike) -> BaseException:
    """``error`` as an ``OSError(ENOSPC)`` naming ``path`` and the free space, when the disk is full.

    Other errors come back unchanged.

    Example
    -------
    >>> print(explain_full_disk(RuntimeError("basic_ios::clear: iostream error"), "/")) # doctest: +ELLIPSIS
    [Errno 28] No space left on device while writing /: ... MB free on that disk ...
    """
    markers = ("No space left", "iostream error")  # the latter: how libtorch's writer reports ENOSPC
    if getattr(error, "errno", None) != errno.ENOSPC and not any(m in str(error) for m in markers):
        return error
    where = Path(path)
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free / 1e6
    return OSError(
        errno.ENOSPC,
        f"No space left on device while writing {path}: {free:,.0f} MB free on that disk "
        f"({error}). Free some space (or write elsewhere) and run the same command again: it resumes",
    )


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
    except OSError as error:
        raise explain_full_disk(error, path) from error
    finally:
        if temporary.exists():
            temporary.unlink()
