"""A period's contexts written by forked workers: the same files and plan as in one process, errors raised here."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from salesreports.data.loading import load_dataset
from salesreports.data.validate import validate
from salesreports.errors import ParamsError
from salesreports.metrics.engine import compute_kpis
from salesreports.metrics.periods import parse_period
from salesreports.params import load_config
from salesreports.report.scope import Scope, build_scope
from salesreports.run import prepare
from salesreports.run.batch import PeriodPlan, plan_period


def _plan(config_path: Path, root: Path) -> PeriodPlan:
    config = load_config(config_path, environ={})
    data = load_dataset(config.source_path)
    validate(data)
    table = compute_kpis(data)
    scope = build_scope(data, table, config, parse_period("2025-03"))
    return plan_period(
        scope, config, reps=None, kinds=("rep", "team"), force=False, retry_failed=False, fingerprint="f", root=root
    )


def _files(plan: PeriodPlan) -> dict[str, Any]:
    """Every file the plan wrote (the context's time stamp left out), by its path in the period's folder."""
    out: dict[str, Any] = {}
    for path in sorted(p for p in plan.folder.rglob("*") if p.is_file()):
        rel = str(path.relative_to(plan.folder))
        out[rel] = path.read_bytes()
        if path.name == "context.json":
            out[rel] = {k: v for k, v in json.loads(out[rel]).items() if k != "generated_at"}
    return out


def _in_workers(monkeypatch: pytest.MonkeyPatch, before: Callable[[str], None]) -> None:
    """Contexts written by workers, one report per task; ``before(rep_id)`` runs as each rep's context is built
    (in the process that builds it)."""
    monkeypatch.setattr(prepare, "MIN_PARALLEL", 2)
    monkeypatch.setattr(prepare, "CHUNK", 1)
    built = Scope.rep_context

    def wrapped(self: Scope, rep_id: str) -> dict[str, Any]:
        before(rep_id)
        return built(self, rep_id)

    monkeypatch.setattr(Scope, "rep_context", wrapped)


def test_workers_write_the_same_contexts_and_plan_as_one_process(
    tmp_path: Path, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config()
    alone = _plan(config, tmp_path / "alone")
    builders = tmp_path / "pids"

    def recorded(rep_id: str) -> None:
        with builders.open("a") as f:
            f.write(f"{os.getpid()}\n")

    _in_workers(monkeypatch, recorded)
    assert prepare.workers_for(6) == 2  # this machine's two cores
    shared = _plan(config, tmp_path / "shared")
    assert set(builders.read_text().split()) - {str(os.getpid())}, "no context was built by a worker"
    assert _files(shared) == _files(alone) and len(_files(alone)) >= 6 * 2
    assert shared.entries == alone.entries and shared.skipped == alone.skipped
    rel = [(j.key, j.parameters["rep_id" if j.kind == "rep" else "team"]) for j in shared.jobs]
    assert rel == [(j.key, j.parameters["rep_id" if j.kind == "rep" else "team"]) for j in alone.jobs]
    assert [e["headline"]["revenue"]["text"] for e in shared.entries.values()] == [
        e["headline"]["revenue"]["text"] for e in alone.entries.values()
    ]


def test_an_error_in_a_worker_is_raised_here_with_its_own_message(
    tmp_path: Path, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:

    def failing(rep_id: str) -> None:
        if rep_id == "R2":
            raise ParamsError("planted: R2's context cannot be built", reps=["R2"])

    _in_workers(monkeypatch, failing)
    with pytest.raises(ParamsError, match="planted: R2's context") as caught:
        _plan(make_config(), tmp_path / "out")
    assert caught.value.fields["reps"] == ["R2"]


def test_a_worker_that_dies_leaves_its_reports_to_this_process(
    tmp_path: Path, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config()
    alone = _plan(config, tmp_path / "alone")
    parent = os.getpid()

    def dying(rep_id: str) -> None:
        if rep_id == "R3" and os.getpid() != parent:
            os._exit(9)  # as the out-of-memory killer would

    _in_workers(monkeypatch, dying)
    again = _plan(config, tmp_path / "again")
    assert _files(again) == _files(alone)
    assert again.entries == alone.entries


def test_few_reports_are_written_here() -> None:
    assert prepare.workers_for(prepare.MIN_PARALLEL - 1) == 1
    assert prepare.workers_for(10_000, limit=1) == 1
    assert prepare.workers_for(10_000) == min(len(os.sched_getaffinity(0)), 10_000 // prepare.CHUNK)
