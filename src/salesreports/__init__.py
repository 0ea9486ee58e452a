"""salesreports: per-rep, per-period sales scorecards from CRM data.

The public API is small and imported lazily, so that ``salesreports --help``
and ``import salesreports`` stay fast::

    import salesreports as sr
    data = sr.load_dataset("params/sources/demo.yaml")
    table = sr.compute_kpis(data)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Dataset": "salesreports.data",
    "load_dataset": "salesreports.data",
    "check": "salesreports.validate",
    "validate": "salesreports.validate",
    "compute_kpis": "salesreports.engine",
    "KpiTable": "salesreports.engine",
    "registry": "salesreports.kpis",
    "load_config": "salesreports.params",
    "parse_period": "salesreports.periods",
    "SalesReportsError": "salesreports.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'salesreports' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
