"""salesreports: per-rep, per-period sales scorecards from CRM data.

The public API is small and imported lazily, so that ``salesreports --help``
and ``import salesreports`` stay fast::

    import salesreports as sr
    data = sr.load_dataset("params/sources/demo.yaml")
    table = sr.compute_kpis(data)
"""

from __future__ import annotations

from salesreports.lazy import exports

__version__ = "0.1.0"

_EXPORTS = {
    "Dataset": "salesreports.data.loading",
    "load_dataset": "salesreports.data.loading",
    "check": "salesreports.data.validate",
    "validate": "salesreports.data.validate",
    "compute_kpis": "salesreports.metrics.engine",
    "KpiTable": "salesreports.metrics.engine",
    "registry": "salesreports.metrics.kpis",
    "load_config": "salesreports.params",
    "parse_period": "salesreports.metrics.periods",
    "SalesReportsError": "salesreports.errors",
}

__getattr__, __dir__, _names = exports(__name__, _EXPORTS)
__all__ = sorted([*_names, "__version__"])
