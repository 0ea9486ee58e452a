"""Tests for the planning benchmark's curve and targets (salesreports.bench.reports), on made-up runs."""

from __future__ import annotations

import pytest

from salesreports.bench import reports


def _run(reps: int, seconds: float, peak_mb: float) -> dict[str, object]:
    return {"reps": reps, "seconds": seconds, "memory": {"tree_pss_peak_mb": peak_mb}, "summary": ""}


def test_the_curve_gives_memory_and_time_per_rep_relative_to_the_smallest_run() -> None:
    curve = reports._plan_curve([_run(5000, 40.0, 2500.0), _run(1000, 10.0, 1000.0), _run(20000, 120.0, 8000.0)])
    assert [c["reps"] for c in curve] == [1000, 5000, 20000]
    assert [c["memory_per_rep_vs_first"] for c in curve] == [1.0, 0.5, 0.4]
    assert [c["time_per_rep_vs_first"] for c in curve] == [1.0, 0.8, 0.6]
    assert curve[1]["mb_per_rep"] == 0.5 and curve[1]["ms_per_rep"] == 8.0
    assert reports._plan_curve([]) == []


@pytest.mark.parametrize(
    ("seconds", "peak_mb", "met"),
    [
        (59.0, 3000.0, {"plan_peak_gib": True, "plan_seconds": True}),
        (61.0, 3200.0, {"plan_peak_gib": False, "plan_seconds": False}),
    ],
)
def test_the_targets_are_checked_at_5000_reps(seconds: float, peak_mb: float, met: dict[str, bool]) -> None:
    checks = reports._plan_checks([_run(1000, 1.0, 100.0), _run(reports.PLAN_TARGET_REPS, seconds, peak_mb)])
    assert {k: v["met"] for k, v in checks.items()} == met
    assert checks["plan_peak_gib"]["measured"] == round(peak_mb / 1024, 2)


def test_no_targets_without_a_run_of_5000_reps(capsys: pytest.CaptureFixture[str]) -> None:
    assert reports._plan_checks([_run(1000, 1.0, 100.0)]) == {}
    reports._print_checks(reports._plan_checks([_run(5000, 99.0, 100.0)]))
    out = capsys.readouterr().out
    assert "plan_seconds: <= 60 s at 5000 reps, measured 99.0 -> MISSED" in out
    assert "plan_peak_gib: <= 3 GiB at 5000 reps, measured 0.1 -> ok" in out


def test_a_run_stopped_at_its_memory_limit_is_left_out_of_the_curve_and_misses() -> None:
    stopped = {"reps": 20000, "stopped": "stopped in 'validating data'", "memory": {"tree_pss_peak_mb": 15000.0}}
    plans = [_run(1000, 10.0, 1000.0), _run(5000, 50.0, 3000.0), stopped]
    assert [c["reps"] for c in reports._plan_curve(plans)] == [1000, 5000]
    checks = reports._plan_checks(plans)
    assert checks["plan_all_counts"]["met"] is False and "20000" in checks["plan_all_counts"]["measured"]
    assert checks["plan_seconds"]["met"] and checks["plan_peak_gib"]["met"]


def test_the_memory_limit_of_a_planning_run_is_a_share_of_the_machine() -> None:
    assert reports._memory_gib() > 0
    assert reports._parser().parse_args([]).plan_limit_gib == round(0.8 * reports._memory_gib(), 1)
