"""One experiment folder, one run, one configuration.

:func:`exclusive_run` locks the output folder: a second run into it stops at once, naming the
holder. :func:`check_settings` records every setting that changes results in ``settings.json``; a
rerun with other values is an error naming the keys unless ``--start_fresh=True`` moves the old run
aside (the :data:`RESUMABLE` keys may change).
"""

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ruamel.yaml
from filelock import FileLock, Timeout

from ..data.atomic import atomic_write

SETTINGS_NAME = "settings.json"
LOCK_NAME = ".run.lock"
OWNER_NAME = ".run.owner"
#: Keys that may differ from the run that made the folder: they extend training, choose what is
#: decoded at test time, or only change speed and memory (same numbers).
RESUMABLE = frozenset(
    "number_of_epochs redo_test start_fresh "  # more training
    "test_sets forgetting_sets compare_base test_search test_dataloader_opts "  # what is decoded
    "max_decode_seconds extra_normalizers "  # and how
    "num_workers cpu_threads tensorboard hf_cache activation_checkpointing frozen_cache "
    "frozen_cache_max_gb hparams_file repo_root".split()  # speed, memory, places
)


class RunFolderError(RuntimeError):
    """The output folder belongs to another run (a running process, or other settings)."""


@contextmanager
def exclusive_run(folder: str | Path) -> Iterator[None]:
    """Hold ``<folder>/.run.lock`` while the body runs; a second holder fails at once.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with exclusive_run(folder):
    ...     print((folder / OWNER_NAME).read_text().startswith("pid "))
    True
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        owner_file = folder / OWNER_NAME
        owner = owner_file.read_text(encoding="utf-8").strip() if owner_file.exists() else "?"
        raise RunFolderError(
            f"{folder} is in use by another run ({owner}): wait for it to finish, or give this run "
            "another --output_folder"
        ) from None
    try:
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        (folder / OWNER_NAME).write_text(f"pid {os.getpid()} on {socket.gethostname()}, since {since}\n")
        yield
    finally:
        lock.release()


def _canonical(node) -> str:
    """One-line text of a YAML node with its tags and without comments or layout."""
    tag = getattr(getattr(node, "tag", None), "value", None)
    prefix = f"{tag} " if tag else ""
    if isinstance(node, dict):
        return prefix + "{" + ", ".join(f"{k}: {_canonical(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return prefix + "[" + ", ".join(_canonical(v) for v in node) + "]"
    return prefix + str(getattr(node, "value", node))


def settings_of(merged_yaml: str) -> dict[str, str]:
    """Top-level key -> its value as one line of text, for the keys not in :data:`RESUMABLE`.

    Example
    -------
    >>> settings_of("lr: 0.1  # peak\\nnumber_of_epochs: 3\\nadapters: {enc: !new:x.Y {n: 4}}\\n")
    {'adapters': '{enc: !new:x.Y {n: 4}}', 'lr': '0.1'}
    """
    tree = ruamel.yaml.YAML().load(merged_yaml) or {}
    return {str(key): _canonical(tree[key]) for key in sorted(tree) if key not in RESUMABLE}


def check_settings(folder: str | Path, merged_yaml: str, start_fresh: bool, moved: list[str]) -> None:
    """Refuse to mix this run's settings with an older run's in ``folder``, or move ``moved`` (names
    in ``folder``) aside with ``start_fresh``; records the settings in ``settings.json``."""
    folder = Path(folder)
    record, current = folder / SETTINGS_NAME, settings_of(merged_yaml)
    if record.exists():
        before = json.loads(record.read_text(encoding="utf-8"))
        changed = sorted(k for k in before.keys() | current.keys() if before.get(k) != current.get(k))
        if changed and not start_fresh:
            details = "; ".join(
                f"{k}: {before.get(k, '(unset)')!r} -> {current.get(k, '(unset)')!r}" for k in changed
            )
            raise RunFolderError(
                f"{folder} holds a run with other settings ({details}). Resuming would mix the two. "
                "Give this run another --output_folder (or --output_root / --seed), or pass "
                "--start_fresh=True to move the old run aside. May change on resume: "
                + ", ".join(sorted(RESUMABLE))
            )
        aside = folder / time.strftime("replaced-%Y%m%d-%H%M%S")  # moved, never deleted
        for name in moved if changed else []:
            if (folder / name).exists():
                aside.mkdir(exist_ok=True)
                shutil.move(str(folder / name), str(aside / name))
    with atomic_write(record, encoding="utf-8") as handle:
        json.dump(current, handle, indent=1, ensure_ascii=False)
