"""``make bench-preview``: the analyst's loop, timed against its targets and a baseline of the same run.

Five figures, each the wall time of what an analyst waits for:

- ``preview_first``: a one-off ``salesreports preview --rep R`` with no kept context (a new process:
  settings, data, KPIs, the report, HTML and PDF), target 4 s;
- ``preview``: the same again, as an analyst previews after an edit of the template: the context kept by the
  first (:mod:`salesreports.report.cache`, the data unchanged) is reused, target 4 s;
- ``rerender``: one re-render in ``preview --watch`` after a save of the template (the warm process: the
  report and its HTML), target 1 s;
- ``check_first``: ``salesreports check`` of the templates (static checks and each executed with its
  defaults) with no kept context, target 3 s;
- ``check``: the same again, as an analyst checks after an edit (the contexts kept by the first), target 3 s.

Each is the median of ``--rounds`` rounds (3; the kept contexts are removed before each "first"), printed with
its ratio to its target and to the baseline, ``python -c "import pandas, altair"`` (the floor every report
process pays before its first cell) measured in the same rounds: ratios are steadier than seconds on a shared
machine. ``build/bench/preview.json`` also keeps every round's seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "main", "run"]

TARGETS = {"preview_first": 4.0, "preview": 4.0, "rerender": 1.0, "check_first": 3.0, "check": 3.0}


def _seconds(command: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - started, done.returncode


def _child_rerender(params: str, rep: str, period: str | None) -> dict[str, Any]:
    """In a fresh process, as ``preview --watch`` does: warm up, render once, then time a re-render."""
    from salesreports.params import load_config
    from salesreports.run.preview import Previewer
    from salesreports.run.watch import Change, PreviewServer, Watcher
    from salesreports.run.worker import warm_up
    from salesreports.run.zygote import zygotes

    warm_up("fast")
    previewer = Previewer(load_config(Path(params)), rep, period=period, pdf=False)
    watcher = Watcher(previewer, PreviewServer(0))
    try:
        first = watcher.render()
        started = time.perf_counter()
        again = watcher.render(Change(template=True))
        seconds = time.perf_counter() - started
    finally:
        watcher.server.close()
        zygotes.close()
    ok = first is not None and again is not None and again.status == "ok"
    return {"seconds": seconds, "status": 0 if ok else 1}


def _rerender(params: Path, rep: str, period: str | None) -> tuple[float, int]:
    code = f"import json, sys; from salesreports.bench.preview import _child_rerender as f; print(json.dumps(f({str(params)!r}, {rep!r}, {period!r})))"  # noqa: E501
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    try:
        child = json.loads(done.stdout.strip().splitlines()[-1])
        return float(child["seconds"]), int(child["status"])
    except (IndexError, ValueError, KeyError):
        return float("nan"), done.returncode or 1


def run(
    params: Path, rep: str, *, period: str | None = None, templates: Sequence[Path] = (), rounds: int = 3
) -> dict[str, Any]:
    """Measure the baseline and the five figures; returns them with their ratios (see the module docstring).

    Parameters
    ----------
    params : the settings file
    rep : the rep to preview
    period : the month to preview (default: the latest complete month)
    templates : the templates ``check`` checks (default: every notebook in the templates' folder)
    rounds : how many times each is measured (its median is the figure)

    Returns
    -------
    dict
        ``baseline`` seconds, and for ``preview``, ``rerender`` and ``check``: seconds (the median), each
        round's seconds, target, the ratios ``to_target`` and ``to_baseline``, and the worst exit status.
    """
    import statistics

    from salesreports.params import load_config
    from salesreports.report.cache import cache_folder

    cli = [sys.executable, "-m", "salesreports.cli"]
    when = ["--period", period] if period else []
    preview = [*cli, "preview", "--params", str(params), "--rep", rep, *when]
    check = [*cli, "check", "--params", str(params), *map(str, templates)]
    kept = cache_folder(load_config(params))
    baselines: list[float] = []
    figures: dict[str, list[tuple[float, int]]] = {name: [] for name in TARGETS}
    for _ in range(max(1, rounds)):
        baselines.append(_seconds([sys.executable, "-c", "import salesreports, pandas, altair"])[0])
        shutil.rmtree(kept, ignore_errors=True)
        figures["preview_first"].append(_seconds(preview))
        figures["preview"].append(_seconds(preview))
        figures["rerender"].append(_rerender(params, rep, period))
        shutil.rmtree(kept, ignore_errors=True)
        figures["check_first"].append(_seconds(check))
        figures["check"].append(_seconds(check))
    baseline = statistics.median(baselines)
    results: dict[str, Any] = {"baseline": round(baseline, 3), "rounds": len(baselines)}
    for name, measured in figures.items():
        seconds = statistics.median(s for s, _ in measured)
        results[name] = {
            "seconds": round(seconds, 3),
            "each": [round(s, 3) for s, _ in measured],
            "target": TARGETS[name],
            "to_target": round(seconds / TARGETS[name], 2),
            "to_baseline": round(seconds / baseline, 1) if baseline else None,
            "status": max(status for _, status in measured),
        }
    return results


def _print(results: dict[str, Any]) -> None:
    print(
        f"baseline (python -c 'import salesreports, pandas, altair'): {results['baseline']:.2f} s; "
        f"medians of {results['rounds']} rounds"
    )
    print(f"{'':<13} {'seconds':>8} {'target':>7} {'/target':>8} {'/baseline':>10}  {'status':<11}  rounds")
    for name in TARGETS:
        r = results[name]
        verdict = "ok" if r["to_target"] <= 1 else "over target"
        failed = "" if r["status"] == 0 else f" (exit {r['status']})"
        each = " ".join(f"{s:.2f}" for s in r["each"])
        print(
            f"{name:<13} {r['seconds']:>8.2f} {r['target']:>7.1f} {r['to_target']:>8.2f} "
            f"{r['to_baseline']:>10.1f}  {verdict + failed:<11}  {each}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m salesreports.bench preview [--params P] [--rep R] [--period M] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m salesreports.bench preview", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params/config.yaml"))
    parser.add_argument("--rep", default="R007")
    parser.add_argument("--period", default=None)
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument("--rounds", type=int, default=3, help="how many times each figure is measured (median)")
    args = parser.parse_args(argv)
    results = run(args.params, args.rep, period=args.period, rounds=args.rounds)
    _print(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "preview.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0
