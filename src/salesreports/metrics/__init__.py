"""The metrics layer: every KPI for every rep, team and the company, and what is built on them.

Owns the KPI registry (``kpis`` + ``kpis.yaml``) and what it can name (``measures``), the engine
(``engine``), period labels (``periods``), team benchmarks, trends and ramp (``benchmarks``), SMART
goals (``goals``) and training needs and incentives (``coaching``). May import ``data`` and the
top-level ``errors``, ``paths``, ``yamlio`` and ``params``; never ``report``, ``run`` or ``mail``.
"""

from __future__ import annotations

from salesreports.lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "KpiTable": "salesreports.metrics.engine",
        "compute_kpis": "salesreports.metrics.engine",
        "Kpi": "salesreports.metrics.kpis",
        "registry": "salesreports.metrics.kpis",
        "Period": "salesreports.metrics.periods",
        "parse_period": "salesreports.metrics.periods",
        "load_goals": "salesreports.metrics.goals",
        "check_goals": "salesreports.metrics.goals",
        "goal_progress": "salesreports.metrics.goals",
    },
)
