"""Plan and run a batch of reports: params x reps x periods -> jobs -> executor -> manifest.

``run_reports`` loads and validates the data once, computes every KPI once,
writes one context per report (see :mod:`salesreports.report.scope`), checks the
parameters against each template's declared parameters **before** starting,
skips reports whose inputs did not change, runs the rest in parallel, and
records everything in the period's manifest. A failing report never stops the
others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salesreports import __version__
from salesreports.errors import Issue, ParamsError
from salesreports.metrics.formats import Formatter
from salesreports.metrics.periods import Period, parse_period, parse_periods, report_period
from salesreports.params import Config
from salesreports.paths import folder_names, inside, slug
from salesreports.run.jobs import Job, JobResult
from salesreports.run.local import LocalExecutor
from salesreports.run.manifest import FILE as MANIFEST
from salesreports.run.manifest import Manifest, load_manifest
from salesreports.run.notebooks import (  # the template checks (light: preview and check import them alone)
    REPORT_PARAMS,
    check_parameters,
    check_template_runs,
    declared_parameters,
    template_parameters,
)
from salesreports.run.prepare import Wanted, make_contexts, workers_for

__all__ = [
    "REPORT_PARAMS",
    "RunSummary",
    "check_parameters",
    "check_template_runs",
    "declared_parameters",
    "default_period",
    "plan_period",
    "run_reports",
    "template_parameters",
]

MANIFEST_EVERY = 2.0  # seconds between saves of the manifest while results arrive


@dataclass
class RunSummary:
    """What a run did."""

    periods: list[str]
    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    seconds: float = 0.0
    index_paths: list[Path] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)  # with an output URL: each period's index there
    warnings: list[Issue] = field(default_factory=list)  # goals that do not fit the data, ...
    notes: list[str] = field(default_factory=list)  # goals not shown on any page (not already among the warnings)
    planned: dict[str, list[str]] = field(default_factory=dict)  # with plan_only: period -> keys that would run

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Entries of reports that failed."""
        return [r for r in self.results if r["status"] == "failed"]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


def default_period(as_of: pd.Timestamp) -> Period:
    """The latest complete month in the data: its month when no working day of it is left, else the one before."""
    month = as_of.to_period("M")
    left = pd.bdate_range(as_of.normalize() + pd.Timedelta(days=1), month.end_time.normalize())
    if len(left):
        month = month - 1
    return parse_period(str(month))


def _hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _inputs_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass
class PeriodPlan:
    """The jobs of one period and the entries that need no job."""

    period: Period
    folder: Path
    jobs: list[Job]
    entries: dict[str, dict[str, Any]]
    skipped: list[dict[str, Any]]
    unchanged: int
    manifest: Manifest


def plan_period(
    scope: Any,
    config: Config,
    *,
    reps: Sequence[str] | None,
    kinds: Sequence[str],
    force: bool,
    retry_failed: bool,
    fingerprint: str,
    html: bool = True,
    remote: str | None = None,
    root: Path | None = None,
    workers: int | None = None,
) -> PeriodPlan:
    """Write the contexts of one period and decide which reports must run.

    With ``remote`` (the period's folder under an output URL) the manifest is read from there and a
    report is unchanged only when its files are there. ``root``: the folder the period's folder is made in
    (default: the output folder). ``workers``: at most this many processes write the contexts (default: one
    per core, when there are many: :func:`salesreports.run.prepare.workers_for`).
    """
    period: Period = scope.period
    folder = (root or config.output_path) / slug(period.label)
    pdf = config.pdf.enabled
    jobs: list[Job] = []
    entries: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, Any]] = []
    unchanged = 0
    wanted: list[tuple[str, str, str]] = []
    if "rep" in kinds:
        all_reps = scope.rep_ids()
        if reps:
            unknown = [r for r in reps if r not in all_reps]
            if unknown:
                from salesreports.errors import close_matches

                where = scope.data.origins.get("reps", "the reps table")
                known = ", ".join(all_reps[:8]) + (", …" if len(all_reps) > 8 else "")
                msg = (
                    f"unknown rep id(s) {', '.join(map(repr, unknown))}: not in {where} (known: {known})."
                    f"{close_matches(unknown[0], all_reps)} Fix: use ids from the reps table, or --reps all."
                )
                raise ParamsError(msg, reps=unknown)
        pseudo = scope.data.unassigned_rep  # rows without a rep: counted in team totals, no scorecard of its own
        for rep_id in reps or [r for r in all_reps if r != pseudo]:
            wanted.append(("rep", rep_id, rep_id))
    if "team" in kinds:
        teams = [t for t in scope.teams() if scope.team_size(t)]  # not a team of the pseudo-rep alone
        wanted.extend(("team", team, team) for team in [*teams, "company"])
    # a rep's quarter or year review uses `templates.review` when set (Config.template_for)
    templates = {k: config.template_for(k, review=period.is_review) for k in {w[0] for w in wanted}}
    template_hash = {}
    for kind, template in templates.items():
        check_template_runs(template)
        check_parameters(template, sorted(REPORT_PARAMS[kind]))
        template_hash[kind] = _hash_file(template)
    # every check passed: only now is anything written
    folder.mkdir(parents=True, exist_ok=True)
    if remote:
        from salesreports.run import storage

        storage.fetch(f"{remote}/{MANIFEST}", folder / MANIFEST)  # the URL's manifest, not this machine's

        def present(rel: str) -> bool:
            return storage.exists(f"{remote}/{rel}")
    else:

        def present(rel: str) -> bool:
            return (folder / rel).exists()

    manifest = load_manifest(folder, period.label)
    manifest.period_title = scope.formats.period_title(period)  # the index and emails: the company's locale
    manifest.company = config.company
    manifest.data_fingerprint = fingerprint
    folders = folder_names(scope.rep_ids(), [*scope.teams(), "company"])
    todo: list[tuple[Wanted, dict[str, Any], dict[str, str]]] = []
    for kind, ident, name in wanted:
        key = f"{kind}/{ident}"
        sub = folders[(kind, ident)]
        out = inside(folder, sub)
        base = {"key": key, "kind": kind, "id": ident, "name": name, "folder": sub}
        names = {"ipynb": f"{sub}/scorecard.ipynb", "html": f"{sub}/scorecard.html"}
        if pdf:
            names["pdf"] = f"{sub}/scorecard.pdf"
        # under an output URL the context is published apart from the pages (an upload can fail): a report
        # whose notebook has no context.json there is not done
        needed = [*names.values(), *([f"{sub}/context.json"] if remote else [])]
        previous = manifest.entry(key)
        made = previous is not None and previous.get("status") == "ok" and all(present(p) for p in needed)
        # retry_failed: only what is left (failed, or never made: a run that stopped half-way); a report already
        # made is kept as it is, even when its inputs changed since: its context too (an email reads it beside
        # the PDF, so it must stay the one the PDF was made from)
        if retry_failed and made:
            unchanged += 1
            continue
        if kind == "rep":
            reason = scope.employment(ident)
            if reason:
                info = scope._rep_info(ident)
                entry = {**base, "name": info["name"], "status": "skipped", "reason": reason, "team": info["team"]}
                skipped.append(entry)
                entries[key] = entry
                continue
        before = str(previous.get("inputs")) if made and previous is not None else None
        todo.append((Wanted(kind, ident, out / "context.json", before), base, names))

    def inputs_of(kind: str, context_hash: str) -> str:
        return _inputs_hash(template_hash[kind], context_hash, __version__, str(pdf), config.pdf.page_size)

    built = make_contexts(
        scope,
        [t[0] for t in todo],
        inputs=inputs_of,
        headline=lambda context: _headline(context, scope.formats),
        force=force,
        workers=workers_for(len(todo), workers),
    )
    for (want, base, names), result in zip(todo, built, strict=True):
        kind, ident, key = want.kind, want.ident, base["key"]
        if kind == "rep":
            base["name"] = result.name
        base["team"] = result.team
        if result.headline is None:  # its inputs are those of the report made before: nothing to run
            unchanged += 1
            continue
        ctx_path = want.path
        parameters = {"period": period.label, "context": str(ctx_path)}
        parameters["rep_id" if kind == "rep" else "team"] = ident
        entries[key] = {
            **base,
            "parameters": {k: v for k, v in parameters.items() if k != "context"},
            "template": str(templates[kind]),
            "template_hash": template_hash[kind],
            "context_hash": result.context_hash,
            "data_fingerprint": fingerprint,
            "inputs": result.inputs,
            "outputs": names,
            "headline": result.headline,
        }
        jobs.append(
            Job(
                key=f"{period.label}:{key}",
                kind=kind,
                template=str(templates[kind]),
                notebook=str(folder / names["ipynb"]),
                parameters=parameters,
                cwd=str(templates[kind].parent),
                html=str(folder / names["html"]) if html else "",
                pdf=str(folder / names["pdf"]) if pdf and html else "",
                page_size=config.pdf.page_size,
                timeout=config.run.timeout,
                kernel=config.run.kernel,
            )
        )
    return PeriodPlan(period, folder, jobs, entries, skipped, unchanged, manifest)


def _headline(context: dict[str, Any], formats: Formatter) -> dict[str, Any]:
    """The index page's figures of a report, written in the company's locale (``formats``), whatever the
    report's own; a missing figure with its engine reason (stored English), so that the index can say once
    why a rep has no figure at all."""
    from salesreports.metrics.kpis import registry
    from salesreports.report.contexts import records

    end = context["period"]["end"]
    grain = str(context["period"].get("kpi_grain") or "month")
    kpis = context["kpis"]
    if hasattr(kpis, "filter") and hasattr(kpis, "to_pylist"):  # Arrow (a batch run): the rows at the end only
        import pyarrow.compute as pc

        kpis = kpis.filter(pc.equal(kpis["period_end"], end)).select(["kpi", "grain", "value", "reason", "period_end"])
    rows = {(r["kpi"], r["grain"]): r for r in records(kpis) if r["period_end"] == end}
    out = {}
    reg = registry()
    for k in [reg.get(n) for n in context.get("headline") or [k.name for k in reg.headline()]]:
        row = rows.get((k.name, k.shown_grain(grain))) or {}  # the same figure as the report's tile
        v = row.get("value")
        v = None if v is None or math.isnan(v) else float(v)
        out[k.name] = {"value": v, "text": k.format_value(v, formats), "label": k.label}
        if v is None and row.get("reason"):
            out[k.name]["reason"] = str(row["reason"])
    return out


def run_reports(
    config: Config,
    *,
    periods: str | Callable[[pd.Timestamp], Sequence[str]] | None = None,
    reps: Sequence[str] | None = None,
    kinds: Sequence[str] = ("rep", "team"),
    workers: int | None = None,
    mode: str | None = None,
    force: bool = False,
    retry_failed: bool = False,
    executor: Any = None,
    on_plan: Callable[[int], None] | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    plan_only: bool = False,
    loaded: dict[str, Any] | None = None,
) -> RunSummary:
    """Run every report of the given periods (default: the latest complete month in the data).

    ``periods`` is a label list (``2026-10``, ``2026-08..2026-10``) or a function of the data's last date
    giving labels (:func:`salesreports.mail.cycle.due_periods`). With ``plan_only`` nothing is run and the
    manifest and index stay as they are: ``planned`` lists the reports that would run (their contexts, which
    are inputs, are refreshed). ``loaded``: a dict shared by several runs over the same data (a cycle's): the
    first fills it with the loaded, validated data and its KPIs, the others use them instead of loading again.

    Raises
    ------
    DataValidationError
        The data has errors (nothing is run).
    ParamsError, TemplateError, ConfigError
        Bad settings, periods, rep ids or templates (nothing is run).
    """
    from salesreports.data.loading import load_dataset
    from salesreports.data.validate import validate
    from salesreports.metrics.engine import compute_kpis
    from salesreports.report.contexts import many_contexts
    from salesreports.report.scope import build_scope

    started = time.perf_counter()
    url = getattr(executor, "output_url", None)  # a Dask run publishing under an fsspec URL
    # under an output URL the client plans in a temporary folder (contexts, manifest, index: uploaded from
    # there) and writes nothing into its output folder: the URL is the only copy
    staging = Path(tempfile.mkdtemp(prefix="salesreports-publish-")) if url else None
    root = staging or config.output_path
    try:
        stage = on_stage or (lambda _msg: None)
        if executor is not None and hasattr(executor, "start") and not plan_only:
            stage("connecting to the cluster")  # an unreachable or unfit cluster fails before the data is loaded
            executor.start(root)
            if staging is not None:
                executor.local_root = str(root)  # the jobs' paths are relative to it (started earlier: the CLI)
        if loaded is not None and "data" in loaded:
            data, table = loaded["data"], loaded["table"]
            warnings: list[Issue] = list(loaded["warnings"])
            fingerprint = loaded["fingerprint"]
        else:
            stage("loading data")
            data = load_dataset(config.source_path)
            stage("validating data")
            validate(data)
            warnings = []
            if config.goals and config.resolve(config.goals).is_file():
                from salesreports.metrics.goals.fit import goals_fit_file

                warnings = goals_fit_file(config.resolve(config.goals), data)
            stage("fingerprinting data")  # before the KPI table exists: the hashes' transient memory adds to less
            fingerprint = data.fingerprint()
            stage("computing KPIs")
            table = compute_kpis(data)
            if loaded is not None:
                loaded.update(data=data, table=table, warnings=list(warnings), fingerprint=fingerprint)
        if callable(periods):
            periods = ",".join(periods(table.grid.as_of))
        wanted = parse_periods(periods) if periods else [default_period(table.grid.as_of)]
        plans: list[PeriodPlan] = []
        notes: dict[str, str] = {}  # goal id -> why no page shows it
        for period in wanted:
            report_period(period, table.grid.months[0], table.grid.months[-1])  # a partial quarter or year is refused
        for period in wanted:  # every period is checked before the first one writes anything
            stage(f"preparing {period.label}")
            scope = build_scope(data, table, config, period)
            notes.update(scope.goal_notes)
            with many_contexts():
                plans.append(
                    plan_period(
                        scope,
                        config,
                        reps=reps,
                        kinds=kinds,
                        force=force,
                        retry_failed=retry_failed,
                        fingerprint=fingerprint,
                        remote=f"{url}/{slug(period.label)}" if url else None,
                        root=root,
                        workers=workers,
                    )
                )
            del scope  # not beside the next period's
        jobs = [j for p in plans for j in p.jobs]
        if plan_only:
            summary = RunSummary(
                [p.period.label for p in plans], warnings=warnings, unchanged=sum(p.unchanged for p in plans)
            )
            summary.planned = {p.period.label: [j.key.split(":", 1)[1] for j in p.jobs] for p in plans}
            summary.skipped = [{**s, "period": p.period.label} for p in plans for s in p.skipped]
            summary.seconds = time.perf_counter() - started
            return summary
        if on_plan is not None:
            on_plan(len(jobs))
        runner = executor or LocalExecutor(workers or config.run.workers, mode or config.run.mode)  # type: ignore[arg-type]
        by_key = {job.key: plan for plan in plans for job in plan.jobs}
        saved = {id(plan): time.monotonic() for plan in plans}
        published: set[str] = set()  # job keys whose context files are already under the URL

        def record(res: JobResult) -> None:
            # each result goes into its period's manifest as it arrives, saved at most every MANIFEST_EVERY
            # seconds (5,000 reps: not 5,000 writes of a 5,000-entry file): a run that stops half-way (a lost
            # client, a dead scheduler) keeps what finished, and the next run skips it. Under an output URL the
            # manifest is uploaded there too: the next run (from any machine) reads it from the URL
            plan = by_key.get(res.key)
            if plan is not None:
                _record(plan, res)
                if url and _upload_context(plan, res.key, f"{url}/{plan.folder.name}"):
                    published.add(res.key)  # before the manifest names it: its notebook's context.json is there
                if time.monotonic() - saved[id(plan)] >= MANIFEST_EVERY:
                    plan.manifest.save(plan.folder)
                    # when the URL does not take it, it is tried again with the next result
                    if not url or _upload_manifest(plan, f"{url}/{plan.folder.name}"):
                        saved[id(plan)] = time.monotonic()
            if on_result is not None:
                on_result(res)

        results = {r.key: r for r in runner.run(jobs, record)} if jobs else {}
        warned = {i.message.split("'")[1] for i in warnings if i.message.startswith("goal '")}
        unwarned = [text for gid, text in notes.items() if gid not in warned]
        summary = RunSummary([p.period.label for p in plans], warnings=warnings, notes=unwarned)
        for plan in plans:
            finished = []
            for job in plan.jobs:
                entry = plan.entries[job.key.split(":", 1)[1]]
                if job.key not in results or "status" not in entry:
                    _record(plan, results.get(job.key) or JobResult(job.key, "failed", "the job produced no result"))
                finished.append(entry)
                summary.results.append({**entry, "period": plan.period.label})
            plan.manifest.update(plan.skipped)
            plan.manifest.runs.append(
                {
                    "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "ran": len(plan.jobs),
                    "failed": sum(1 for e in finished if e["status"] == "failed"),
                    "unchanged": plan.unchanged,
                    "mode": mode or config.run.mode,
                }
            )
            plan.manifest.source = str(config.source_path)
            plan.manifest.save(plan.folder)
            summary.skipped.extend({**s, "period": plan.period.label} for s in plan.skipped)
            summary.unchanged += plan.unchanged
            index = _write_index(plan, config.locale)
            if url:
                _publish(plan, f"{url}/{plan.folder.name}", {j.key for j in plan.jobs} & published)
                summary.index_urls.append(f"{url}/{plan.folder.name}/index.html")
            else:
                summary.index_paths.append(index)
        summary.seconds = time.perf_counter() - started
        return summary
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _record(plan: PeriodPlan, res: JobResult) -> None:
    """Put a job's result into its manifest entry (paths relative to the period folder)."""
    entry = plan.entries[res.key.split(":", 1)[1]]
    entry.update(
        status=res.status,
        error=res.error or None,
        timings=res.timings,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    entry.pop("failed_notebook", None)
    if res.failed_notebook:
        entry["failed_notebook"] = str(Path(res.failed_notebook).relative_to(plan.folder))
    if res.files:  # what a Dask worker wrote, checked by the client: relative path -> SHA-256
        entry["sha256"] = {Path(p).relative_to(plan.folder).as_posix(): h for p, h in sorted(res.files.items())}
    if res.where:
        entry["worker"] = res.where
    plan.manifest.update([entry])


def _upload_manifest(plan: PeriodPlan, remote: str) -> bool:
    """Upload a period's manifest mid-run; False when the URL refused it (the run goes on: the final
    :func:`_publish` uploads it again and reports an error then)."""
    from salesreports.run import storage

    try:
        storage.put(plan.folder / MANIFEST, f"{remote}/{MANIFEST}")
    except Exception:  # any fsspec backend's error: a transient outage must not stop the run
        return False
    return True


def _upload_context(plan: PeriodPlan, key: str, remote: str) -> bool:
    """Upload a finished report's context files mid-run (a client that dies later leaves no report at the URL
    whose notebook lacks its ``context.json``: the next run skips it and would not upload them); False when
    the URL refused them (:func:`_publish` uploads them at the end)."""
    from salesreports.run import storage

    sub = str(plan.entries[key.split(":", 1)[1]].get("folder") or "")
    files = sorted(f for f in (plan.folder / sub).glob("*") if _is_context_file(f)) if sub else []
    try:
        storage.push(plan.folder, remote, files)
    except Exception:  # any fsspec backend's error: a transient outage must not stop the run
        return False
    return True


def _publish(plan: PeriodPlan, remote: str, done: Collection[str] = ()) -> None:
    """Copy what this machine wrote for a period (contexts, manifest, index) to its folder under the URL,
    beside the pages the workers put there: the index's relative links and each notebook's
    ``context.json`` then work at the URL. ``done``: the job keys whose contexts were uploaded already."""
    from salesreports.run import storage

    skip = {k.split(":", 1)[1] for k in done}
    subs = {
        str(e["folder"])
        for key, e in plan.entries.items()
        if e.get("status") != "skipped" and e.get("folder") and key not in skip
    }
    files = [f for sub in sorted(subs) for f in sorted((plan.folder / sub).glob("*")) if _is_context_file(f)]
    storage.push(plan.folder, remote, [*files, plan.folder / MANIFEST, plan.folder / "index.html"])


def _is_context_file(path: Path) -> bool:
    return path.is_file() and (path.name == "context.json" or path.suffix == ".parquet")


def _write_index(plan: PeriodPlan, locale: str | None = None) -> Path:
    """The period's index page, its words and figures in the company's locale (the settings' ``locale``)."""
    path = plan.folder / "index.html"
    try:
        from salesreports.report.index import write_index
    except ImportError:  # pragma: no cover - the index module ships with the package
        return path
    return write_index(json.loads(json.dumps(plan.manifest.to_dict(), default=str)), path, locale=locale)
