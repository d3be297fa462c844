"""Lazy re-exports for the top-level package (PEP 562).

``import agentpatterns.checkpoint`` runs ``agentpatterns/__init__.py`` first; importing every
pattern there would cost a process resuming after ``kill -9`` 140-320 ms of imports it does not
need. The package maps each re-exported name to its module and imports it on first access.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: MutableMapping[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package that re-exports ``names`` (name -> module).

    The first access imports the module and caches the value in ``namespace``, so later
    accesses are plain attribute lookups.
    """
    package = namespace.get("__name__", "package")

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *names})

    return getattr_, dir_
