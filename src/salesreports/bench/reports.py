"""Benchmark: the same batch of rep scorecards (HTML + PDF) made four ways, against the floor.

``python -m salesreports.bench reports [--reps 40]`` (``make bench``) runs, in one go, on the data and
templates of the settings file (the demo by default):

``naive``
    the loop a user would write: per rep, one after the other, the ``papermill`` CLI (a new kernel),
    ``jupyter nbconvert --to html --no-input``, then the ``weasyprint`` CLI. To be generous to it, the
    reps' contexts are written once beforehand (by the runner's own planning; that time is added to its
    total), so its notebooks do not each reload the data set.
``fresh``
    ``salesreports run --mode fresh`` (a new kernel per report, 2 workers), as the CLI calls it.
``fast``
    ``salesreports run --mode fast`` (warm workers, a forked child per report), as the CLI calls it.
``fast_prestart``
    the fast mode with the workers started before the data is loaded (``LocalExecutor.start()``), so
    they warm up while the runner loads data and plans.

and the **floor**: the cells plus the rendering alone, in one warm process (everything imported, the
renderer warm, one report run before timing), no isolation, no parallelism.

Each mode runs in a child process of its own, so its peak memory is its own: ``ru_maxrss`` of the mode's
main process and of its largest descendant, and the peak of the summed proportional set size (PSS) of the
whole process tree, sampled every 0.25 s (shared pages counted once). Read the PSS: Linux keeps a process's
``ru_maxrss`` across ``exec``, so a worker started after the runner loaded the data reports at least the
runner's size then. It prints per-report seconds, reports per minute, CPU seconds, peak memory, the
speed-up over the naive loop and the ratio to the floor, the time ``salesreports --help`` takes, and
writes ``build/bench/results.json``.

Optionally (``--plan-reps 1000,5000,20000``, alone with ``--plan-only``: ``make bench-plan``) it times planning a
large organisation: the contexts, jobs, manifest and index of N reps (the demo generator's reps cloned into more
teams, 14 months; the data sets are cached under the output folder), with the KPI table computed from the cloned
data, each count in a child process of its own. It prints the curve (seconds, peak PSS, and both per rep relative
to the smallest count: 1.00 is linear growth) and checks the targets at 5,000 reps (``PLAN_TARGETS``).

Exit code 0 when the targets are met, 1 when not, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from salesreports.run.processes import usable_cores

__all__ = ["MODES", "TARGETS", "main"]

MODES = ("naive", "fresh", "fast", "fast_prestart")
RUNNER_MODES = ("fresh", "fast", "fast_prestart")
TARGETS = {"fast_vs_naive": 10.0, "fast_to_floor": 2.0, "fresh_vs_naive": 2.0, "help_seconds": 0.5}
# planning an organisation of PLAN_TARGET_REPS reps: peak memory of the process tree (PSS) and wall time
PLAN_TARGET_REPS = 5000
PLAN_TARGETS = {"plan_peak_gib": 3.0, "plan_seconds": 60.0}
DEFAULT_REPS = 40


def _memory_gib() -> float:
    """This machine's memory (``MemTotal``), 0 when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _counts(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m salesreports.bench reports", description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=DEFAULT_REPS, help=f"rep scorecards per mode (default {DEFAULT_REPS})")
    p.add_argument("--params", type=Path, default=Path("params/config.yaml"), help="settings file (data, templates)")
    p.add_argument("--period", default=None, help="the month (default: the latest complete month in the data)")
    p.add_argument("--workers", type=int, default=2, help="workers of the runner modes (default 2)")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    p.add_argument("--out", type=Path, default=Path("build/bench"), help="output folder")
    p.add_argument("--plan-reps", type=_counts, default=[], help="also time planning N reps (e.g. 5000 or 1250,5000)")
    p.add_argument("--plan-only", action="store_true", help="only time planning (with --plan-reps)")
    p.add_argument(
        "--plan-limit-gib",
        type=float,
        default=round(0.8 * _memory_gib(), 1),
        help="stop a planning run whose process tree passes this PSS (default: 80%% of this machine's memory)",
    )
    p.add_argument("--child", default="", help=argparse.SUPPRESS)
    p.add_argument("--spec", type=Path, default=None, help=argparse.SUPPRESS)
    return p


# ------------------------------------------------------------------------------------------------ measuring


def _maxrss_mb(who: int) -> float:
    peak = resource.getrusage(who).ru_maxrss
    return round((peak / 2**20 if sys.platform == "darwin" else peak / 1024), 1)


def _cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 2)


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreeMemory(threading.Thread):
    """Samples the summed PSS of this process and all its descendants; ``peak_mb`` after ``stop()``."""

    def __init__(
        self, interval: float = 0.25, limit_kb: int = 0, on_limit: Callable[[int], None] | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = 0
        self.peak_processes = 0
        self.limit_kb = limit_kb  # when the tree's PSS goes above it, on_limit(peak_kb) is called (once)
        self.on_limit = on_limit
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids = _descendants(os.getpid())
            total = sum(_pss_kb(p) for p in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, len(pids)
            if self.limit_kb and total > self.limit_kb and self.on_limit is not None:
                self.on_limit(self.peak_kb)
                return
            self._stop_event.wait(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return round(self.peak_kb / 1024, 1)


def _memory(sampler: TreeMemory) -> dict[str, float]:
    return {
        "tree_pss_peak_mb": sampler.stop(),
        "tree_processes_at_peak": sampler.peak_processes,
        "main_maxrss_mb": _maxrss_mb(resource.RUSAGE_SELF),
        "largest_child_maxrss_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
    }


def _load() -> float:
    return round(os.getloadavg()[0], 2)


# ------------------------------------------------------------------------------------------- the children


class _NoRun:
    """An executor that runs nothing: planning alone (contexts, jobs, manifest, index)."""

    def run(self, jobs: Any, on_result: Any = None) -> list[Any]:
        from salesreports.run.jobs import JobResult

        return [JobResult(j.key, "failed", "not run (planning only)") for j in jobs]


def _config(spec: dict[str, Any], out: Path, mode: str = "fast") -> Any:
    from salesreports.params import load_config

    overrides = {"output_dir": str(out.resolve()), "run": {"workers": spec["workers"], "mode": mode}}
    return load_config(spec["params"], overrides)


def _child_prep(spec: dict[str, Any]) -> dict[str, Any]:
    """Plan every rep of the period (contexts only) and pick the benchmark's reps."""
    from salesreports.report.contexts import context_files
    from salesreports.run.batch import run_reports

    out = Path(spec["out"]) / "prep"
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    summary = run_reports(_config(spec, out), periods=spec["period"], kinds=("rep",), executor=_NoRun(), force=True)
    seconds = time.perf_counter() - t
    reps = sorted(r["id"] for r in summary.results)[: spec["reps"]]
    period = summary.periods[0]
    folder = out / period
    contexts = {r: str((folder / r / "context.json").resolve()) for r in reps}
    sizes = [sum(f.stat().st_size for f in context_files(Path(p))) for p in contexts.values()]
    config = _config(spec, out)
    return {
        "period": period,
        "reps": reps,
        "contexts": contexts,
        "template": str(config.template("rep")),
        "seconds": round(seconds, 2),
        "context_kb_mean": round(statistics.mean(sizes) / 1024, 1) if sizes else 0,
        "eligible": len(summary.results),
    }


def _child_runner(spec: dict[str, Any], mode: str) -> dict[str, Any]:
    """``salesreports run`` for the chosen reps, in-process (what the CLI calls), timed from the start."""
    from salesreports.run.batch import run_reports
    from salesreports.run.local import LocalExecutor

    out = Path(spec["out"]) / mode
    shutil.rmtree(out, ignore_errors=True)
    run_mode = "fresh" if mode == "fresh" else "fast"
    sampler = TreeMemory()
    sampler.start()
    t = time.perf_counter()
    config = _config(spec, out, run_mode)
    executor = LocalExecutor(spec["workers"], run_mode).start() if mode == "fast_prestart" else None  # type: ignore[arg-type]
    marks: dict[str, float] = {}
    summary = run_reports(
        config,
        periods=spec["period"],
        reps=spec["reps"],
        kinds=("rep",),
        force=True,
        mode=run_mode,
        workers=spec["workers"],
        executor=executor,
        on_plan=lambda n: _mark(marks, "planned", t),
        on_result=lambda r: _mark(marks, "first_result", t),
    )
    wall = time.perf_counter() - t
    ok = [r for r in summary.results if r["status"] == "ok"]
    stages = {
        k: round(statistics.mean(r["timings"].get(k, 0.0) for r in ok), 3)
        for k in ("execute", "execute_cpu", "html", "html_cpu", "pdf", "pdf_cpu", "total")
        if ok and any(k in r["timings"] for r in ok)
    }
    return {
        "wall_seconds": round(wall, 2),
        "reports": len(summary.results),
        "failed": [f"{r['key']}: {r.get('error')}" for r in summary.failed][:5],
        "planned_at": round(marks.get("planned", 0.0), 2),
        "first_result_at": round(marks.get("first_result", 0.0), 2),
        "stage_means": stages,
        "cpu_seconds": _cpu_seconds(),
        "memory": _memory(sampler),
    }


def _mark(marks: dict[str, float], name: str, start: float) -> None:
    marks.setdefault(name, time.perf_counter() - start)


def _tool(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def _child_naive(spec: dict[str, Any]) -> dict[str, Any]:
    """The user's loop: papermill CLI, nbconvert CLI, weasyprint CLI per rep, one after the other."""
    prep = spec["prep"]
    out = Path(spec["out"]) / "naive"
    shutil.rmtree(out, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "SALESREPORTS_BATCH"}
    template = prep["template"]
    sampler = TreeMemory()
    sampler.start()
    failed: list[str] = []
    steps: dict[str, list[float]] = {"papermill": [], "nbconvert": [], "weasyprint": []}
    t = time.perf_counter()
    for rep in prep["reps"]:
        folder = out / rep
        folder.mkdir(parents=True)
        commands = {
            "papermill": [
                _tool("papermill"),
                template,
                "scorecard.ipynb",
                "-p",
                "rep_id",
                rep,
                "-p",
                "period",
                prep["period"],
                "-p",
                "context",
                prep["contexts"][rep],
                "--cwd",
                str(Path(template).parent),
                "--no-progress-bar",
            ],
            "nbconvert": [
                _tool("jupyter"),
                "nbconvert",
                "--to",
                "html",
                "--no-input",
                "scorecard.ipynb",
                "--output",
                "scorecard",
            ],
            "weasyprint": [_tool("weasyprint"), "scorecard.html", "scorecard.pdf"],
        }
        for step, command in commands.items():
            s = time.perf_counter()
            done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
            steps[step].append(time.perf_counter() - s)
            if done.returncode != 0:
                failed.append(f"{rep} {step}: {done.stderr.strip().splitlines()[-1:]}")
                break
    wall = time.perf_counter() - t
    return {
        "wall_seconds": round(wall + prep["seconds"], 2),
        "loop_seconds": round(wall, 2),
        "prep_seconds": prep["seconds"],
        "reports": len(prep["reps"]),
        "failed": failed[:5],
        "stage_means": {k: round(statistics.mean(v), 3) for k, v in steps.items() if v},
        "cpu_seconds": _cpu_seconds(),
        "memory": _memory(sampler),
    }


def _child_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """Cells plus rendering alone, in this one warm process: the cost no runner can go below."""
    os.environ["SALESREPORTS_BATCH"] = "1"
    import copy

    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from salesreports.report.render import _default, render_html, render_pdf
    from salesreports.run import jobs, nbengine, zygote

    zygote.import_report_modules()
    _default().warm()
    prep = spec["prep"]
    out = Path(spec["out"]) / "floor"
    shutil.rmtree(out, ignore_errors=True)
    template = load_notebook_node(prep["template"])
    cwd = Path(prep["template"]).parent
    sampler = TreeMemory()
    sampler.start()
    stages: dict[str, list[float]] = {"cells": [], "html": [], "pdf": []}
    cpu: list[float] = []
    failed: list[str] = []
    reps = prep["reps"]
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        for index, rep in enumerate([reps[0], *reps]):  # the first run warms up and is not counted
            parameters = {"rep_id": rep, "period": prep["period"], "context": prep["contexts"][rep]}
            nb = parameterize_notebook(copy.deepcopy(template), parameters)
            job = jobs.Job(rep, "rep", prep["template"], "", parameters, str(cwd))
            html, pdf = out / rep / "scorecard.html", out / rep / "scorecard.pdf"
            c, t0 = time.process_time(), time.perf_counter()
            ok = nbengine.execute_cells(nb)
            nb.metadata.update(jobs.report_metadata(job))
            t1 = time.perf_counter()
            render_html(nb, html)
            t2 = time.perf_counter()
            render_pdf(html, pdf)
            t3 = time.perf_counter()
            if not ok:
                failed.append(rep)
            if index:
                stages["cells"].append(t1 - t0)
                stages["html"].append(t2 - t1)
                stages["pdf"].append(t3 - t2)
                cpu.append(time.process_time() - c)
    finally:
        os.chdir(previous)
    per = [a + b + c for a, b, c in zip(stages["cells"], stages["html"], stages["pdf"], strict=True)]
    return {
        "seconds_per_report": round(statistics.mean(per), 3),
        "cpu_per_report": round(statistics.mean(cpu), 3),
        "stage_means": {k: round(statistics.mean(v), 3) for k, v in stages.items()},
        "reports": len(per),
        "failed": failed[:5],
        "memory": _memory(sampler),
    }


PLAN_MONTHS = 14  # enough history for the 12-month trends and the review comparison of one month's scorecards
_CLONED = ("rep_id", "deal_id", "account_id", "lead_id", "converted_deal_id", "team", "manager_id")


def _plan_data(out: Path, reps: int) -> Path:
    """A data set of ``reps`` reps: the demo generator's reps cloned into new teams (cached); returns its source."""
    import math

    import pandas as pd

    from salesreports.data.demo import generate_demo

    clones = max(1, math.ceil(reps / 999))
    base = math.ceil(reps / clones)
    folder = out / f"plan-data-{reps}"
    source = folder / "source.yaml"
    if source.exists():
        return source
    seed_dir = out / f"plan-demo-{base}-m{PLAN_MONTHS}"
    if not (seed_dir / "reps.parquet").exists():
        generate_demo(seed_dir, n_reps=max(8, base), months=PLAN_MONTHS, fmt="parquet")
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for file in sorted(seed_dir.glob("*.parquet")):
        frame = pd.read_parquet(file)
        parts = []
        for k in range(clones):
            part = frame.copy()
            for column in _CLONED:
                if column in part.columns and k:
                    part[column] = part[column].astype("string") + f"-{k}"
            if k and "email" in part.columns:
                part["email"] = part["email"].astype("string").str.replace("@", f"+{k}@", regex=False)
            parts.append(part)
        whole = pd.concat(parts, ignore_index=True)
        if "rep_id" in whole.columns:
            keep = set(pd.Series(whole["rep_id"].dropna().unique()).sort_values().iloc[:reps])
            whole = whole[whole["rep_id"].isna() | whole["rep_id"].isin(keep)]
        whole.to_parquet(folder / file.name, index=False)
        names.append(file.stem)
    tables = "\n".join(f"  {n}: {{file: {n}.parquet}}" for n in names)
    source.write_text(f"name: plan-{reps}\nkind: files\nbase_dir: .\ntables:\n{tables}\n", encoding="utf-8")
    return source


def _child_plan(spec: dict[str, Any]) -> dict[str, Any]:
    """Planning for a large organisation: N cloned reps, one month (contexts, jobs, manifest, index)."""
    from salesreports.params import load_config
    from salesreports.report.contexts import context_files
    from salesreports.run.batch import run_reports

    reps = int(spec["plan_reps"])
    out = Path(spec["out"])
    t = time.perf_counter()
    source = _plan_data(out, reps)
    made = time.perf_counter() - t
    reports = out / f"plan-reports-{reps}"
    shutil.rmtree(reports, ignore_errors=True)
    config = load_config(spec["params"], {"source": str(source), "output_dir": str(reports.resolve()), "goals": ""})
    marks: dict[str, float] = {}
    t = time.perf_counter()

    def stop(peak_kb: int) -> None:
        """Over the memory limit: write what is known and end the child at once (not the machine's OOM killer)."""
        seen = list(marks.items())  # the main thread may be adding a stage
        reached = max(seen, key=lambda kv: kv[1])[0] if seen else "starting"
        stopped = {
            "reps": reps,
            "data_seconds": round(made, 1),
            "stopped": f"stopped in '{reached}' at {time.perf_counter() - t:.0f} s: the process tree's PSS passed "
            f"the limit of {spec['plan_limit_gib']:g} GiB (peak {peak_kb / 2**20:.1f} GiB)",
            "steps_started": {k: round(v, 2) for k, v in seen},
            "memory": {"tree_pss_peak_mb": round(peak_kb / 1024, 1)},
        }
        Path(spec["result"]).write_text(json.dumps(stopped, indent=1), encoding="utf-8")
        os._exit(3)

    limit = float(spec.get("plan_limit_gib") or 0)
    sampler = TreeMemory(limit_kb=int(limit * 2**20), on_limit=stop)
    sampler.start()

    def stage(message: str) -> None:
        marks[message] = time.perf_counter() - t

    summary = run_reports(
        config,
        kinds=("rep", "team"),
        executor=_NoRun(),
        force=True,
        on_stage=stage,
        on_plan=lambda n: _mark(marks, "planned", t),
    )
    total = time.perf_counter() - t
    order = sorted(marks.items(), key=lambda kv: kv[1])
    steps = {
        name: round(end - start, 2) for (name, start), (_, end) in zip(order, [*order[1:], ("end", total)], strict=True)
    }
    period = summary.periods[0]
    folder = reports / period
    contexts = list(folder.glob("*/context.json"))
    sizes = [sum(f.stat().st_size for f in context_files(p)) for p in contexts]
    manifest = folder / "manifest.json"
    jobs = len(summary.results)
    result = {
        "reps": reps,
        "jobs": jobs,
        "period": period,
        "data_seconds": round(made, 1),
        "seconds": round(total, 2),
        "steps": steps,
        "contexts": {
            "count": len(sizes),
            "mean_kb": round(statistics.mean(sizes) / 1024, 1) if sizes else 0,
            "total_mb": round(sum(sizes) / 2**20, 1),
        },
        "manifest_mb": round(manifest.stat().st_size / 2**20, 2) if manifest.exists() else None,
        "index_mb": round((folder / "index.html").stat().st_size / 2**20, 2)
        if (folder / "index.html").exists()
        else None,
        "memory": _memory(sampler),
    }
    per = steps.get(f"preparing {period}", 0.0) / max(1, jobs)
    mean_kb = statistics.mean(sizes) / 1024 if sizes else 0.0
    result["summary"] = (
        f"{total:.1f} s in all for {jobs} reports: {steps}; {per * 1000:.1f} ms per report "
        f"for contexts and jobs; contexts {mean_kb:.1f} KB each, {sum(sizes) / 2**20:.1f} MB in all"
    )
    return result


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "prep": _child_prep,
    "naive": _child_naive,
    "fresh": lambda spec: _child_runner(spec, "fresh"),
    "fast": lambda spec: _child_runner(spec, "fast"),
    "fast_prestart": lambda spec: _child_runner(spec, "fast_prestart"),
    "floor": _child_floor,
}


def _run_child(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    folder = Path(spec["out"])
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / f".spec-{name}.json"
    result_path = folder / f".result-{name}.json"
    result_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps({**spec, "result": str(result_path)}), encoding="utf-8")
    cmd = [sys.executable, "-m", "salesreports.bench", "reports", "--child", name, "--spec", str(spec_path)]
    before = _load()
    started = time.perf_counter()
    done = subprocess.run(cmd, check=False)
    stopped = done.returncode == 3 and name.startswith("plan") and result_path.exists()  # over its memory limit
    if (done.returncode != 0 and not stopped) or not result_path.exists():
        msg = f"the {name} benchmark failed (exit status {done.returncode}); see its output above"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    result["load_average"] = {"before": before, "after": _load()}
    result["child_seconds"] = round(time.perf_counter() - started, 2)
    spec_path.unlink(missing_ok=True)
    result_path.unlink(missing_ok=True)
    return result


def _plan(counts: list[int], spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for count in counts:
        print(f"planning {count} reps ...", flush=True)
        out.append(_run_child(f"plan-{count}", {**spec, "plan_reps": count}))
    return out


def _plan_curve(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seconds and peak memory per rep count, and per rep relative to the smallest count (1.0: linear growth;
    below: better than linear)."""
    rows = sorted((p for p in plans if "stopped" not in p), key=lambda p: p["reps"])
    if not rows:
        return []
    base = rows[0]
    base_mb = base["memory"]["tree_pss_peak_mb"] / base["reps"]
    base_s = base["seconds"] / base["reps"]
    out = []
    for p in rows:
        mb = p["memory"]["tree_pss_peak_mb"]
        out.append(
            {
                "reps": p["reps"],
                "seconds": p["seconds"],
                "peak_mb": mb,
                "mb_per_rep": round(mb / p["reps"], 3),
                "ms_per_rep": round(1000 * p["seconds"] / p["reps"], 2),
                "memory_per_rep_vs_first": round((mb / p["reps"]) / base_mb, 2) if base_mb else None,
                "time_per_rep_vs_first": round((p["seconds"] / p["reps"]) / base_s, 2) if base_s else None,
            }
        )
    return out


def _plan_checks(plans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The planning targets against the run of :data:`PLAN_TARGET_REPS` reps (none when it was not run), and
    whether every count finished under the memory limit."""
    out: dict[str, dict[str, Any]] = {}
    stopped = [p["reps"] for p in plans if "stopped" in p]
    if stopped:
        out["plan_all_counts"] = {"target": "every count planned", "measured": f"stopped: {stopped}", "met": False}
    at = next((p for p in plans if p["reps"] == PLAN_TARGET_REPS), None)
    if at is None:
        return out
    return {**_plan_targets(at), **out}


def _plan_targets(at: dict[str, Any]) -> dict[str, dict[str, Any]]:
    peak = round(at["memory"]["tree_pss_peak_mb"] / 1024, 2)
    if "stopped" in at:  # over the memory limit: the peak is at least this, and the time is unknown
        return {
            "plan_peak_gib": {"target": f"<= {PLAN_TARGETS['plan_peak_gib']:g} GiB", "measured": peak, "met": False},
            "plan_seconds": {"target": f"<= {PLAN_TARGETS['plan_seconds']:g} s", "measured": None, "met": False},
        }
    return {
        "plan_peak_gib": {
            "target": f"<= {PLAN_TARGETS['plan_peak_gib']:g} GiB at {PLAN_TARGET_REPS} reps",
            "measured": peak,
            "met": peak <= PLAN_TARGETS["plan_peak_gib"],
        },
        "plan_seconds": {
            "target": f"<= {PLAN_TARGETS['plan_seconds']:g} s at {PLAN_TARGET_REPS} reps",
            "measured": at["seconds"],
            "met": at["seconds"] <= PLAN_TARGETS["plan_seconds"],
        },
    }


def _print_plan(plans: list[dict[str, Any]]) -> None:
    for p in plans:
        print(f"planning {p['reps']} reps: {p.get('stopped') or p['summary']}")
    curve = _plan_curve(plans)
    if not curve:
        return
    head = ("reps", "seconds", "peak tree PSS MB", "MB/rep", "ms/rep", "memory/rep vs first", "time/rep vs first")
    rows = [
        (
            f"{c['reps']}",
            f"{c['seconds']:.1f}",
            f"{c['peak_mb']:.0f}",
            f"{c['mb_per_rep']:.3f}",
            f"{c['ms_per_rep']:.1f}",
            f"{c['memory_per_rep_vs_first']:.2f}",
            f"{c['time_per_rep_vs_first']:.2f}",
        )
        for c in curve
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print("\nplanning curve (per rep vs the first row: 1.00 is linear growth, below is better):")
    for row in [head, *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _print_checks(checks: dict[str, dict[str, Any]]) -> None:
    for name, check in checks.items():
        print(f"target {name}: {check['target']}, measured {check['measured']} -> {'ok' if check['met'] else 'MISSED'}")


def _help_seconds() -> dict[str, Any]:
    """Wall time of the real console script ``salesreports --help`` (a fresh interpreter each time)."""
    script = _tool("salesreports")
    times = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([script, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    code = (
        "import sys, salesreports.cli; "
        "print(sorted(m for m in ('pandas', 'altair', 'duckdb', 'papermill') if m in sys.modules))"
    )
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    return {"min": round(min(times), 3), "median": round(statistics.median(times), 3), "heavy_imports": heavy}


# --------------------------------------------------------------------------------------------------- report


def _summarise(results: dict[str, Any], reps: int) -> None:
    modes = results["modes"]
    floor = results.get("floor", {}).get("seconds_per_report")
    naive = modes.get("naive", {}).get("wall_seconds")
    for mode in modes.values():
        wall = mode["wall_seconds"]
        mode["seconds_per_report"] = round(wall / reps, 3)
        mode["reports_per_minute"] = round(60 * reps / wall, 1)
        mode["cpu_per_report"] = round(mode["cpu_seconds"] / reps, 3)
        mode["speedup_vs_naive"] = round(naive / wall, 2) if naive else None
        mode["ratio_to_floor"] = round(mode["seconds_per_report"] / floor, 2) if floor else None
    fastest = min(
        (m for m in ("fast", "fast_prestart") if m in modes), key=lambda m: modes[m]["wall_seconds"], default=None
    )
    results["fastest"] = fastest
    checks: dict[str, dict[str, Any]] = {}
    if fastest and naive:
        checks["fast_vs_naive"] = {
            "target": f">= {TARGETS['fast_vs_naive']:g}x",
            "measured": modes[fastest]["speedup_vs_naive"],
        }
        checks["fast_vs_naive"]["met"] = checks["fast_vs_naive"]["measured"] >= TARGETS["fast_vs_naive"]
    if fastest and floor:
        measured = modes[fastest]["ratio_to_floor"]
        checks["fast_to_floor"] = {
            "target": f"<= {TARGETS['fast_to_floor']:g}x",
            "measured": measured,
            "met": measured <= TARGETS["fast_to_floor"],
        }
    if "fresh" in modes and naive:
        measured = modes["fresh"]["speedup_vs_naive"]
        checks["fresh_vs_naive"] = {
            "target": f">= {TARGETS['fresh_vs_naive']:g}x",
            "measured": measured,
            "met": measured >= TARGETS["fresh_vs_naive"],
        }
    if "help" in results:
        measured = results["help"]["median"]
        checks["help_seconds"] = {
            "target": f"< {TARGETS['help_seconds']:g} s",
            "measured": measured,
            "met": measured < TARGETS["help_seconds"],
        }
    checks.update(_plan_checks(results.get("plan", [])))
    results["targets"] = checks


def _print(results: dict[str, Any]) -> None:
    reps = results["reps"]
    print(
        f"\n{reps} rep scorecards (HTML + PDF), {results['period']}, {results['workers']} workers, "
        f"{results['machine']['cpus']} CPUs, Python {results['machine']['python']}"
    )
    prep = results.get("prep")
    if prep:
        print(
            f"contexts: {prep['context_kb_mean']} KB per rep on average; planning all {prep['eligible']} reps "
            f"took {prep['seconds']} s"
        )
    head = (
        "mode",
        "wall s",
        "s/report",
        "reports/min",
        "CPU s/report",
        "peak tree PSS MB",
        "largest proc MB",
        "x naive",
        "x floor",
        "load",
    )
    rows = []
    for name, m in results["modes"].items():
        mem = m["memory"]
        rows.append(
            (
                name,
                f"{m['wall_seconds']:.1f}",
                f"{m['seconds_per_report']:.3f}",
                f"{m['reports_per_minute']:.1f}",
                f"{m['cpu_per_report']:.3f}",
                f"{mem['tree_pss_peak_mb']:.0f}",
                f"{max(mem['main_maxrss_mb'], mem['largest_child_maxrss_mb']):.0f}",
                f"{m['speedup_vs_naive']:.1f}" if m["speedup_vs_naive"] else "-",
                f"{m['ratio_to_floor']:.2f}" if m["ratio_to_floor"] else "-",
                f"{m['load_average']['before']:.1f}→{m['load_average']['after']:.1f}",
            )
        )
    floor = results.get("floor")
    if floor:
        mem = floor["memory"]
        rows.append(
            (
                "floor",
                "-",
                f"{floor['seconds_per_report']:.3f}",
                f"{60 / floor['seconds_per_report']:.1f}",
                f"{floor['cpu_per_report']:.3f}",
                f"{mem['tree_pss_peak_mb']:.0f}",
                f"{mem['main_maxrss_mb']:.0f}",
                "-",
                "1.00",
                f"{floor['load_average']['before']:.1f}→{floor['load_average']['after']:.1f}",
            )
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for name, m in results["modes"].items():
        extra = (
            f"; data+planning done at {m['planned_at']} s, first report at {m['first_result_at']} s"
            if m.get("planned_at")
            else ""
        )
        if name == "naive":
            extra = f"; of which {m['prep_seconds']} s writing the contexts once (the runner's planning)"
        print(f"  {name}: mean per report {m['stage_means']}{extra}")
        if m.get("failed"):
            print(f"  {name}: FAILED {m['failed']}")
    if floor:
        print(f"  floor: mean per report {floor['stage_means']} (CPU {floor['cpu_per_report']} s)")
    if "help" in results:
        h = results["help"]
        print(
            f"salesreports --help: {h['median']} s median, {h['min']} s best of 5; heavy modules imported by "
            f"salesreports.cli: {h['heavy_imports']}"
        )
    _print_plan(results.get("plan", []))
    _print_checks(results.get("targets", {}))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns 0 when the targets are met, 1 when not, 2 on bad arguments."""
    try:
        args = _parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.child:
        given = json.loads(Path(args.spec).read_text(encoding="utf-8"))
        done = _child_plan(given) if args.child.startswith("plan") else CHILDREN[args.child](given)
        Path(given["result"]).write_text(json.dumps(done, indent=1, default=str), encoding="utf-8")
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if args.plan_only and not args.plan_reps:
        print("--plan-only needs --plan-reps, e.g. --plan-reps 1250,5000", file=sys.stderr)
        return 2
    if unknown or args.reps < 1:
        print(
            f"unknown mode(s) {unknown}; choose from {', '.join(MODES)}" if unknown else "--reps must be >= 1",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out)
    spec: dict[str, Any] = {
        "params": str(args.params.resolve()),
        "period": args.period,
        "reps": args.reps,
        "workers": args.workers,
        "out": str((out / "runs").resolve()),
        "plan_limit_gib": args.plan_limit_gib,
    }
    results: dict[str, Any] = {
        "reps": args.reps,
        "workers": args.workers,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": usable_cores()},
        "modes": {},
    }
    if args.plan_only:
        plans = _plan(args.plan_reps, spec)
        checks = _plan_checks(plans)
        _print_plan(plans)
        _print_checks(checks)
        out.mkdir(parents=True, exist_ok=True)
        written = {"machine": results["machine"], "runs": plans, "curve": _plan_curve(plans), "targets": checks}
        (out / "plan.json").write_text(json.dumps(written, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {out / 'plan.json'}")
        return 0 if all(c["met"] for c in checks.values()) else 1
    print(f"preparing: contexts of every rep, choosing {args.reps} ...", flush=True)
    prep = _run_child("prep", spec)
    if len(prep["reps"]) < args.reps:
        print(f"note: only {len(prep['reps'])} reps have a scorecard for {prep['period']}", file=sys.stderr)
    spec.update(period=prep["period"], reps=prep["reps"], prep=prep)
    results.update(period=prep["period"], reps=len(prep["reps"]), prep=prep)
    for mode in modes:
        print(f"running {mode} ...", flush=True)
        results["modes"][mode] = _run_child(mode, spec)
        print(f"  {mode}: {results['modes'][mode]['wall_seconds']} s", flush=True)
    print("running floor ...", flush=True)
    results["floor"] = _run_child("floor", spec)
    results["help"] = _help_seconds()
    if args.plan_reps:
        results["plan"] = _plan(args.plan_reps, spec)
    _summarise(results, results["reps"])
    _print(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out / 'results.json'}")
    return 0 if all(c["met"] for c in results["targets"].values()) else 1
