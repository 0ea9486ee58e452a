"""The run layer: planning a batch and producing its reports.

``batch`` plans params × reps × periods, writes the contexts and runs the jobs; ``jobs`` is one job and
its notebook's execution; ``zygote`` the warm process that forks a child per report; ``worker`` one report
from job to pages in a worker process; ``local`` the pool of workers on this machine; ``distributed`` the
same jobs on a dask.distributed cluster; ``nbengine`` the in-process papermill engine; ``notebooks`` template
checks and scaffolding; ``manifest`` the run's record. May import ``data``, ``metrics`` and ``report``; never ``mail``.
"""

from __future__ import annotations

from salesreports.lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "run_reports": "salesreports.run.batch",
        "plan_period": "salesreports.run.batch",
        "Job": "salesreports.run.jobs",
        "JobResult": "salesreports.run.jobs",
        "LocalExecutor": "salesreports.run.local",
        "run_job": "salesreports.run.worker",
    },
)
