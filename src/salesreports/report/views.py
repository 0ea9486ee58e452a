"""What a template sees: a read-only view over one report's context.

Templates stay thin: each cell is one call on a view (``view.tiles()``,
``view.trend("revenue")``, ...) that returns a displayable object from
:mod:`salesreports.report.display` or a chart from :mod:`salesreports.report.charts`.

In a batch run the view reads the context files the runner wrote (``context.json``
and its KPI tables as Parquet, see :mod:`salesreports.report.contexts`; the notebook
never sees the data set). In JupyterLab, with the template's default parameters
(``context = ""``), the view has that same context built from the settings file
by a child process (``python -m salesreports.report.scope``) and reads back only its
files: the template's kernel never loads the data set, in a preview either.

A view also checks that its context is the one asked for (kind, rep or team,
period), so that a mixed-up context path cannot show one rep another's report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from salesreports.errors import ParamsError
from salesreports.metrics.kpis import format_value, get, registry

__all__ = ["RepView", "TeamView", "rep_view", "team_view"]

KPI_COLUMNS = ["grain", "period", "period_end", "kpi", "value", "reason"]
ATTENTION_KPIS = ("quota_attainment", "win_rate", "lead_conversion", "calls_per_week")


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _num(v: Any) -> float | None:
    return None if _nan(v) else float(v)


def _table(rows: Any, columns: list[str]) -> pd.DataFrame:
    """A context table as a DataFrame (read from Parquet, an Arrow table, or row dicts); empty with ``columns``."""
    if hasattr(rows, "to_pandas"):
        rows = rows.to_pandas()
    if isinstance(rows, pd.DataFrame):
        return rows if len(rows.columns) else pd.DataFrame(columns=columns)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def _load(context: str, kind: str, ident: str, period: str, params_file: str) -> dict[str, Any]:
    from salesreports.report.contexts import read_context

    if context:
        path = Path(context)
        if not path.exists():
            msg = f"context file {path} not found. Fix: run the report with `salesreports run` or leave context empty."
            raise ParamsError(msg, file=str(path))
        data: dict[str, Any] = read_context(path)
    else:
        data = _preview_context(kind, ident, period, params_file)
        _guard_kernel()
    _check_context(data, kind, ident, period, context or "the preview context")
    return data


def _guard_kernel() -> None:
    """In a Jupyter kernel (JupyterLab), guard the kernel once its preview context is built.

    From then on the kernel reads nothing but what a batch report may (:mod:`salesreports.guard`), so a
    cell that reads data fails in Lab as it would in a run. Batch reports are guarded by their runner.
    """
    import os
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell" or os.environ.get("SALESREPORTS_BATCH"):
        return
    from salesreports import guard

    guard.install()
    guard.watch(shell)


def _preview_context(kind: str, ident: str, period: str, params_file: str) -> dict[str, Any]:
    """The context of a preview, built by a child process so that this kernel never holds the data set."""
    import subprocess
    import sys
    import tempfile

    from salesreports import errors, guard

    with guard.exempt(), tempfile.TemporaryDirectory(prefix="salesreports-preview-") as tmp:
        out = Path(tmp) / "context.json"
        args = [
            sys.executable,
            "-m",
            "salesreports.report.scope",
            kind,
            ident,
            period,
            str(Path(params_file).resolve()),
            str(out),
        ]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
            msg = f"building the preview context of {kind} '{ident}' failed (exit {proc.returncode}):\n{tail}"
            raise errors.InternalError(msg)
        from salesreports.report.contexts import read_context

        data: dict[str, Any] = read_context(out)
    if "error" in data and "kind" not in data:
        cls = getattr(errors, str(data["error"]), errors.SalesReportsError)
        if not (isinstance(cls, type) and issubclass(cls, errors.SalesReportsError)):
            cls = errors.SalesReportsError
        err = cls.__new__(cls)
        errors.SalesReportsError.__init__(err, str(data.get("message", "")))
        raise err
    return data


def _check_context(data: dict[str, Any], kind: str, ident: str, period: str, where: str) -> None:
    """Refuse a context that is not the report asked for (another rep's, another period's)."""
    got_kind = data.get("kind")
    got_id = (data.get("rep") or {}).get("rep_id") if got_kind == "rep" else (data.get("team") or {}).get("name")
    got_period = (data.get("period") or {}).get("label")
    if (got_kind, got_id, got_period) != (kind, ident, period):
        msg = (
            f"{where} is the {got_kind} report of '{got_id}' for {got_period}, but the notebook asks for the "
            f"{kind} report of '{ident}' for {period}. Fix: pass the context file written for this report "
            "(`salesreports run` does), or leave context empty for a preview."
        )
        raise ParamsError(msg, file=where, kind=kind, id=ident, period=period)


class _View:
    def __init__(self, context: dict[str, Any]) -> None:
        self.ctx = context
        self.currency = str(context.get("currency", "$"))
        self.period_end = str(context["period"]["end"])
        self.previous_end = str(pd.Period(self.period_end, "M") - 1)
        self._kpis = _table(context.get("kpis"), KPI_COLUMNS)

    @property
    def period_title(self) -> str:
        """The period, for people: October 2026."""
        return str(self.ctx["period"]["title"])

    def row(self, kpi: str, grain: str = "month", period_end: str | None = None) -> dict[str, Any]:
        """The context row of a KPI (value, reason, team figures, trends); {} when absent."""
        k = self._kpis
        hit = k[(k["kpi"] == kpi) & (k["grain"] == grain) & (k["period_end"] == (period_end or self.period_end))]
        return {} if hit.empty else {str(k): v for k, v in hit.iloc[0].to_dict().items()}

    def value(self, kpi: str, grain: str = "month", period_end: str | None = None) -> tuple[float | None, str]:
        """(value, reason) of a KPI; value None when not available."""
        r = self.row(kpi, grain, period_end)
        if not r:
            return None, "no data for this period"
        return _num(r.get("value")), str(r.get("reason") or "")

    def text(self, kpi: str, grain: str = "month") -> str:
        """A KPI's value formatted by the registry ("not available" when missing)."""
        v, _ = self.value(kpi, grain)
        return format_value(v, get(kpi).format, self.currency)

    def series(self, kpi: str) -> pd.DataFrame:
        """The KPI's monthly rows over the last 12 months."""
        k = self._kpis
        s = k[(k["kpi"] == kpi) & (k["grain"] == "month") & (k["period_end"] <= self.period_end)]
        return s.sort_values("period_end").tail(12).reset_index(drop=True)

    def tile(self, name: str) -> Any:
        """One headline tile (also used by the email, so mail and page agree)."""
        from salesreports.report.display import Tile

        grain = get(name).tile_grain
        v, reason = self.value(name, grain)
        prev, _ = self.value(name, grain, period_end=self.previous_end)
        target = attainment = None
        if name == "revenue":
            attainment, _ = self.value("quota_attainment")
            target = v / attainment if v is not None and attainment else None
        tile = Tile.for_kpi(
            name, v, target=target, attainment=attainment, previous=prev, reason=reason, currency=self.currency
        )
        median = _num(self.row(name, grain).get("team_median"))
        extra = [get(name).tile_note] if get(name).tile_note else []
        if median is not None and tile.unavailable_reason is None:
            extra.append(f"team median {format_value(median, get(name).format, self.currency)}")
        if extra and tile.unavailable_reason is None:
            tile = Tile(tile.label, tile.value, (*tile.sub, *extra), tile.change, tile.direction, None)
        return tile

    def tiles(self, kpis: Sequence[str] | None = None) -> Any:
        """Headline KPI tiles: value, target and attainment, change vs last month, team median."""
        from salesreports.report.display import tiles

        return tiles([self.tile(n) for n in (kpis or [k.name for k in registry().headline()])])

    def goals(self) -> Any:
        """Goal progress: actual, expected at pace, projected to the deadline, status."""
        from salesreports.report.display import callout, goal_list

        goals = self.ctx.get("goals") or []
        if not goals:
            return callout("info", "No goals", ["No goals in params/goals.yaml concern this report."])
        items = []
        later = [g for g in goals if g["status"] in ("not started", "not available")]
        for g in goals:
            if g in later:
                continue
            text = g.get("text") or {}
            owner = "" if g["owner"] in (self.ctx.get("rep", {}).get("rep_id"),) else f" ({g['owner']})"
            items.append(
                {
                    "name": f"{g['label']}{owner}: {g['summary']}" if g.get("summary") else g["goal_id"],
                    "status": g["status"],
                    "actual": text.get("actual", ""),
                    "expected": text.get("expected", ""),
                    "projected": text.get("projected", ""),
                    "target": text.get("target", ""),
                    "progress": g.get("actual_pct"),
                    "expected_progress": g.get("expected_pct"),
                    "deadline": g.get("deadline", ""),
                    "note": g.get("objective", ""),
                }
            )
        shown = goal_list(items) if items else None
        if later:
            notes = callout(
                "info",
                "Goals not measured yet",
                [
                    f"{g['label']} ({g['owner']}): {g['status']}" + (f" — {g['note']}" if g.get("note") else "")
                    for g in later
                ],
            )
            return notes if shown is None else shown + notes
        return shown


class RepView(_View):
    """One rep's scorecard context."""

    @property
    def name(self) -> str:
        """The rep's display name."""
        return str(self.ctx["rep"]["name"])

    @property
    def team(self) -> str:
        """The rep's team."""
        return str(self.ctx["rep"]["team"])

    def trend(self, kpi: str) -> Any:
        """A 12-month trend of a KPI with the team's median and interquartile band."""
        from salesreports.report.charts import trend
        from salesreports.report.display import chart

        s = self.series(kpi)
        cols = ["period_end", "value", "team_median", "team_p25", "team_p75"]
        frame = s.reindex(columns=cols).astype(dict.fromkeys(cols[1:], "float64"))
        k = get(kpi)
        shown = frame.dropna(subset=["value"])
        if shown.empty:
            alt_text = f"{k.label}: not available for the last 12 months."
        else:
            last = shown.iloc[-1]
            alt_text = (
                f"{k.label} by month, {shown['period_end'].iloc[0]} to {last['period_end']}: latest "
                f"{format_value(last['value'], k.format, self.currency)}, 12-month high "
                f"{format_value(shown['value'].max(), k.format, self.currency)}, low "
                f"{format_value(shown['value'].min(), k.format, self.currency)}."
            )
            if not _nan(last["team_median"]):
                alt_text += f" Team median {format_value(last['team_median'], k.format, self.currency)}."
        return chart(trend(frame, kpi, label=self.name), alt_text, name=f"trend-{kpi}")

    def funnel(self) -> Any:
        """Leads -> qualified -> won for the month."""
        from salesreports.report.charts import funnel
        from salesreports.report.display import callout, chart

        rows = [r for r in self.ctx.get("funnel", []) if r.get("count") is not None]
        if not rows:
            return callout("info", "Funnel not available", ["The data has no leads for this period."])
        alt_text = "Funnel this month: " + ", ".join(f"{r['stage']} {r['count']:,.0f}" for r in rows) + "."
        return chart(funnel(pd.DataFrame(rows)), alt_text, name="funnel")

    def activity(self) -> Any:
        """Calls, emails, meetings and demos per week over the last 12 weeks."""
        from salesreports.report.charts import activity
        from salesreports.report.display import callout, chart

        rows = self.ctx.get("activity_weekly") or []
        if not rows:
            return callout("info", "Activity not available", ["No calls, emails or meetings are logged."])
        frame = pd.DataFrame(rows)
        per_type = frame.groupby("type")["count"].sum()
        weeks = frame["week"].nunique()
        alt_text = (
            f"Activity per week over the last {weeks} weeks: "
            + ", ".join(f"{t} {c / weeks:.1f}" for t, c in per_type.items())
            + "."
        )
        return chart(activity(frame), alt_text, name="activity")

    def ramp(self, kpi: str = "revenue") -> Any:
        """For reps in their first year: each month of tenure against earlier hires' median."""
        from salesreports.report.charts import ramp
        from salesreports.report.display import callout, chart

        tenure = self.ctx["rep"].get("tenure_months")
        rows = [r for r in self.ctx.get("ramp", []) if r["kpi"] == kpi and r["tenure_month"] <= 12]
        if tenure is None or tenure > 12 or not rows:
            why = "no hire date in the data" if tenure is None else f"{tenure} months in the role"
            return callout("info", "Ramp-up complete", [f"The ramp comparison covers the first 12 months ({why})."])
        frame = pd.DataFrame(rows).rename(columns={"ramp_median": "benchmark"})
        frame = frame[["tenure_month", "value", "benchmark"]].astype("float64")
        k = get(kpi)
        last = rows[-1]
        position = last.get("position") or "not comparable"
        alt_text = (
            f"{k.label} by month of tenure, months 1 to {int(last['tenure_month'])}: latest "
            f"{format_value(last['value'], k.format, self.currency)} against earlier hires' median "
            f"{format_value(last['ramp_median'], k.format, self.currency)} ({position})."
        )
        if _nan(last.get("ramp_median")) and last.get("ramp_reason"):
            alt_text += f" Benchmark not available: {last['ramp_reason']}."
        return chart(ramp(frame, kpi, label=self.name), alt_text, name=f"ramp-{kpi}")

    def position(self, kpis: Sequence[str] | None = None) -> Any:
        """Percentile position in the team per KPI (team aggregates only), over the same period as its tile."""
        from salesreports.report.display import table

        names = kpis or [k.name for k in registry().headline()]
        rows = []
        for name in names:
            k = get(name)
            r = self.row(name, k.tile_grain)
            pct = _num(r.get("percentile"))
            rows.append(
                {
                    "KPI": f"{k.label} ({k.tile_note})" if k.tile_note else k.label,
                    "You": format_value(_num(r.get("value")), k.format, self.currency),
                    "Team median": format_value(_num(r.get("team_median")), k.format, self.currency),
                    "Team middle half": (
                        f"{format_value(_num(r.get('team_p25')), k.format, self.currency)} – "
                        f"{format_value(_num(r.get('team_p75')), k.format, self.currency)}"
                        if not _nan(r.get("team_p25"))
                        else "not available"
                    ),
                    "Percentile in team": "not available" if pct is None else f"{pct:.0f}th",
                    "vs last review": self._review_text(name, r),
                }
            )
        n = self.ctx["team"].get("n_reps")
        need = self.ctx["team"]["min_group_size"]
        caption = (
            f"Team {self.team}: {n} reps. Team figures need at least {need} reps with a value, "
            f"the middle half at least {max(need, 5)}, so that no colleague's own number can be worked out."
        )
        frame = pd.DataFrame(rows)
        return table(frame, caption=caption, figures=[c for c in frame.columns if c != "KPI"])

    def _review_text(self, name: str, r: dict[str, Any]) -> str:
        k = get(name)
        before, now = _num(r.get("review_value")), _num(r.get("value"))
        if before is None or now is None:
            return "not available"
        return f"{format_value(before, k.format, self.currency)} → {format_value(now, k.format, self.currency)}"

    def feedback(self) -> Any:
        """The rep's own recent feedback (client, manager, peer), as quotes."""
        from salesreports.report.display import callout

        rows = self.ctx.get("feedback") or []
        if not rows:
            return callout("info", "No feedback", ["No client, manager or peer feedback in the last six months."])
        lines = []
        for r in rows[:6]:
            score = "" if r.get("score") is None else f" ({r['score']:.0f}/5)"
            lines.append(f"{r['date']} · {r['source']}{score}: “{r.get('text') or ''}”")
        return callout("info", f"Recent feedback ({len(rows)} notes in six months)", lines)

    def coaching(self) -> Any:
        """Training topics with their evidence (numbers and quotes)."""
        from salesreports.report.display import Html, callout

        needs = self.ctx.get("coaching") or []
        if not needs:
            return callout(
                "good",
                "No training needs flagged",
                ["Every KPI is at or above the team benchmark and no feedback theme recurs."],
            )
        out: Html | None = None
        for need in needs[:4]:
            lines = [e["text"] for e in need.get("evidence", [])]
            lines += [f"“{q['text']}” ({q['source']}, {q['date']})" for q in need.get("quotes", [])[:2]]
            box = callout("warn", f"{need['topic']}: {need.get('description', '')}".strip(": "), lines)
            out = box if out is None else out + box
        return out

    def incentive(self) -> Any:
        """The bonus estimate from this month's attainment."""
        from salesreports.report.display import callout

        est = self.ctx.get("incentive")
        if not est:
            return callout("info", "No incentive plan", ["params/coaching.yaml defines no incentive tiers."])
        good = (est.get("attainment") or 0) >= 1
        span = {"month": "this month", "quarter": "quarter to date", "ytd": "year to date", "t12m": "last 12 months"}
        title = f"Estimated bonus — {span.get(str(est.get('grain')), 'this period')}"
        return callout(
            "good" if good else "info", title, [est["summary"], "An estimate from the attainment tiers, not a payslip."]
        )


class TeamView(_View):
    """A team (or company) summary context, for managers."""

    def __init__(self, context: dict[str, Any]) -> None:
        super().__init__(context)
        self._reps = _table(context.get("rep_kpis"), ["rep_id", *KPI_COLUMNS])
        self._names = {m["rep_id"]: m["name"] for m in context["team"]["members"]}

    @property
    def name(self) -> str:
        """The team's name."""
        return str(self.ctx["team"]["name"])

    def rep_frame(self, kpi: str, grain: str | None = None) -> pd.DataFrame:
        """Each member's row of a KPI for the period (default: the grain of the KPI's tile), name as ``entity``."""
        grain = grain or get(kpi).tile_grain
        r = self._reps
        frame = r[(r["kpi"] == kpi) & (r["grain"] == grain)].copy()
        frame["entity"] = frame["rep_id"].map(self._names)
        frame["value"] = frame["value"].astype("float64")
        return frame

    def leaderboard(self, kpis: Sequence[str] = ("quota_attainment", "revenue", "win_rate", "deals_won")) -> Any:
        """Members ranked by attainment (then revenue), with headline KPIs."""
        from salesreports.report.display import table

        frame = pd.DataFrame({"rep_id": list(self._names)})
        for kpi in kpis:
            f = self.rep_frame(kpi)[["rep_id", "value"]].rename(columns={"value": kpi})
            frame = frame.merge(f, on="rep_id", how="left")
        frame = frame.sort_values(list(kpis[:2]), ascending=False, na_position="last")
        frame.insert(0, "Rep", frame.pop("rep_id").map(self._names))
        return table(frame.reset_index(drop=True), caption=f"Leaderboard — {self.period_title}", currency=self.currency)

    def most_improved(self, kpi: str = "quota_attainment", top: int = 5) -> Any:
        """The largest gains since last month."""
        from salesreports.report.display import callout, table

        frame = self.rep_frame(kpi)
        frame = frame.assign(change=frame["change_prev"].astype("float64")).dropna(subset=["change"])
        frame = frame[frame["change"] > 0].sort_values("change", ascending=False).head(top)
        if frame.empty:
            return callout("info", "No improvement to show", [f"No rep improved {get(kpi).label.lower()} this month."])
        k = get(kpi)
        out = pd.DataFrame(
            {
                "Rep": frame["entity"],
                "Last month": frame["prev_value"].astype("float64"),
                "This month": frame["value"],
                "Change": frame["change"],
            }
        )
        fmt = {"Last month": k.format, "This month": k.format, "Change": k.format}
        return table(
            out.reset_index(drop=True), formats=fmt, caption=f"Most improved: {k.label}", currency=self.currency
        )

    def distribution(self, kpi: str) -> Any:
        """Each member's value of a KPI as a strip plot."""
        from salesreports.report.charts import distribution
        from salesreports.report.display import chart

        frame = self.rep_frame(kpi).dropna(subset=["value"])
        k = get(kpi)
        alt_text = (
            f"{k.label} across {len(frame)} reps"
            + (
                f": median {format_value(frame['value'].median(), k.format, self.currency)}, from "
                f"{format_value(frame['value'].min(), k.format, self.currency)} to "
                f"{format_value(frame['value'].max(), k.format, self.currency)}"
                if len(frame)
                else ""
            )
            + "."
        )
        return chart(distribution(frame[["entity", "value"]], kpi), alt_text, name=f"dist-{kpi}")

    def attention(self) -> Any:
        """Reps below the team's lower quartile on a key KPI, or with a goal at risk or missed."""
        from salesreports.report.display import callout

        flags: dict[str, list[str]] = {}
        for kpi in ATTENTION_KPIS:
            k = get(kpi)
            f = self.rep_frame(kpi)
            low = (
                f[f["value"] < f["value"].quantile(0.25)]
                if k.higher_is_better
                else f[f["value"] > f["value"].quantile(0.75)]
            )
            for _, r in low.iterrows():
                flags.setdefault(str(r["entity"]), []).append(
                    f"{k.label} {format_value(r['value'], k.format, self.currency)}"
                )
        for g in self.ctx.get("goals") or []:
            if g["status"] in ("at risk", "missed") and g["owner"] in self._names:
                flags.setdefault(self._names[g["owner"]], []).append(f"goal {g['goal_id']} {g['status']}")
        if not flags:
            return callout("good", "Nobody stands out", ["No rep is in the bottom quarter on a key KPI."])
        lines = [f"{name}: {'; '.join(items)}" for name, items in sorted(flags.items(), key=lambda x: -len(x[1]))]
        return callout("warn", f"{len(flags)} rep(s) to talk to", lines)


def rep_view(rep_id: str, period: str, context: str = "", params_file: str = "../params/config.yaml") -> RepView:
    """The view a rep scorecard template works on (see the module docstring)."""
    return RepView(_load(context, "rep", rep_id, period, params_file))


def team_view(team: str, period: str, context: str = "", params_file: str = "../params/config.yaml") -> TeamView:
    """The view a team summary template works on."""
    return TeamView(_load(context, "team", team, period, params_file))
