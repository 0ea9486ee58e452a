"""Lazy public names for a package's ``__init__``: importing a package costs nothing until a name is used.

A report kernel imports ``salesreports.report.views``; Python imports every parent package first, so an
``__init__`` that imported its modules eagerly would load DuckDB, the engine and WeasyPrint into every
report. Each package instead lists its public names and the module that defines them::

    __getattr__, __dir__, __all__ = exports(__name__, {"load_dataset": "salesreports.data.loading"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for a package whose public names load on first use.

    Parameters
    ----------
    package : the package's ``__name__``
    names : public name -> the module that defines it

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)``, to assign in the package's ``__init__``.
    """
    public = sorted(names)

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module-level hook of PEP 562
        module = names.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return list(public)

    return __getattr__, __dir__, public
