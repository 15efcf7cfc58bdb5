"""Saved adapter folders (*profiles*) side by side on one base model: switching one only flips which
sets run; a profile saved with a ``language`` is picked by a call in that language."""

import re
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..adapters import read_metadata
from ..adapters.io import METADATA_NAME
from ..adapters.sets import NAME_PATTERN
from ..lobe import SeamlessM4T

#: Values of ``adapters=`` that mean "the base model alone".
NO_ADAPTERS = ("none", "base")


def safe_name(text: str) -> str:
    """``text`` with every run of other characters replaced by ``_`` (``adapters`` if nothing is left).

    Example
    -------
    >>> safe_name("odia encoder/1"), safe_name("***")
    ('odia_encoder_1', 'adapters')
    """
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", text).strip("_") or "adapters"


@dataclass
class AdapterProfile:
    """One loaded adapter folder: its ``sets`` as attached (``<name>-<saved name>``), the ``language``
    they were trained for and the folder's ``adapters.json`` (``metadata``)."""

    name: str
    folder: str
    sets: list[str]
    language: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)


class AdapterProfiles:
    """Load, select and drop adapter profiles on the :class:`SeamlessM4T` ``m4t``."""

    def __init__(self, m4t: SeamlessM4T) -> None:
        self.m4t = m4t
        self.profiles: dict[str, AdapterProfile] = {}

    def load(self, folder: str | Path, name: str | None = None, activate: bool = False) -> AdapterProfile:
        """Attach every set saved in ``folder`` as profile ``name`` (default: the folder's name).

        Raises FileNotFoundError (no adapter files), AdapterMismatchError (saved for another
        base) or ValueError (unreadable files, an unknown ``language``, a name in use)."""
        folder = Path(folder)
        metadata = read_metadata(folder)
        if name is None:
            name = self._free_name(safe_name(folder.resolve().name))
        elif not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(f"adapter profile name {name!r}: use letters, digits, '_' or '-'")
        elif name in self.profiles:
            raise ValueError(
                f"adapter profile {name!r} is already loaded (from {self.profiles[name].folder})"
            )
        language = metadata.get("language")
        if language is not None:
            try:
                language = self.m4t.languages.normalize(language)
            except ValueError as error:
                raise ValueError(f"{folder / METADATA_NAME}: field 'language': {error}") from error
        # The one loader of adapter folders (training uses it too); sets are attached as
        # <profile>-<set> so two folders holding a set of the same name coexist.
        attached = self.m4t.load_adapters(folder, activate=False, trainable=False, prefix=f"{name}-")
        self.m4t.eval()  # new modules start in train mode; inference needs dropout off
        profile = self.profiles[name] = AdapterProfile(name, str(folder), attached, language, metadata)
        if activate:
            self.m4t.adapters.set_active(attached)
        return profile

    def _free_name(self, base: str) -> str:
        name, i = base, 1
        while name in self.profiles:
            i += 1
            name = f"{base}_{i}"
        return name

    def unload(self, name: str) -> None:
        """Detach profile ``name`` and free its weights."""
        if name not in self.profiles:
            raise KeyError(f"no adapter profile {name!r}; loaded: {sorted(self.profiles) or 'none'}")
        for set_name in self.profiles[name].sets:
            self.m4t.adapters.remove(set_name)
        del self.profiles[name]

    def resolve(self, names: str | Sequence[str] | None) -> list[str]:
        """Profile and/or attached set names -> attached set names, in order (``None``, ``[]``,
        ``"none"``, ``"base"``: ``[]``, the base alone)."""
        if names is None or (isinstance(names, str) and names.lower() in NO_ADAPTERS):
            return []
        if isinstance(names, str):
            names = [n for n in names.split(",") if n.strip()]
        result: list[str] = []
        for name in names:
            name = name.strip()
            if name in self.profiles:
                result.extend(self.profiles[name].sets)
            elif name in self.m4t.adapters.sets:
                result.append(name)
            else:
                raise KeyError(
                    f"unknown adapters {name!r}; loaded profiles: {sorted(self.profiles) or 'none'}, "
                    f"attached sets: {sorted(self.m4t.adapters.sets) or 'none'}"
                )
        return list(dict.fromkeys(result))

    def for_language(self, lang: str) -> list[str]:
        """Set names of every profile trained for ``lang`` (load order)."""
        return [s for p in self.profiles.values() if p.language == lang for s in p.sets]

    def languages_of(self, set_names: Iterable[str]) -> list[str]:
        """Languages of the profiles owning ``set_names`` (first seen first)."""
        langs = {s: p.language for p in self.profiles.values() if p.language for s in p.sets}
        return list(dict.fromkeys(langs[s] for s in set_names if s in langs))

    @contextmanager
    def using(self, set_names: Sequence[str]):
        """Run a block with exactly ``set_names`` active, then restore the previous ones."""
        previous = list(self.m4t.adapters.active)
        self.m4t.adapters.set_active(set_names)
        try:
            yield
        finally:
            self.m4t.adapters.set_active(previous)
