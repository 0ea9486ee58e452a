"""The privacy boundary: a rep's context holds their own rows and team aggregates only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from salesreports.data.loading import load_dataset
from salesreports.metrics.engine import compute_kpis
from salesreports.metrics.periods import parse_period
from salesreports.params import load_config
from salesreports.report.contexts import plain, records
from salesreports.report.scope import Scope, build_scope, header

OTHERS_OF_R1 = ["R2", "R3", "Bob Baker", "Cy Cole", "bob.baker@example.com", "D5", "D6", "A4", "A5"]


@pytest.fixture(scope="module")
def scope(tiny_config: Path) -> Scope:
    config = load_config(tiny_config, environ={})
    data = load_dataset(config.source_path)
    return build_scope(data, compute_kpis(data), config, parse_period("2025-03"))


def tokens(context: dict[str, object]) -> str:
    return json.dumps(plain(context), ensure_ascii=False)


@pytest.mark.parametrize("other", OTHERS_OF_R1)
def test_rep_context_has_no_other_rep(scope: Scope, other: str) -> None:
    text = tokens(scope.rep_context("R1"))
    assert not re.search(rf"(?<![\w.]){re.escape(other)}(?![\w])", text), other


def test_rep_context_has_own_numbers(scope: Scope) -> None:
    ctx = scope.rep_context("R1")
    rows = {(r["kpi"], r["grain"]): r for r in records(ctx["kpis"]) if r["period_end"] == "2025-03"}
    assert rows[("revenue", "month")]["value"] == 4000.0
    assert ctx["rep"]["name"] == "Ann Archer" and ctx["rep"]["team"] == "North"
    assert [f["text"] for f in ctx["feedback"]] == ["Quick answers and a clear proposal."]
    assert {r["stage"]: r["count"] for r in ctx["funnel"]} == {"Leads": 4.0, "Qualified": 3.0, "Won deals": 2.0}


def test_team_figures_of_small_teams_are_suppressed(scope: Scope) -> None:
    """North has two reps, fewer than min_group_size 3: R1 must not learn R2's number from a median."""
    kpis = records(scope.rep_context("R1")["kpis"])
    rows = [r for r in kpis if r["kpi"] == "revenue" and r["period_end"] == "2025-03"]
    assert rows and all(r["team_median"] is None and r["percentile"] is None for r in rows)
    assert all("fewer than 3 reps" in r["team_reason"] for r in rows)


def test_team_context_holds_its_members_only(scope: Scope) -> None:
    ctx = scope.team_context("North")
    assert [m["rep_id"] for m in ctx["team"]["members"]] == ["R1", "R2"]
    assert {r["rep_id"] for r in records(ctx["rep_kpis"])} == {"R1", "R2"}
    assert "Cy Cole" not in tokens(ctx)
    company = scope.team_context("company")
    assert len(company["team"]["members"]) == 3


def test_employment_reasons(scope: Scope) -> None:
    assert scope.employment("R1") == ""
    early = build_scope(scope.data, scope.table, scope.config, parse_period("2025-01"))
    assert "joined on 2025-02-15" in early.employment("R2")


def test_header(scope: Scope) -> None:
    head = header(scope.rep_context("R1"))
    assert head["title"] == "\u2068Ann Archer\u2069 — scorecard"  # names isolated (FSI…PDI)
    assert head["subtitle"] == "Team \u2068North\u2069 · March 2025"
    assert header(scope.team_context("company"))["title"] == "Company summary"


def test_item4_header_isolates_names_in_title_and_subtitle(scope: Scope) -> None:
    context = scope.rep_context("R1")
    context["rep"] = {**context["rep"], "name": "Bob \u202eBaker", "team": "No\u202erth"}
    head = header(context)
    assert head["title"] == "\u2068Bob \u202eBaker\u2069 — scorecard"  # "— scorecard" stays left to right
    assert head["subtitle"] == "Team \u2068No\u202erth\u2069 · March 2025"
    assert head["rep_name"] == "Bob \u202eBaker" and head["team"] == "No\u202erth"  # each in an element of its own


def test_item5_feedback_tags_naming_a_colleague_are_redacted(tmp_path: Path) -> None:
    """Only the text was redacted: a tag naming another rep reached the rep's context.json."""
    import shutil

    from conftest import TINY, write_config
    from salesreports.report.contexts import write_context

    data = tmp_path / "data"
    shutil.copytree(TINY, data)
    feedback = (data / "feedback.csv").read_text(encoding="utf-8")
    feedback = feedback.replace(
        "R1,2025-03-10,client,4,responsiveness,",
        'R1,2025-03-10,client,4,"responsiveness;ask CY COLE;bob.baker@example.com;Ann Archer",',
    )
    (data / "feedback.csv").write_text(feedback, encoding="utf-8")
    config = load_config(write_config(tmp_path, data / "source.yaml"), environ={})
    dataset = load_dataset(config.source_path)
    scoped = build_scope(dataset, compute_kpis(dataset), config, parse_period("2025-03"))
    context = scoped.rep_context("R1")
    assert [f["tags"] for f in context["feedback"]] == [
        "responsiveness;ask [a colleague];[a colleague];Ann Archer"  # the rep's own name stays
    ]
    out = tmp_path / "R1" / "context.json"
    out.parent.mkdir()
    write_context(context, out)
    for file in out.parent.iterdir():
        raw = file.read_bytes().decode("utf-8", "replace").casefold()
        for other in ("cy cole", "bob.baker@example.com"):
            assert other not in raw, (file.name, other)


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> Scope:
    """The tiny fixture for a company in Germany, in euros; Bob reads French, Cy's locale is a typo."""
    import shutil

    import pandas as pd

    from conftest import TINY, write_config

    root = tmp_path_factory.mktemp("german")
    shutil.copytree(TINY, root / "tiny")
    reps = pd.read_csv(root / "tiny" / "reps.csv", dtype=str)
    reps["locale"] = ["", "fr-FR", "xx_YY"]
    reps.to_csv(root / "tiny" / "reps.csv", index=False)
    config = load_config(
        write_config(root, root / "tiny" / "source.yaml", extra="locale: de_DE\ncurrency: EUR\n"), environ={}
    )
    data = load_dataset(config.source_path)
    return build_scope(data, compute_kpis(data), config, parse_period("2025-03"))


def test_a_german_scorecard_writes_figures_and_titles_in_german(german: Scope) -> None:
    from salesreports.report.views import RepView

    ctx = german.rep_context("R1")
    assert (ctx["locale"], ctx["currency"]) == ("de_DE", "EUR")
    assert (ctx["period"]["title"], ctx["period"]["previous"]["title"]) == ("März 2025", "Februar 2025")
    text = repr(RepView(ctx).tiles())
    assert "Umsatz: 4.000\u00a0€ (Zielwert 5.000\u00a0€ · 80,0\u00a0% erreicht" in text  # the German catalog
    assert "Abschlussquote: 66,7\u00a0%" in text
    assert header(ctx)["period_title"] == "März 2025"


def test_a_reps_own_locale_overrides_the_companys(german: Scope) -> None:
    from salesreports.report.views import RepView

    bob = german.rep_context("R2")
    assert (bob["locale"], bob["period"]["title"]) == ("fr_FR", "mars 2025")
    assert "Chiffre d'affaires: 0\u00a0€ (±0\u00a0€ vs le mois dernier)" in repr(RepView(bob).tiles())
    cy = german.rep_context("R3")  # an unknown locale: the company's (validate warns)
    assert (cy["locale"], cy["period"]["title"]) == ("de_DE", "März 2025")
    assert german.team_context("North")["locale"] == "de_DE"  # a manager reads the company's


def test_an_unknown_rep_locale_is_a_warning_of_validate(german: Scope) -> None:
    from salesreports.data.validate import check

    [issue] = [i for i in check(german.data).warnings if "locale" in i.message]
    assert issue.table == "reps" and issue.column == "locale" and issue.count == 1
    assert "unknown locale 'xx_YY'" in issue.message and "use the settings' `locale`" in issue.message


def test_an_en_us_context_has_no_locale_key(scope: Scope) -> None:
    ctx = scope.rep_context("R1")
    assert "locale" not in ctx and ctx["period"]["title"] == "March 2025"


def test_goal_figures_and_sentences_in_the_reports_locale(tmp_path: Path) -> None:
    """Ann's goal reads in German on a German company's scorecard, in French on Bob's; en_US as before."""
    import shutil
    import textwrap

    import pandas as pd

    from conftest import TINY, write_config

    shutil.copytree(TINY, tmp_path / "tiny")
    reps = pd.read_csv(tmp_path / "tiny" / "reps.csv", dtype=str)
    reps["locale"] = ["", "fr_FR", ""]
    reps.to_csv(tmp_path / "tiny" / "reps.csv", index=False)
    goals = tmp_path / "goals.yaml"
    goals.write_text(
        textwrap.dedent("""\
            goals:
              - {id: ann, owner: R1, metric: revenue, target: 9000, start: 2025-01, deadline: 2025-06}
              - {id: bob, owner: R2, metric: revenue, target: 9000, start: 2025-01, deadline: 2025-06}
        """),
        encoding="utf-8",
    )

    def scope_of(name: str, extra: str = "") -> Scope:
        path = write_config(tmp_path / name, tmp_path / "tiny" / "source.yaml", extra=extra)
        path.write_text(path.read_text(encoding="utf-8").replace('goals: ""', f"goals: {goals}"), encoding="utf-8")
        config = load_config(path, environ={})
        data = load_dataset(config.source_path)
        return build_scope(data, compute_kpis(data), config, parse_period("2025-03"))

    english = scope_of("en")
    [goal] = english.rep_context("R1")["goals"]
    assert "$" in goal["summary"] and "Jun 2025" in goal["summary"] and goal["text"]["target"] == "$9,000"
    german = scope_of("de", "locale: de_DE\ncurrency: EUR\n")
    [ann] = german.rep_context("R1")["goals"]
    assert ann["text"]["target"] == "9.000\u00a0€"
    assert "9.000\u00a0€" in ann["summary"] and "Juni 2025" in ann["summary"] and "$" not in ann["summary"]
    [bob] = german.rep_context("R2")["goals"]
    assert bob["text"]["target"] == "9\u202f000\u00a0€" and "juin 2025" in bob["summary"]


def test_the_header_is_in_the_reports_language(scope: Scope, request: pytest.FixtureRequest) -> None:
    from _catalog import install_catalog

    install_catalog(
        request,
        {
            "{name} — scorecard": "{name} — Scorecard",
            "Team {team} · {period}": "Team {team} · {period}",
            "Company summary": "Unternehmensübersicht",
            ("{n} rep · {period} · for managers", "{n} reps · {period} · for managers"): (
                "{n} Person · {period} · für Führungskräfte",
                "{n} Personen · {period} · für Führungskräfte",
            ),
        },
    )
    rep = {**scope.rep_context("R1"), "locale": "de_DE"}
    assert header(rep)["title"] == "\u2068Ann Archer\u2069 — Scorecard"
    company = {**scope.team_context("company"), "locale": "de_DE"}
    assert header(company)["title"] == "Unternehmensübersicht"
    assert header(company)["subtitle"] == "3 Personen · March 2025 · für Führungskräfte"  # the context's title
    assert header(scope.team_context("company"))["title"] == "Company summary"  # en_US: as written
    # a skipped rep's reason stays English in the run's manifest: the index translates it (retranslate)
    early = build_scope(scope.data, scope.table, scope.config, parse_period("2025-01"))
    assert early.employment("R2") == "joined on 2025-02-15, after January 2025"


def test_a_scope_for_one_reps_preview_gives_that_rep_the_same_context(tmp_path: Path) -> None:
    """build_scope(rep=...) checks and measures only the goals a rep's page shows (own, team, company): each
    rep's context is the one the whole scope gives, goals, notes and figures included."""
    from conftest import write_config
    from salesreports.data.demo import generate_demo
    from salesreports.data.validate import validate

    demo = tmp_path / "demo"
    generate_demo(demo, seed=5, scale=0.2, end_month="2026-10", months=8, n_reps=12)
    tables = "\n".join(f"  {t}: {{file: demo/{t}.csv}}" for t in ("reps", "deals", "leads", "activities", "targets"))
    (tmp_path / "source.yaml").write_text(f"name: d\nbase_dir: .\ntables:\n{tables}\n", encoding="utf-8")
    reps = load_dataset(tmp_path / "source.yaml").tables["reps"]
    team_of = dict(zip(reps["rep_id"].astype(str), reps["team"].astype(str), strict=True))
    first, second = sorted(team_of)[:2]
    other_team = next(t for t in sorted(set(team_of.values())) if t != team_of[first])
    owners = [first, second, team_of[first], other_team, "company", "Company"]
    goals = "\n".join(
        f"  - {{id: g{i}, owner: {o}, metric: revenue, target: {1000 * (i + 1)}, start: 2026-09, deadline: 2026-12,"
        f" objective: Grow revenue for the plan.}}"
        for i, o in enumerate(owners)
    )
    (tmp_path / "goals.yaml").write_text(f"goals:\n{goals}\n", encoding="utf-8")
    path = write_config(tmp_path, tmp_path / "source.yaml")
    path.write_text(path.read_text().replace('goals: ""', f"goals: {tmp_path / 'goals.yaml'}"), encoding="utf-8")
    config = load_config(path, environ={})
    data = load_dataset(config.source_path)
    validate(data)
    table = compute_kpis(data)
    period = parse_period("2026-10")
    whole = build_scope(data, table, config, period)
    assert len(whole.goals) == len(owners)
    for rep in (first, second, next(r for r, t in sorted(team_of.items()) if t == other_team)):
        alone = build_scope(data, table, config, period, rep=rep)
        assert len(alone.goals) < len(whole.goals)  # the other reps' and the other team's goals are left out
        mine, full = plain(alone.rep_context(rep)), plain(whole.rep_context(rep))
        mine.pop("generated_at", None), full.pop("generated_at", None)
        assert json.dumps(mine, sort_keys=True, default=str) == json.dumps(full, sort_keys=True, default=str)
        assert {g["goal_id"] for g in full["goals"]} >= {"g4", "g5"}  # the company's, however its owner is spelt
    assert build_scope(data, table, config, period, rep="nobody").goals == whole.goals  # unknown: every goal
