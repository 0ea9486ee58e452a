"""Privacy between reps: a rep's scorecard (context, notebook, HTML, PDF, email) holds nothing of other reps.

The leak detector looks for every *other* rep's id, name and email, and for their deal ids and accounts
(those not shared with the scorecard's rep), in every file of a rep's report. It is proven to work by a
planted leak (another rep's name pushed into a context) that it must catch in the notebook, HTML and PDF.
"""

from __future__ import annotations

import email
import html
import json
import pickle
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import TINY, write_config
from salesreports.data.loading import Dataset, load_dataset
from salesreports.errors import ParamsError, TemplateError
from salesreports.metrics.engine import compute_kpis
from salesreports.metrics.periods import parse_period
from salesreports.params import load_config
from salesreports.report.contexts import plain, records, write_context
from salesreports.report.scope import QUARTILE_MIN_GROUP, Scope, build_scope

PDFTOTEXT = shutil.which("pdftotext")
TABLES = ("reps", "deals", "leads", "activities", "targets", "feedback")


# --------------------------------------------------------------------------- the leak detector


@dataclass
class Forbidden:
    """What must not appear in one rep's report: other reps' identifiers (as words) and names (as phrases)."""

    owner: str
    words: set[str] = field(default_factory=set)
    phrases: set[str] = field(default_factory=set)


def forbidden_for(data: Dataset, rep_id: str) -> Forbidden:
    """Other reps' ids, names and emails, and their deal ids and accounts not shared with ``rep_id``."""
    reps = data.tables["reps"]
    deals = data.tables["deals"]
    others = reps[reps["rep_id"] != rep_id]
    mine = deals[deals["rep_id"] == rep_id]
    theirs = deals[deals["rep_id"] != rep_id]
    words = set(others["rep_id"].astype(str)) | set(others["email"].dropna().astype(str))
    words |= set(theirs["deal_id"].astype(str))
    words |= set(theirs["account_id"].astype(str)) - set(mine["account_id"].astype(str))
    return Forbidden(rep_id, words, set(others["name"].dropna().astype(str)))


_WORD = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]+|\w+")


def find_leaks(text: str, forbidden: Forbidden) -> list[str]:
    """The forbidden words and phrases found in a text (HTML entities already decoded by the caller)."""
    flat = " ".join(text.split())
    found = sorted(w for w in set(_WORD.findall(flat)) if w in forbidden.words)
    found += sorted(p for p in forbidden.phrases if p in flat)
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def json_text(path: Path) -> str:
    """Every string of a JSON document (context, notebook), decoded."""
    return "\n".join(_strings(json.loads(path.read_text(encoding="utf-8"))))


_CODE_SCRIPT = re.compile(r"<script(?![^>]*application/json)[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.IGNORECASE | re.DOTALL)  # "size: A4" is CSS, not account A4
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")


def html_text(source: str) -> str:
    """An HTML page's text, attributes and chart specs, decoded (scripts, styles and base64 images left out)."""
    code = _STYLE.sub(" ", _CODE_SCRIPT.sub(" ", source))
    return html.unescape(_DATA_URI.sub(" ", code)).replace("\\u003c", "<")


def pdf_text(path: Path) -> str:
    """The text of a PDF (pdftotext)."""
    assert PDFTOTEXT, "poppler-utils (pdftotext) is needed"
    return subprocess.run([PDFTOTEXT, str(path), "-"], capture_output=True, text=True, check=True).stdout


def eml_texts(path: Path, tmp: Path) -> dict[str, str]:
    """Every part of an email: headers, text and HTML parts decoded, PDF attachments as text."""
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    out = {"headers": "\n".join(f"{k}: {v}" for k, v in msg.items())}
    for i, part in enumerate(msg.walk()):
        kind = part.get_content_type()
        if kind == "text/plain":
            out[f"part{i}.txt"] = part.get_content()
        elif kind == "text/html":
            out[f"part{i}.html"] = html_text(part.get_content())
        elif kind == "application/pdf":
            pdf = tmp / f"{path.stem}-{i}.pdf"
            pdf.write_bytes(part.get_content())
            out[f"part{i}.pdf"] = pdf_text(pdf)
        elif part.get_filename():
            out[f"part{i}.filename"] = part.get_filename() or ""
    return out


def report_texts(folder: Path) -> dict[str, str]:
    """Every file of one rep's report folder as text (a file of a kind not read here fails the test)."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".json", ".ipynb"):
            out[path.name] = json_text(path)
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            out[path.name] = "\n".join([*map(str, frame.columns), *_strings(records(frame))])
        elif path.suffix == ".html":
            out[path.name] = html_text(path.read_text(encoding="utf-8"))
        elif path.suffix == ".pdf":
            out[path.name] = pdf_text(path)
        else:
            raise AssertionError(f"{path}: a report file the leak detector does not read")
    return out


def test_detector_finds_words_and_phrases() -> None:
    forbidden = Forbidden("R1", {"R2", "bob@example.com", "D5"}, {"Bob Baker"})
    assert find_leaks("R1 R22 D55 xR2", forbidden) == []
    assert find_leaks("team median 3; R2.", forbidden) == ["R2"]
    assert find_leaks("mail bob@example.com now", forbidden) == ["bob@example.com"]
    assert find_leaks("Bob\n   Baker", forbidden) == ["Bob Baker"]  # pdftotext breaks lines anywhere
    assert find_leaks(html_text("<p>Bob &amp; D5 <img src='data:image/png;base64,R2R2'></p>"), forbidden) == ["D5"]


# --------------------------------------------------------------------------- a demo-like run


def demo_source(folder: Path) -> Path:
    source = folder / "source.yaml"
    entries = "".join(f"  {t}: {{file: {t}.csv}}\n" for t in TABLES)
    source.write_text(f"name: demo-small\nbase_dir: .\ntables:\n{entries}", encoding="utf-8")
    return source


def settings(root: Path, source: Path, goals: Path | None = None, workers: int = 1) -> Path:
    """The conftest settings (min_group_size 3) with a goals file and a number of workers."""
    path = write_config(root, source)
    text = path.read_text(encoding="utf-8").replace("workers: 1", f"workers: {workers}")
    if goals is not None:
        text = text.replace('goals: ""', f"goals: {goals}")
    path.write_text(text, encoding="utf-8")
    return path


GOALS = """\
    goals:
      - id: own-revenue
        owner: {rep}
        metric: revenue
        target: 100000
        start: 2026-10
        deadline: 2026-12
        objective: Close the year strong.
      - id: other-revenue
        owner: {other}
        metric: revenue
        target: 100000
        start: 2026-10
        deadline: 2026-12
        objective: Another rep's own goal.
      - id: team-win-rate
        owner: {team}
        metric: win_rate
        per: quarter
        target: 40%
        start: 2026-10
        deadline: 2026-12
        objective: Win more of what we start.
      - id: company-revenue
        owner: company
        metric: revenue
        target: 2000000
        start: 2026-10
        deadline: 2026-12
        objective: Reach the annual plan.
    """


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    """A generated demo data set (16 reps in 4 teams, 14 months) with settings: min_group_size 3."""
    from salesreports.data.demo import generate_demo

    root = tmp_path_factory.mktemp("privacy-demo")
    generate_demo(root / "data", months=14, n_reps=16, end_month="2026-10")
    data = load_dataset(demo_source(root / "data"))
    reps = data.tables["reps"].set_index("rep_id")
    goals = root / "goals.yaml"
    goals.write_text(textwrap.dedent(GOALS.format(rep="R005", other="R006", team=reps.loc["R005", "team"])))
    config = settings(root, root / "data" / "source.yaml", goals, workers=2)
    return config, data


def test_every_rep_context_is_clean(demo: tuple[Path, Dataset]) -> None:
    """Fast: every rep's context (what the notebook, HTML, PDF and email are made of) names no other rep."""
    config_path, data = demo
    config = load_config(config_path, environ={})
    scope = build_scope(data, compute_kpis(data), config, parse_period("2026-10"))
    checked = 0
    for rep_id in scope.rep_ids():
        if scope.employment(rep_id):
            continue
        ctx = scope.rep_context(rep_id)
        text = "\n".join(_strings(plain(ctx)))
        assert find_leaks(text, forbidden_for(data, rep_id)) == [], rep_id
        # the rep's table holds only the rep's rows in memory too (pickled, it carries nothing more)
        kpis = pickle.loads(pickle.dumps(ctx["kpis"]))
        assert kpis.get_total_buffer_size() < 1.5 * kpis.nbytes, rep_id
        checked += 1
    assert checked >= 12


@pytest.fixture(scope="module")
def demo_run(demo: tuple[Path, Dataset]) -> tuple[Path, Any]:
    from salesreports.run.batch import run_reports

    config_path, _ = demo
    config = load_config(config_path, environ={})
    summary = run_reports(config, periods="2026-10")
    assert summary.ok, summary.failed
    return config_path, summary


@pytest.mark.notebooks
@pytest.mark.slow
def test_no_rep_scorecard_leaks(demo: tuple[Path, Dataset], demo_run: tuple[Path, Any]) -> None:
    """Every rep scorecard (context, executed notebook, HTML, PDF text) holds nothing of another rep."""
    _, data = demo
    config_path, summary = demo_run
    folder = load_config(config_path, environ={}).output_path / "2026-10"
    reps = [r for r in summary.results if r["kind"] == "rep"]
    assert len(reps) >= 12
    for entry in reps:
        texts = report_texts(folder / entry["folder"])
        assert set(texts) >= {"context.json", "kpis.parquet", "scorecard.ipynb", "scorecard.html", "scorecard.pdf"}
        forbidden = forbidden_for(data, entry["id"])
        for name, text in texts.items():
            assert find_leaks(text, forbidden) == [], f"{entry['id']}/{name}"
        assert entry["name"] in " ".join(texts["scorecard.pdf"].split())  # the detector reads real text


@pytest.mark.notebooks
@pytest.mark.slow
def test_no_rep_email_leaks(demo: tuple[Path, Dataset], demo_run: tuple[Path, Any], tmp_path: Path) -> None:
    """Every rep's email (headers, text, HTML, PDF attachment) is clean too."""
    from salesreports import mail

    _, data = demo
    config_path, summary = demo_run
    config = load_config(config_path, environ={})
    sent = mail.send_reports(config, period="2026-10")  # a dry run: .eml files in the outbox
    written = [row for row in sent.rows if row.path]
    assert len(written) >= 10
    team_keys = {r["id"] for r in summary.results if r["kind"] == "team"}
    for row in written:
        assert row.rep_id not in team_keys  # team summaries go to managers only, never by rep mail
        forbidden = forbidden_for(data, row.rep_id)
        for name, text in eml_texts(Path(row.path), tmp_path).items():
            assert find_leaks(text, forbidden) == [], f"{row.rep_id} email {name}"


@pytest.mark.notebooks
def test_detector_catches_a_planted_leak(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant Bob Baker's name and deal in Ann's context: the detector must find them in notebook, HTML and PDF."""
    from salesreports.run.batch import run_reports

    original = Scope.rep_context

    def leaky(self: Scope, rep_id: str) -> dict[str, Any]:
        ctx = original(self, rep_id)
        if rep_id == "R1":
            ctx["feedback"][0]["text"] = "Bob Baker closed D5 for you."
            kpis = ctx["kpis"].to_pandas()
            kpis.loc[0, "reason"] = "behind Bob Baker"
            ctx["kpis"] = kpis
        return ctx

    monkeypatch.setattr(Scope, "rep_context", leaky)
    config = load_config(make_config(), environ={})
    summary = run_reports(config, periods="2025-03", reps=["R1"], kinds=("rep",))
    assert summary.ok, summary.failed
    texts = report_texts(config.output_path / "2025-03" / "R1")
    forbidden = forbidden_for(load_dataset(TINY / "source.yaml"), "R1")
    for name in ("context.json", "scorecard.ipynb", "scorecard.html", "scorecard.pdf"):
        assert find_leaks(texts[name], forbidden) == ["D5", "Bob Baker"], name
    assert find_leaks(texts["kpis.parquet"], forbidden) == ["Bob Baker"]
    # the template's default rep_id (whatever rep an analyst last previewed) is not kept in executed notebooks
    from salesreports.run.jobs import DEFAULTS_NOTE

    notebook = texts["scorecard.ipynb"]
    assert DEFAULTS_NOTE in notebook and 'rep_id = "R007"' not in notebook and "R007" not in notebook


# --------------------------------------------------------------------------- what a context may hold


@pytest.fixture(scope="module")
def tiny_data() -> Dataset:
    return load_dataset(TINY / "source.yaml")


def tiny_scope(tmp_path: Path, data: Dataset, goals: str = "") -> Scope:
    path = None
    if goals:
        path = tmp_path / "goals.yaml"
        path.write_text(textwrap.dedent(goals), encoding="utf-8")
    config = load_config(settings(tmp_path, TINY / "source.yaml", path), environ={})
    return build_scope(data, compute_kpis(data), config, parse_period("2025-03"))


TINY_GOALS = """\
    goals:
      - {id: ann, owner: R1, metric: revenue, target: 5000, start: 2025-03, deadline: 2025-03, objective: Grow.}
      - {id: bob, owner: R2, metric: revenue, target: 900, start: 2025-03, deadline: 2025-03, objective: Bob's.}
      - {id: north, owner: North, metric: revenue, target: 9000, start: 2025-03, deadline: 2025-03, objective: Team.}
      - {id: all, owner: company, metric: revenue, target: 9000, start: 2025-03, deadline: 2025-03, objective: All.}
    """


def test_group_goals_lose_their_numbers_below_min_group_size(tmp_path: Path, tiny_data: Dataset) -> None:
    """North has two reps: its revenue total minus Ann's would be Bob's revenue."""
    scope = tiny_scope(tmp_path, tiny_data, TINY_GOALS)
    goals = {g["goal_id"]: g for g in scope.rep_context("R1")["goals"]}
    assert set(goals) == {"ann", "north", "all"}  # never another rep's own goal
    assert goals["ann"]["actual"] == 4000.0 and goals["ann"]["status"] != "not available"
    for hidden in ("north", "all"):  # the company has only R1 and R2 with deals in March: 2 < 3
        g = goals[hidden]
        assert g["status"] == "not available" and "fewer than 3 reps" in g["note"]
        assert all(g[k] is None for k in ("actual", "target", "expected", "projected", "actual_pct"))
        assert set(g["text"].values()) == {"not available"} and g["summary"] == ""
    # the manager's summary keeps the numbers
    team = {g["goal_id"]: g for g in scope.team_context("North")["goals"]}
    assert team["north"]["actual"] == 4000.0 and team["bob"]["owner"] == "R2"


def test_group_goals_keep_numbers_with_enough_contributors(tmp_path: Path, tiny_data: Dataset) -> None:
    scope = tiny_scope(tmp_path, tiny_data, TINY_GOALS)
    for g in scope.goals:
        if g["goal_id"] == "north":
            g["contributors"] = 3  # as if a third rep of North had deals in March
    goals = {g["goal_id"]: g for g in scope.rep_context("R1")["goals"]}
    assert goals["north"]["actual"] == 4000.0


def test_a_group_goal_nobody_contributed_to_says_so_not_privacy(tmp_path: Path, tiny_data: Dataset) -> None:
    """No rep of the group has data in the goal's window: the reason is that, not "fewer than N reps"."""
    south = "  - {id: south, owner: South, metric: revenue, target: 900, start: 2025-03, deadline: 2025-03}\n"
    scope = tiny_scope(tmp_path, tiny_data, TINY_GOALS + south)  # South's only rep, R3, has no deals at all
    south_goal = {g["goal_id"]: g for g in scope.rep_context("R3")["goals"]}["south"]
    assert south_goal["note"] == "no rep of team South has data for this goal in its window yet"
    for g in scope.goals:
        if g["goal_id"] == "all":
            g["contributors"] = 0  # as if nobody of the company had deals in March
    company_goal = {g["goal_id"]: g for g in scope.rep_context("R1")["goals"]}["all"]
    assert company_goal["note"] == "no rep of the company has data for this goal in its window yet"
    for g in (south_goal, company_goal):
        assert g["status"] == "not available" and g["actual"] is None and "figures hidden" not in g["note"]


def test_goal_owner_must_match_its_kind(tmp_path: Path, tiny_data: Dataset) -> None:
    """A rep whose id is a team's name does not get that team's goal as their own, and vice versa."""
    scope = tiny_scope(tmp_path, tiny_data, TINY_GOALS)
    for g in scope.goals:
        if g["goal_id"] == "bob":
            g["owner"] = "North"  # a rep goal whose owner text equals R1's team name
    assert "bob" not in {g["goal_id"] for g in scope.rep_context("R1")["goals"]}


def test_colleagues_named_in_feedback_are_hidden(tmp_path: Path) -> None:
    """Free text from managers and peers may name a colleague: a rep's context shows "[a colleague]" instead."""
    data_dir = tmp_path / "tiny"
    shutil.copytree(TINY, data_dir)
    feedback = data_dir / "feedback.csv"
    text = (
        "Bob Baker helped; ask BOB.BAKER@example.com or Cy  Cole, not Bobby Bakery. Ann Archer: ann.archer@example.com"
    )
    feedback.write_text(
        feedback.read_text(encoding="utf-8").replace("Quick answers and a clear proposal.", f'"{text}"')
        + "R1,2025-03-20,manager,2,closing,Cy Cole closes better than you.\n",
        encoding="utf-8",
    )
    data = load_dataset(data_dir / "source.yaml")
    scope = tiny_scope(tmp_path, data)
    ctx = scope.rep_context("R1")
    texts = [f["text"] for f in ctx["feedback"]]
    assert texts == [
        "[a colleague] closes better than you.",
        "[a colleague] helped; ask [a colleague] or [a colleague], not Bobby Bakery. "
        "Ann Archer: ann.archer@example.com",
    ]
    quotes = [q["text"] for need in ctx["coaching"] for q in need["quotes"]]
    assert quotes and all("Cy Cole" not in q and "Bob Baker" not in q for q in quotes)
    assert find_leaks(json.dumps(plain(ctx)), forbidden_for(data, "R1")) == []


def test_quartiles_need_five_reps(tmp_path: Path) -> None:
    """With 3 or 4 reps, median + quartiles + one's own value give away every colleague's value."""
    from salesreports.data.demo import generate_demo

    generate_demo(tmp_path / "data", months=14, n_reps=16, end_month="2026-10")
    data = load_dataset(demo_source(tmp_path / "data"))
    scope = build_scope(
        data, compute_kpis(data), load_config(write_config(tmp_path), environ={}), parse_period("2026-10")
    )
    rows = scope.rep_table
    few = rows["team_n_reps"] < QUARTILE_MIN_GROUP
    assert few.any() and (rows.loc[few, "team_n_reps"] >= 3).any()
    assert rows.loc[few, ["team_p25", "team_p75"]].isna().all().all()
    shown = rows["team_median"].notna() & few
    assert shown.any()  # the median stays from min_group_size (3) on
    many = rows["company_n_reps"] >= QUARTILE_MIN_GROUP
    assert rows.loc[many, "company_p25"].notna().any()
    ctx = scope.rep_context("R005")
    kpis = ctx["kpis"].to_pandas()
    assert kpis.loc[kpis["team_n_reps"] < QUARTILE_MIN_GROUP, ["team_p25", "team_p75"]].isna().all().all()
    for need in ctx["coaching"]:  # coaching evidence falls back to company quartiles, never a small team's
        for ev in need["evidence"]:
            assert not str(ev.get("benchmark_name", "")).startswith("team_p")


def test_rep_context_keys_are_the_documented_ones(tmp_path: Path, tiny_data: Dataset) -> None:
    """A new key in a rep's context must be reviewed for privacy: this list is the review."""
    ctx = tiny_scope(tmp_path, tiny_data).rep_context("R1")
    assert sorted(ctx) == sorted(
        [
            "version",
            "kind",
            "company",
            "currency",
            "generated_at",
            "as_of",
            "period",
            "rep",
            "kpis",
            "team",
            "ramp",
            "goals",
            "coaching",
            "incentive",
            "feedback",
            "activity_weekly",
            "activity_since",  # the day the activity data set starts (its first row's date): no person's record
            "funnel",
            "capabilities",  # of the data set: its tables, first months, unsupported KPIs and sections; no person
            "headline",  # KPI names
            # KPI -> the company-wide median lead-to-sale days and the ages of the latest months; no person
            "maturing",
        ]
    )
    assert set(ctx["maturing"]) <= {"lead_conversion"}
    assert all(sorted(m) == ["days", "months"] for m in ctx["maturing"].values())
    assert sorted(ctx["capabilities"]) == sorted(
        ["tables", "first_months", "last_month", "unsupported", "sections", "section_labels", "closed_deal_kpis"]
    )
    assert sorted(ctx["team"]) == ["min_group_size", "n_reps", "name"]
    assert sorted(ctx["rep"]) == sorted(
        ["rep_id", "name", "email", "team", "region", "manager_email", "hire_date", "tenure_months"]
    )
    assert "team_context" not in ctx and "rep_kpis" not in ctx and "members" not in ctx["team"]
    kpi_columns = set(ctx["kpis"].column_names)
    assert "rep_id" not in kpi_columns and not any(c.startswith("company_p") for c in kpi_columns)


# --------------------------------------------------------------------------- the boundary is structural


def test_preview_never_loads_the_data_in_the_kernel(tiny_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an empty context a view gets its context from a child process: this process never loads data."""
    import salesreports.data.loading
    import salesreports.report.scope
    from salesreports.report.views import rep_view

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the data set was loaded in the template's kernel")

    monkeypatch.setattr(salesreports.data.loading, "load_dataset", refuse)
    monkeypatch.setattr(salesreports.report.scope, "build_scope", refuse)
    view = rep_view("R1", "2025-03", "", str(tiny_config))
    assert view.name == "Ann Archer" and view.value("revenue") == (4000.0, "")


def test_view_refuses_another_reps_context(tiny_config: Path, tmp_path: Path, tiny_data: Dataset) -> None:
    from salesreports.report.views import rep_view, team_view

    scope = tiny_scope(tmp_path, tiny_data)
    path = tmp_path / "bob.json"
    write_context(scope.rep_context("R2"), path)
    with pytest.raises(ParamsError, match=r"is the rep report of 'R2' for 2025-03, but the notebook asks for .* 'R1'"):
        rep_view("R1", "2025-03", str(path))
    with pytest.raises(ParamsError, match="for 2025-02"):
        rep_view("R2", "2025-02", str(path))
    with pytest.raises(ParamsError, match="asks for the team report"):
        team_view("North", "2025-03", str(path))
    with pytest.raises(ParamsError, match=r"unknown team 'Nrth'.*Did you mean 'North'"):
        team_view("Nrth", "2025-03", "", str(tiny_config))


def _template_with(tmp_path: Path, line: str) -> Path:
    import nbformat

    nb = nbformat.read(Path(__file__).parents[1] / "reports" / "rep_scorecard.ipynb", as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell(line))
    path = tmp_path / "leaky.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("from salesreports.data.loading import load_dataset", "imports salesreports.data.loading"),
        ("import salesreports.metrics.engine as e", "imports salesreports.metrics.engine"),
        ("import duckdb", "imports duckdb"),
        ("import pandas as pd\ndeals = pd.read_csv('../data/demo/deals.csv')", "calls read_csv()"),
        ("text = open('../data/demo/reps.csv').read()", "calls open()"),
    ],
)
def test_templates_may_not_read_data(tmp_path: Path, make_config: Any, line: str, words: str) -> None:
    """`salesreports check` flags a template that reads data, and a run refuses it before writing anything."""
    from salesreports.run.batch import run_reports
    from salesreports.run.notebooks import check_template

    template = _template_with(tmp_path, line)
    found = [str(f) for f in check_template(template)]
    assert any(words in f and "privacy boundary" in f for f in found), found
    config = load_config(make_config(rep=template), environ={})
    with pytest.raises(TemplateError, match=r"(?s)cannot run.*privacy boundary.*Nothing was run or written"):
        run_reports(config, periods="2025-03", kinds=("rep",))
    assert not config.output_path.exists()


def test_shipped_templates_read_only_their_context() -> None:
    from salesreports.run.notebooks import check_template

    root = Path(__file__).parents[1] / "reports"
    for template in sorted(root.glob("*.ipynb")):
        assert not [f for f in check_template(template) if "privacy boundary" in f.message], template


@pytest.mark.notebooks
def test_a_review_pack_holds_only_the_reps_own_records(tmp_path: Path) -> None:
    """A quarter's review (review template: achievements, feedback themes with quotes, training plan, next
    goals) of R1 names nothing of R2: not R2's goals, feedback notes, name, email, deals or accounts."""
    from conftest import write_review_settings
    from salesreports.run.batch import run_reports

    config = load_config(write_review_settings(tmp_path), environ={})
    summary = run_reports(config, periods="2026-Q3", reps=["R1"], kinds=("rep",), workers=1)
    assert summary.ok, summary.failed
    data = load_dataset(config.source_path)
    forbidden = forbidden_for(data, "R1")
    forbidden.phrases |= {"Q4 plan of R2.", "Bob's own note on pricing.", "Another note of Bob's."}
    texts = report_texts(config.output_path / "2026-Q3" / "R1")
    assert {"scorecard.html", "scorecard.pdf", "scorecard.ipynb", "context.json"} <= set(texts)
    assert "Feedback themes" in texts["scorecard.html"] and "Q4 plan of R1." in texts["scorecard.html"]
    leaks = {name: found for name, text in texts.items() if (found := find_leaks(text, forbidden))}
    assert leaks == {}
