"""Hostile strings and identifiers, end to end: tests/fixtures/hostile through run_reports (real templates, HTML, PDF).

The fixture's reps, teams, accounts, products, lead sources, feedback and goals hold HTML/JS payloads that
would set ``window.__pwned`` or ``document.title``, Markdown, LaTeX and ``$``, CSV formulas, right-to-left
and zero-width characters, emoji and very long text; its rep ids are ``../../etc/passwd``, ``CON``, ``a/b``
and ``a\\b`` (same cleaned name), ``R1`` and ``r1`` (same name ignoring case), ``team-North`` (a team
folder's name), ``index.html`` (a file of the run) and an id with a newline; one rep has no name.

Every report must run, stay inside the output folder in a folder of its own, and show every payload as
text: escaped in HTML, harmless in the PDF, and no script may run in a real browser.

CSV formulas: salesreports writes no CSV export (reports are HTML/PDF/ipynb/JSON/eml), so there is nothing
to neutralise; the demo generator writes canonical data CSVs, not exports for spreadsheets.
"""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from email import policy
from email.utils import getaddresses
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, write_config
from salesreports.data.loading import load_dataset
from salesreports.params import load_config
from salesreports.run.batch import RunSummary, run_reports

HOSTILE = FIXTURES / "hostile"
PERIOD = "2025-03"
# raw markup that must never reach a page unescaped (case-insensitive)
RAW_PAYLOADS = [
    "<script>window.__pwned",
    "</script><script>",
    "<img src=x onerror",
    "<svg onload",
    "<iframe src=javascript",
    '<a href="javascript',
    "<b>South</b>",
    "<details open>",
    "<i>Region</i>",
    "<u>SMB</u>",
]
# text that must be shown, as text, somewhere in the reports
SHOWN = [
    "<script>window.__pwned=1;document.title='PWNED'</script>Ann",
    "=cmd|' /C calc'!A0",
    "**Bold** _it_ [link](javascript:window.__pwned=7) $x^2$",
]
IDS = ["R1", "../../etc/passwd", "CON", "a/b", "a\\b", "R\n6", "team-North", "index.html", "r1"]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    root = tmp_path_factory.mktemp("hostile")
    path = write_config(root, HOSTILE / "source.yaml")
    text = path.read_text(encoding="utf-8")
    text = text.replace('goals: ""', f"goals: {HOSTILE / 'goals.yaml'}").replace("workers: 1", "workers: 2")
    text = text.replace("company: Tiny Test Co", 'company: "<script>window.__pwned=20</script>Hostile & Co"')
    path.write_text(text, encoding="utf-8")
    summary = run_reports(load_config(path, environ={}), periods=PERIOD)
    return root, summary


def period_folder(root: Path) -> Path:
    return root / "reports" / PERIOD


def test_the_fixture_is_what_it_says() -> None:
    data = load_dataset(HOSTILE / "source.yaml")
    assert list(data.tables["reps"]["rep_id"]) == IDS
    assert [i for i in data.notes if i.severity == "error"] == []


@pytest.mark.notebooks
def test_every_hostile_report_runs_in_its_own_folder(hostile_run: tuple[Path, RunSummary]) -> None:
    root, summary = hostile_run
    assert summary.ok, summary.failed
    reps = {r["id"]: r for r in summary.results if r["kind"] == "rep"}
    assert sorted(reps) == sorted(IDS)  # every rep kept: none lost to a colliding file name
    folders = [r["folder"] for r in summary.results]
    assert len({f.casefold() for f in folders}) == len(folders) == len(IDS) + 3  # + 2 teams + company
    folder = period_folder(root)
    for r in summary.results:
        out = (folder / r["folder"]).resolve()
        assert out.parent == folder.resolve() and out.is_dir(), r["folder"]
        files = {"context.json", "kpis.parquet", "scorecard.ipynb", "scorecard.html", "scorecard.pdf"}
        files |= {"rep_kpis.parquet"} if r["kind"] == "team" else set()
        assert {p.name for p in out.iterdir()} == files
        context = json.loads((out / "context.json").read_text(encoding="utf-8"))
        assert context["rep"]["rep_id"] == r["id"] if r["kind"] == "rep" else context["team"]["name"] == r["id"]
    # nothing escaped the output folder: the only files of the whole tmp tree are the settings and reports
    stray = [p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(root / "reports")]
    assert [p.relative_to(root) for p in stray] == [Path("params/config.yaml")]
    assert not (root / "etc").exists() and not Path("/etc/passwd/scorecard.html").exists()
    assert (folder / "index.html").is_file() and (folder / "manifest.json").is_file()


@pytest.mark.notebooks
def test_manifest_and_index_keep_every_identifier(hostile_run: tuple[Path, RunSummary]) -> None:
    root, _ = hostile_run
    folder = period_folder(root)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in manifest["reports"] if r["kind"] == "rep"}
    assert sorted(by_id) == sorted(IDS)
    assert by_id["r1"]["name"] == "r1"  # no name: the id stands in
    index = (folder / "index.html").read_text(encoding="utf-8")
    for r in manifest["reports"]:
        assert f'href="{r["folder"]}/scorecard.html"' in index or f"{r['folder']}/scorecard.html" in index, r["id"]
    lowered = index.lower()
    for raw in RAW_PAYLOADS:
        assert raw.lower() not in lowered, raw
    assert "window.__pwned=1;document.title=" in index  # kept (escaped), not dropped: the browser test reads it


class _Markup(HTMLParser):
    """Collects what could run: event-handler attributes, javascript: URLs, scripts that are not JSON data."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        self._script = tag == "script" and dict(attrs).get("type") != "application/json"

    def handle_endtag(self, tag: str) -> None:
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script and "__pwned" in data:
            self.found.append(f"<script>{data[:60]}")


def active_markup(page: str) -> list[str]:
    parser = _Markup()
    parser.feed(page)
    return parser.found


def _html_files(root: Path) -> list[Path]:
    folder = period_folder(root)
    return [*sorted(folder.glob("*/scorecard.html")), folder / "index.html"]


@pytest.mark.notebooks
def test_payloads_are_escaped_in_html_and_notebooks(hostile_run: tuple[Path, RunSummary]) -> None:
    root, _ = hostile_run
    for page in _html_files(root):
        text = page.read_text(encoding="utf-8").lower()
        for raw in RAW_PAYLOADS:
            assert raw.lower() not in text, f"{page.parent.name}/{page.name}: {raw}"
        assert active_markup(page.read_text(encoding="utf-8")) == [], page
    ann = next(period_folder(root).glob("R1-*/scorecard.html")).read_text(encoding="utf-8")
    assert re.search(
        r"&lt;script&gt;window.__pwned=1;document.title=&#(39|x27);PWNED&#(39|x27);&lt;/script&gt;Ann", ann
    )
    for notebook in period_folder(root).glob("*/scorecard.ipynb"):
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                shown = "".join(output.get("data", {}).get("text/html", ""))
                for raw in RAW_PAYLOADS:
                    assert raw.lower() not in shown.lower(), f"{notebook.parent.name}: {raw}"


@pytest.mark.notebooks
def test_payloads_are_plain_text_in_pdf(hostile_run: tuple[Path, RunSummary]) -> None:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils is needed"
    root, _ = hostile_run
    texts = {}
    for pdf in sorted(period_folder(root).glob("*/scorecard.pdf")):
        out = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        texts[pdf.parent.name] = " ".join(out.split())
    ann = next(v for k, v in texts.items() if k.startswith("R1-"))
    assert "<script>window.__pwned=1;document.title='PWNED'</" in ann  # shown as text, not run or dropped
    cmd = next(v for k, v in texts.items() if k.startswith("a_b-") and "calc" in v)
    assert "=cmd|' /C calc'!A0" in cmd
    assert any("$x^2$" in v and "[link](javascript:" in v for v in texts.values())  # no Markdown/LaTeX rendering


@pytest.mark.notebooks
def test_hostile_emails_are_escaped(hostile_run: tuple[Path, RunSummary]) -> None:
    """the dry-run emails escape every payload and inject no header."""
    from salesreports import mail

    root, _ = hostile_run
    sent = mail.send_reports(load_config(root / "params" / "config.yaml", environ={}), period=PERIOD)
    written = [row for row in sent.rows if row.path]
    assert len(written) == len(IDS)
    for row in written:
        msg = email.message_from_bytes(Path(row.path).read_bytes(), policy=policy.default)
        for name, value in msg.items():
            assert "\n" not in str(value) and "\r" not in str(value), name
        for part in msg.walk():
            if part.get_content_type() == "text/html":
                body = part.get_content().lower()
                for raw in RAW_PAYLOADS:
                    assert raw.lower() not in body, f"{row.rep_id}: {raw}"
                assert "<script" not in body


@pytest.mark.notebooks
def test_hostile_names_keep_the_to_address(hostile_run: tuple[Path, RunSummary]) -> None:
    """whatever the rep's name, To: parses back to exactly the rep's address."""
    from salesreports import mail

    root, _ = hostile_run
    sent = mail.send_reports(load_config(root / "params" / "config.yaml", environ={}), period=PERIOD)
    for row in (r for r in sent.rows if r.path):
        msg = email.message_from_bytes(Path(row.path).read_bytes(), policy=policy.default)
        assert [addr for _, addr in getaddresses([str(v) for v in msg.get_all("To") or []])] == [row.to], row.rep_id


# --------------------------------------------------------------------------- in a real browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (make sysdeps)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        try:
            yield b
        finally:
            b.close()


def _title_in_source(page: Path) -> str:
    import html

    found = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8"), re.DOTALL)
    return html.unescape(found.group(1)).strip() if found else ""


@pytest.mark.browser
@pytest.mark.notebooks
def test_no_script_runs_in_the_browser(hostile_run: tuple[Path, RunSummary], browser: Any) -> None:
    """Open every scorecard and the index: no payload ran, the console is clean, the payload text is visible."""
    root, _ = hostile_run
    visible = ""
    for path in _html_files(root):
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        dialogs: list[str] = []
        page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)  # let chart scripts (if any) and any onload/onerror payload fire
        where = f"{path.parent.name}/{path.name}"
        assert page.evaluate("typeof window.__pwned") == "undefined", where
        assert page.title() != "PWNED" and page.title() == _title_in_source(path), where
        assert errors == [] and dialogs == [], (where, errors, dialogs)
        visible += page.inner_text("body") + "\n"
        context.close()
    shown = " ".join(visible.split())
    for text in SHOWN:
        assert text in shown, text
    assert "</script><script>window.__pwned=5" in shown  # feedback text, quoted as text


def test_ids_that_collide_get_their_own_folder() -> None:
    from salesreports.paths import folder_names, slug

    names = folder_names(IDS, ["North", "company"])
    assert len({n.casefold() for n in names.values()}) == len(names)
    assert names[("rep", "R1")] != names[("rep", "r1")]
    assert names[("rep", "team-North")] != names[("team", "North")]
    assert names[("rep", "index.html")].casefold() != "index.html"
    assert names[("team", "company")] == "team-company"
    for ident in IDS:
        name = names[("rep", ident)]
        assert "/" not in name and "\\" not in name and "\n" not in name and not name.startswith(".")
        assert slug(ident) in name


# --------------------------------------------------------------------------- email addresses (header injection)


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.com\r\nBcc: all@example.org",
        "ann@example.com\nBcc: all@example.org",
        "ann@example.com\n",
        "ann@example.com, bob@example.com",
        "ann@example.com; bob@example.com",
        "Ann <ann@example.com>",
        "ann@example.com\x00",
        "ann@@example.com",
    ],
)
def test_an_address_that_is_not_one_plain_address_is_an_error(tmp_path: Path, address: str) -> None:
    from salesreports.data.validate import check

    (tmp_path / "reps.csv").write_bytes(
        b"rep_id,name,email,manager_email\r\n"
        b"R1,Ann,ann@example.com,boss@example.com\r\n" + f'R2,Bob,"{address}",boss@example.com\r\n'.encode()
    )
    (tmp_path / "source.yaml").write_text("name: t\ntables:\n  reps: {file: reps.csv}\n", encoding="utf-8")
    report = check(load_dataset(tmp_path / "source.yaml"))
    (issue,) = [i for i in report.errors if i.column == "email"]
    assert issue.rows == (3,) and issue.count == 1
    assert f"rep 'R2': {address!r}" in issue.message
    assert "Fix: write exactly one address" in str(issue) and "reps.csv" in str(issue)


def test_plain_addresses_pass(tmp_path: Path) -> None:
    from salesreports.data.validate import check

    (tmp_path / "reps.csv").write_text(
        "rep_id,email,manager_email\nR1,ann.o'neil+crm@sub.example.com,boss@example.com\nR2, bob@example.com ,\n",
        encoding="utf-8",
    )
    (tmp_path / "source.yaml").write_text("name: t\ntables:\n  reps: {file: reps.csv}\n", encoding="utf-8")
    assert [i for i in check(load_dataset(tmp_path / "source.yaml")).errors if "address" in i.message] == []


# --------------------------------------------------------------------------- names that broke a renderer (#16)

LINE_BREAK_NAME = 'Ann "Q" \\ Archer\nLee\u2028Jr\u2029\x0cX\x00'  # line breaks, quote, backslash, form feed, NUL
OVERRIDE_NAME = "Bob \u202eBaker"  # a right-to-left override
FORM_FEED_TEAM = "South\x0cEast"
# what XML cannot hold (tab, LF and CR can be held): never in a page, notebook, context or email
NON_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@pytest.fixture(scope="module")
def names_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary, Any]:
    """The tiny data set with hostile names, a team with a form feed, a company with an override, and a
    feedback tag naming a colleague (Cy Cole, R3): run and mailed (dry run)."""
    import csv

    from conftest import TINY
    from salesreports import mail

    root = tmp_path_factory.mktemp("names")
    data = root / "data"
    shutil.copytree(TINY, data)
    with (data / "reps.csv").open(encoding="utf-8", newline="") as f:
        reps = list(csv.DictReader(f))
    reps[0]["name"], reps[1]["name"], reps[2]["team"] = LINE_BREAK_NAME, OVERRIDE_NAME, FORM_FEED_TEAM
    with (data / "reps.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(reps[0]))
        writer.writeheader()
        writer.writerows(reps)
    feedback = (data / "feedback.csv").read_text(encoding="utf-8")
    feedback = feedback.replace(
        "R1,2025-03-10,client,4,responsiveness,", "R1,2025-03-10,client,4,responsiveness;ask Cy Cole,"
    )
    (data / "feedback.csv").write_text(feedback, encoding="utf-8")
    path = write_config(root, data / "source.yaml")
    path.write_text(path.read_text().replace("company: Tiny Test Co", 'company: "Tiny\\fTest \\u202eCo"'))
    config = load_config(path, environ={})
    summary = run_reports(config, periods=PERIOD)
    sent = mail.send_reports(config, period=PERIOD, audience=["reps", "managers"])
    return root, summary, sent


def _eml_text(path: Path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = [f"{k}: {v}" for k, v in msg.items()]
    parts += [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


@pytest.mark.notebooks
def test_item1_names_with_line_breaks_quotes_and_backslashes_get_pages_and_emails(
    names_run: tuple[Path, RunSummary, Any],
) -> None:
    """vl-convert failed on such a name and the rep got no HTML, PDF or email."""
    root, summary, sent = names_run
    assert summary.ok, summary.failed
    for r in summary.results:
        out = period_folder(root) / r["folder"]
        assert (out / "scorecard.html").is_file() and (out / "scorecard.pdf").read_bytes().startswith(b"%PDF")
    written = {row.rep_id: row for row in sent.rows if row.path}
    assert {"R1", "R2"} <= set(written), [(row.rep_id, row.state, row.detail) for row in sent.rows]
    msg = email.message_from_bytes(Path(written["R1"].path).read_bytes(), policy=policy.default)
    assert [p for p in msg.walk() if p.get_content_type() == "image/png"]  # the charts, drawn as PNG
    page = (period_folder(root) / "R1" / "scorecard.html").read_text(encoding="utf-8")
    assert "Ann &quot;Q&quot; \\ Archer" in page  # quotes and backslash kept, as text


@pytest.mark.notebooks
def test_item2_control_characters_reach_no_page_pdf_notebook_context_or_email(
    names_run: tuple[Path, RunSummary, Any],
) -> None:
    root, _, sent = names_run
    folder = period_folder(root)
    files = [p for p in folder.rglob("*") if p.suffix in (".html", ".ipynb", ".json")]
    assert len(files) > 10
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert not NON_XML.search(text), file
        if file.name in ("context.json", "scorecard.ipynb"):  # what pages and emails are made from: nor escaped
            if file.suffix == ".ipynb":  # but the parameters (identifiers, in code that is never shown)
                nb = json.loads(text)
                nb["metadata"].pop("papermill", None)
                text = json.dumps([nb["metadata"], [c.get("outputs", []) for c in nb["cells"]]])
            assert not re.search(r"\\u00(0[0-8bcef]|1[0-9a-f])|\\f", text, re.IGNORECASE), file
    for row in (r for r in sent.rows if r.path):
        assert not NON_XML.search(_eml_text(Path(row.path))), row.rep_id
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils is needed"
    out = subprocess.run([pdftotext, str(folder / "R1" / "scorecard.pdf"), "-"], capture_output=True, text=True)
    assert 'Ann "Q" \\ Archer' in out.stdout


@pytest.mark.notebooks
def test_item4_an_override_in_a_name_stays_inside_it_in_titles_and_headings(
    names_run: tuple[Path, RunSummary, Any],
) -> None:
    root, _, _ = names_run
    page = (period_folder(root) / "R2" / "scorecard.html").read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert title and title[1].startswith("\u2068Bob \u202eBaker\u2069 — scorecard")
    assert '<h1 class="sr-header__title" dir="auto"><bdi>\u2068Bob \u202eBaker\u2069</bdi> — scorecard</h1>' in page
    assert "<bdi>\u2068Tiny Test \u202eCo\u2069</bdi> · Made by salesreports" in page  # the footer, one line


@pytest.mark.notebooks
def test_item5_a_feedback_tag_naming_a_colleague_is_in_no_file_of_the_rep(
    names_run: tuple[Path, RunSummary, Any],
) -> None:
    root, _, sent = names_run
    files = [p for p in (period_folder(root) / "R1").iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"context.json", "scorecard.ipynb", "scorecard.html", "scorecard.pdf"}
    context = json.loads((period_folder(root) / "R1" / "context.json").read_text(encoding="utf-8"))
    assert [f["tags"] for f in context["feedback"]] == ["responsiveness;ask [a colleague]"]
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils is needed"
    for file in files:
        if file.suffix == ".pdf":
            text = subprocess.run([pdftotext, str(file), "-"], capture_output=True, text=True, check=True).stdout
        elif file.suffix == ".parquet":
            text = file.read_bytes().decode("utf-8", "replace")
        else:
            text = file.read_text(encoding="utf-8")
        assert "cy cole" not in text.casefold(), file.name
    eml = next(Path(r.path) for r in sent.rows if r.rep_id == "R1" and r.path)
    assert "cy cole" not in _eml_text(eml).casefold()
