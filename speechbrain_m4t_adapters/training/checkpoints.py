"""Crash-safe checkpoints: each one is complete or absent, and recovery falls back.

SpeechBrain's ``Checkpointer`` writes into the final ``CKPT+...`` folder: a run killed mid-save
leaves a valid-looking folder that crashes every later resume. :class:`AtomicCheckpointer` saves
into ``.partial-CKPT+...``, fsyncs, then renames (atomic on POSIX); deletes by first renaming to
``.deleting-CKPT+...``; removes such leftovers at the next save; and on recovery skips, with a
warning, a checkpoint with an unreadable ``CKPT.yaml``, a missing file or a failing load.
"""

import logging
import os
import shutil
from pathlib import Path

import yaml
from speechbrain.utils.checkpoints import CKPT_PREFIX, METAFNAME, Checkpoint, Checkpointer
from speechbrain.utils.distributed import ddp_barrier, if_main_process, main_process_only

from ..data.atomic import explain_full_disk

logger = logging.getLogger(__name__)

PARTIAL_PREFIX = ".partial-"
DELETING_PREFIX = ".deleting-"


class CheckpointRecoveryError(RuntimeError):
    """Every candidate checkpoint failed to load after recoverables were modified."""


def _fsync(path: Path) -> None:
    """Flush a file or a folder (its entries) to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class AtomicCheckpointer(Checkpointer):
    """A SpeechBrain ``Checkpointer`` (same arguments and methods) whose checkpoints are complete or absent.

    Example
    -------
    >>> import tempfile, torch
    >>> folder = Path(tempfile.mkdtemp())
    >>> model = torch.nn.Linear(2, 2)
    >>> saver = AtomicCheckpointer(folder, recoverables={"model": model})
    >>> older = saver.save_checkpoint(meta={"loss": 2.0})
    >>> newer = saver.save_checkpoint(meta={"loss": 1.0})
    >>> sorted(p.name for p in newer.path.iterdir())
    ['CKPT.yaml', 'model.ckpt']
    >>> (newer.path / "model.ckpt").write_bytes(b"torn")  # damaged after the fact
    4
    >>> saver.recover_if_possible().path == older.path  # warns, falls back
    True
    """

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):  # noqa: B006
        """Save like SpeechBrain, into a hidden folder renamed into place once complete."""
        # SpeechBrain's main_process_only helpers are collectives under DDP (they broadcast
        # their result): every rank calls them, and only the main one does the work.
        self._remove_leftovers()
        final = None
        if if_main_process():
            final = self._new_checkpoint_dirpath() if name is None else self._custom_checkpoint_dirpath(name)
        self._pending_final = final
        try:  # SpeechBrain would log the hidden folder's name: we log the final one below
            saved = super().save_checkpoint(meta, end_of_epoch, name, verbosity=logging.DEBUG)
        except (OSError, RuntimeError) as error:
            explained = explain_full_disk(error, final or self.checkpoints_dir)
            if explained is error:
                raise
            raise explained from error
        finally:
            self._pending_final = None
        ddp_barrier()  # every rank's savers have finished writing
        finished = self._move_into_place(saved, final)
        if if_main_process():
            kind = "an end-of-epoch" if end_of_epoch else "an intra-epoch"
            logger.log(verbosity, "Saved %s checkpoint in %s", kind, finished.path)
        return finished if if_main_process() else None

    @main_process_only
    def _move_into_place(self, saved: Checkpoint, final: Path) -> Checkpoint:
        partial = saved.path
        for path in [*(p for p in sorted(partial.iterdir()) if p.is_file()), partial]:
            _fsync(path)
        if final.exists():  # a custom name saved again: move the old one out of sight first
            self._delete_checkpoint(Checkpoint(final, {}, {}), verbosity=logging.DEBUG)
        os.rename(partial, final)
        _fsync(final.parent)
        paramfiles = {key: final / path.name for key, path in saved.paramfiles.items()}
        return Checkpoint(final, saved.meta, paramfiles)

    def save_and_keep_only(self, *args, importance_keys=None, **kwargs):
        """SpeechBrain's, with a fresh ``importance_keys`` list per call (its default is a shared list
        that grows at every call: each save re-read more)."""
        return super().save_and_keep_only(*args, importance_keys=list(importance_keys or []), **kwargs)

    def _new_checkpoint_dirpath(self):
        return self._partial() or super()._new_checkpoint_dirpath()

    def _custom_checkpoint_dirpath(self, name):
        return self._partial() or super()._custom_checkpoint_dirpath(name)

    def _partial(self) -> Path | None:
        """The hidden folder of the save under way (inside ``super().save_checkpoint``)."""
        pending = getattr(self, "_pending_final", None)
        return None if pending is None else pending.with_name(PARTIAL_PREFIX + pending.name)

    @staticmethod
    @main_process_only
    def _delete_checkpoint(checkpoint, verbosity=logging.INFO):
        path = Path(checkpoint.path)
        if not path.name.startswith(CKPT_PREFIX) or not path.is_dir():
            raise RuntimeError(f"{path}: not a checkpoint folder; not deleting it")
        doomed = path.with_name(DELETING_PREFIX + path.name)
        os.rename(path, doomed)  # from here on the checkpoint is absent, never half there
        _fsync(path.parent)
        shutil.rmtree(doomed)
        logger.log(verbosity, f"Deleted checkpoint in {path}")

    @main_process_only
    def _remove_leftovers(self) -> None:
        for path in self.checkpoints_dir.iterdir():
            if path.is_dir() and path.name.startswith((PARTIAL_PREFIX, DELETING_PREFIX)):
                logger.warning("removing %s, left by a save or deletion that was interrupted", path)
                shutil.rmtree(path)

    def list_checkpoints(self):
        """Checkpoints whose ``CKPT.yaml`` reads as a mapping; others are skipped with a warning."""
        checkpoints = []
        for folder in self._list_checkpoint_dirs():
            try:
                (checkpoint,) = self._construct_checkpoint_objects([folder])  # SpeechBrain's reader
                if not isinstance(checkpoint.meta, dict) or "end-of-epoch" not in checkpoint.meta:
                    raise ValueError("not a checkpoint meta mapping")
            except (OSError, ValueError, yaml.YAMLError) as error:
                logger.warning("skipping checkpoint %s: unreadable %s (%s)", folder, METAFNAME, error)
                continue
            checkpoints.append(checkpoint)
        return checkpoints

    def recover_if_possible(self, importance_key=None, max_key=None, min_key=None, ckpt_predicate=None):
        """Load the best checkpoint that loads, skipping incomplete or unreadable ones with a warning; raise
        :class:`CheckpointRecoveryError` if none does after one failed midway (state may have changed)."""
        touched, skip = [], "skipping %s checkpoint %s (%s); trying the previous one"
        for checkpoint in self.find_checkpoints(importance_key, max_key, min_key, ckpt_predicate):
            if missing := self._missing_files(checkpoint):
                logger.warning(skip, "incomplete", checkpoint.path, f"no file for {', '.join(missing)}")
                continue
            try:
                self.load_checkpoint(checkpoint)
                return checkpoint
            except Exception as error:  # any loader failure: torn pickle, bad zip, wrong keys...
                reason = f"{type(error).__name__}: {error}"
                touched.append(f"{checkpoint.path}: {reason}")
                logger.warning(skip, "unreadable", checkpoint.path, reason)
        if touched:
            raise CheckpointRecoveryError(
                "no checkpoint could be loaded, and a failed attempt may have changed some state:\n"
                + "\n".join(touched)
                + "\ndelete or move away the folders above to start from scratch"
            )
        logger.info("Would load a checkpoint here, but none found yet.")
        return None

    def _missing_files(self, checkpoint) -> list[str]:
        """Recoverables without a parameter file (those that loading cannot skip)."""
        missing = [name for name in self.recoverables if name not in checkpoint.paramfiles]
        skipped = [n for n in missing if "dataloader" in n or self.optional_recoverables.get(n, False)]
        return [] if self.allow_partial_load else [name for name in missing if name not in skipped]
