"""Lazy package attributes (PEP 562): names imported from a submodule on first use, so that light
entry points (``m4t-adapters --help``, ``inspect``) do not pay for importing torch and speechbrain.
"""

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, table: dict[str, str], names: dict[str, Any]) -> tuple[Callable, Callable]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package`` resolving ``table`` lazily.

    ``package`` is the package's ``__name__`` (relative submodules are resolved against it);
    ``table`` maps attribute name -> submodule (e.g. ``{"SeamlessM4T": ".model"}``); ``names`` is
    the package's ``globals()`` (listed by ``__dir__`` beside the lazy names).

    Example
    -------
    >>> getattr_, dir_ = lazy_exports("json", {"JSONDecoder": ".decoder"}, {})
    >>> getattr_("JSONDecoder").__name__, dir_()
    ('JSONDecoder', ['JSONDecoder'])
    """

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(names) | set(table))

    return __getattr__, __dir__
