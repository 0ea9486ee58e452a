"""Benchmark: every KPI for every rep, team and month, at every grain, on about 10 million deals.

``python -m salesreports.bench kpis`` (or ``make bench-kpis``) generates a demo data set as Parquet
(``generate_demo(scale=350)``: ~10.8 million deals, ~25 million leads, 44 reps, 36 months), caches it
under ``build/bench/``, loads it, runs :func:`salesreports.metrics.engine.compute_kpis`, prints the seconds
spent loading and computing and the peak memory of the process (``ru_maxrss``), compares them with the
targets (loading plus computing under 20 s, computing alone under 20 s, peak under 4 GiB) and writes
``build/bench/kpis.json``. The baseline, measured in the same run in a child process: reading the same
columns of the same Parquet files with pyarrow, no checks (the ``pyarrow`` loader below); the load is
printed as a ratio to it.

The data set is generated in a child process, so its memory does not count. Loaders:

- ``dataset`` (default): the product's path, :func:`~salesreports.data.loading.load_dataset` with
  ``columns=``:data:`~salesreports.metrics.engine.COLUMNS` (only the columns ``compute_kpis`` reads; mapping,
  typing and checks in DuckDB);
- ``whole``: ``load_dataset`` of every canonical column, as a report run loads it (validation needs them all);
- ``pyarrow``: the same columns straight from Parquet with pyarrow, no checks: the floor, for comparison.

Exit code 0 when the targets are met, 1 when not, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from salesreports.run.processes import usable_cores

__all__ = ["TARGET_BYTES", "TARGET_SECONDS", "main"]

TARGET_SECONDS = 20.0
TARGET_BYTES = 4 * 2**30
TABLES = ("reps", "deals", "leads", "activities", "targets")
LOADERS = ("dataset", "whole", "pyarrow")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m salesreports.bench kpis", description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=350.0, help="demo deal volume multiplier (350: ~10.8M deals)")
    p.add_argument("--months", type=int, default=36, help="months of data (default 36)")
    p.add_argument("--seed", type=int, default=7, help="random seed of the demo generator")
    p.add_argument("--out", type=Path, default=Path("build/bench"), help="cache and result folder")
    p.add_argument("--loader", choices=LOADERS, default="dataset", help="how to load the data (see above)")
    p.add_argument("--fresh", action="store_true", help="regenerate the data set even if it is cached")
    p.add_argument("--profile", action="store_true", help="print the 20 costliest functions of compute_kpis")
    p.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--floor-only", action="store_true", help=argparse.SUPPRESS)
    return p


def _peak_bytes() -> int:
    """Peak resident set size of this process so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _data_dir(args: argparse.Namespace) -> Path:
    scale = f"{args.scale:g}".replace(".", "p")
    return Path(args.out) / f"kpis-data-s{scale}-m{args.months}-seed{args.seed}"


def _stamp(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".json")


def _generate(args: argparse.Namespace, data_dir: Path) -> dict[str, int]:
    """Write the demo data set as Parquet (runs in the child process)."""
    from salesreports.data.demo import generate_demo

    summary = generate_demo(data_dir, seed=args.seed, scale=args.scale, months=args.months, fmt="parquet")
    rows = {k: int(v) for k, v in summary.rows.items()}
    params = {"scale": args.scale, "months": args.months, "seed": args.seed}
    _stamp(data_dir).write_text(json.dumps({"params": params, "rows": rows}, indent=2), encoding="utf-8")
    return rows


def _cached_rows(args: argparse.Namespace, data_dir: Path) -> dict[str, int] | None:
    stamp = _stamp(data_dir)
    if not stamp.exists() or not all((data_dir / f"{t}.parquet").exists() for t in TABLES):
        return None
    info = json.loads(stamp.read_text(encoding="utf-8"))
    if info.get("params") != {"scale": args.scale, "months": args.months, "seed": args.seed}:
        return None
    return {k: int(v) for k, v in info["rows"].items()}


def _load_pyarrow(data_dir: Path) -> Any:
    import pyarrow.parquet as pq

    from salesreports.data.loading import Dataset
    from salesreports.metrics.engine import COLUMNS

    tables = {}
    for name in TABLES:
        table = pq.read_table(data_dir / f"{name}.parquet", columns=list(COLUMNS[name]))
        tables[name] = table.to_pandas(date_as_object=False, self_destruct=True, split_blocks=True)
        del table
    return Dataset(tables=tables, source="bench")


def _floor_seconds(args: argparse.Namespace) -> float:
    """The baseline: seconds a child process takes to read the engine's columns with pyarrow."""
    cmd = [sys.executable, "-m", "salesreports.bench", "kpis", "--floor-only", "--scale", str(args.scale),
           "--months", str(args.months), "--seed", str(args.seed), "--out", str(args.out)]  # fmt: skip
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def _load_dataset(data_dir: Path, *, whole: bool = False) -> Any:
    from salesreports.data.loading import load_dataset
    from salesreports.metrics.engine import COLUMNS

    source = data_dir.with_name(data_dir.name + ".source.yaml")
    lines = [f"name: bench\nbase_dir: {data_dir.name}\ntables:"]
    lines += [f"  {t}: {{file: {t}.parquet}}" for t in TABLES]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_dataset(source, columns=None if whole else COLUMNS)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 when the targets are met, 1 when not, 2 on bad arguments."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    data_dir = _data_dir(args)
    if args.generate_only:
        _generate(args, data_dir)
        return 0
    if args.floor_only:  # the baseline's child: seconds to read the engine's columns with pyarrow
        t = time.perf_counter()
        _load_pyarrow(data_dir)
        print(json.dumps({"seconds": time.perf_counter() - t}))
        return 0
    Path(args.out).mkdir(parents=True, exist_ok=True)
    rows = None if args.fresh else _cached_rows(args, data_dir)
    generated = None
    if rows is None:
        print(f"generating {data_dir} (scale {args.scale:g}, {args.months} months) in a child process ...")
        t = time.perf_counter()
        cmd = [sys.executable, "-m", "salesreports.bench", "kpis", "--generate-only", "--scale", str(args.scale),
               "--months", str(args.months), "--seed", str(args.seed), "--out", str(args.out)]  # fmt: skip
        subprocess.run(cmd, check=True)
        generated = time.perf_counter() - t
        rows = _cached_rows(args, data_dir)
        assert rows is not None
    else:
        print(f"reusing {data_dir}")

    floor = _floor_seconds(args)
    from salesreports.metrics.engine import compute_kpis

    baseline = _peak_bytes()
    t0 = time.perf_counter()
    if args.loader == "pyarrow":
        data = _load_pyarrow(data_dir)
    else:
        data = _load_dataset(data_dir, whole=args.loader == "whole")
    t1 = time.perf_counter()
    after_load = _peak_bytes()
    c1 = time.process_time()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        table = profiler.runcall(compute_kpis, data)
    else:
        table = compute_kpis(data)
    t2 = time.perf_counter()
    cpu = time.process_time() - c1
    peak = _peak_bytes()
    values = table.values
    result = {
        "data": {"dir": str(data_dir), "rows": rows, "generated_seconds": generated, "loader": args.loader},
        "grid": {
            "reps": len(table.grid.reps),
            "teams": len(table.grid.teams),
            "months": len(table.grid.months),
            "kpis": int(values["kpi"].nunique()),
            "grains": sorted(values["grain"].unique().tolist()),
            "values": len(values),
            "available": int(values["value"].notna().sum()),
        },
        "seconds": {
            "load": round(t1 - t0, 3),
            "compute": round(t2 - t1, 3),
            "load_and_compute": round(t2 - t0, 3),
            "compute_cpu": round(cpu, 3),
            "baseline_pyarrow_read": round(floor, 3),
            "load_vs_baseline": round((t1 - t0) / floor, 2) if floor > 0 else None,
        },
        "peak_rss_bytes": {"baseline": baseline, "after_load": after_load, "after_compute": peak},
        "targets": {
            "load_and_compute_seconds": TARGET_SECONDS,
            "compute_seconds": TARGET_SECONDS,
            "peak_rss_bytes": TARGET_BYTES,
        },
        "met": {
            "load_and_compute_seconds": t2 - t0 < TARGET_SECONDS,
            "compute_seconds": t2 - t1 < TARGET_SECONDS,
            "peak_rss_bytes": peak < TARGET_BYTES,
        },
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": usable_cores()},
    }
    out = Path(args.out) / "kpis.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = all(result["met"].values())
    lines = [
        f"data      {rows.get('deals', 0):,} deals, {rows.get('leads', 0):,} leads, "
        f"{rows.get('activities', 0):,} activities ({args.loader} loader)",
        f"grid      {len(table.grid.reps)} reps, {len(table.grid.teams)} teams, {len(table.grid.months)} months, "
        f"{result['grid']['kpis']} KPIs x {len(result['grid']['grains'])} grains = {len(values):,} values",
        f"baseline  {floor:7.2f} s   reading the same columns with pyarrow, no checks (a child process)",
        f"load      {t1 - t0:7.2f} s   {(t1 - t0) / max(floor, 1e-9):.2f} x the baseline"
        f"   (peak RSS {_gib(after_load)})",
        f"compute   {t2 - t1:7.2f} s   target < {TARGET_SECONDS:g} s   {_verdict(result, 'compute_seconds')}"
        f"   (CPU {cpu:.2f} s; load average {os.getloadavg()[0]:.1f} on {usable_cores()} CPUs)",
        f"both      {t2 - t0:7.2f} s   target < {TARGET_SECONDS:g} s   {_verdict(result, 'load_and_compute_seconds')}"
        f"   ({(t2 - t0) / max(floor, 1e-9):.2f} x the baseline)",
        f"peak RSS  {_gib(peak)}   target < {_gib(TARGET_BYTES)}   {_verdict(result, 'peak_rss_bytes')}",
        f"written   {out}",
    ]  # fmt: skip
    print("\n".join(lines))
    if args.profile:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(20)
    return 0 if ok else 1


def _verdict(result: dict[str, Any], key: str) -> str:
    return "ok" if result["met"][key] else "MISSED"
