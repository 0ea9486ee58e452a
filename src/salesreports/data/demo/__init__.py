"""Deterministic demo CRM data in the canonical model (``salesreports demo-data``).

``generate`` is the entry point (arguments, summary), ``model`` the fictional sales organisation and every
random draw, ``output`` the tables streamed to CSV or Parquet and published atomically.
"""

from __future__ import annotations

from salesreports.lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "DEMO_TABLES": "salesreports.data.demo.output",
        "DemoSummary": "salesreports.data.demo.generate",
        "PRODUCTS": "salesreports.data.demo.model",
        "SEGMENTS": "salesreports.data.demo.model",
        "TEAMS": "salesreports.data.demo.model",
        "generate_demo": "salesreports.data.demo.generate",
    },
)
