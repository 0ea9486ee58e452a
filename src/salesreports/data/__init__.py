"""The data layer: from a CRM export to typed canonical tables, and every data rule.

Owns the canonical model (``schema``), raw reading (``readers``), source files and column mapping
(``mapping``), loading through the mapping (``loading``), validation (``validate``) and the demo data
generator (``demo``). May import only the top-level ``errors``, ``paths`` and ``yamlio``: never
``metrics``, ``report``, ``run`` or ``mail``, which build on it.
"""

from __future__ import annotations

from salesreports.lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "Dataset": "salesreports.data.loading",
        "load_dataset": "salesreports.data.loading",
        "SourceSpec": "salesreports.data.mapping",
        "load_source": "salesreports.data.mapping",
        "Report": "salesreports.data.validate",
        "check": "salesreports.data.validate",
        "validate": "salesreports.data.validate",
        "generate_demo": "salesreports.data.demo",
    },
)
