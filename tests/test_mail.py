"""Tests for salesreports.mail (recipients, message, send): selecting reports, building the scorecard email, dry runs.

The report set is built once per session by :func:`shared_reports` (also used by test_delivery.py and
test_cli_send.py): the tiny fixture data, with a hostile rep name and hostile feedback, run through the
real batch (papermill, HTML, PDF) for R1-R3 and the team summaries (North: R1, R2 managed by
mia.north@example.com; South: R3 managed by sam.south@example.com; the company), then cloned into more reps for
the delivery tests, plus
three reports that must never go out (a failed report, a header-injection address, two addresses).
"""

from __future__ import annotations

import base64
import csv
import email
import email.parser
import email.utils
import json
import re
import shutil
import textwrap
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from salesreports import mail
from salesreports.errors import ConfigError, DeliveryError, ParamsError
from salesreports.mail import message
from salesreports.params import Config, load_config
from salesreports.report.contexts import read_context, write_context

REPO = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "fixtures" / "tiny"
PERIOD = "2025-03"
# No emoji in the name: Vega's label truncation splits surrogate pairs and vl-convert then fails (reported).
HOSTILE_NAME = 'Ann <script>alert("x")</script> Ārcher $5 שלום'
HOSTILE_FEEDBACK = "<img src=x onerror=alert(1)> costs $$ \\(x\\) 😀 — مرحبا بكم"
CLONES = [f"R1{i}" for i in range(6)]  # R10..R15: copies of R2's real report with their own address
INJECTION = "rep9@example.com\r\nBcc: spy@example.org"


# -- the shared report set ----------------------------------------------------------------------------------------


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_params(root: Path, outbox: Path, **sections: dict[str, Any]) -> Path:
    """A params file for the shared reports with its own outbox (and e.g. smtp={...}, mail={...})."""
    lines = textwrap.dedent(f"""
        company: "Example & Co <b>"
        source: {root / "data" / "source.yaml"}
        output_dir: {root / "reports"}
        outbox_dir: {outbox}
        templates:
          rep: {REPO / "reports" / "rep_scorecard.ipynb"}
          team: {REPO / "reports" / "team_summary.ipynb"}
        goals: {root / "goals.yaml"}
        coaching: {REPO / "params" / "coaching.yaml"}
        run: {{workers: 2}}
    """)
    for name, values in sections.items():
        lines += f"{name}: {json.dumps(values, ensure_ascii=False)}\n"  # YAML does not join \\ud83d\\ude00
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / "config.yaml"
    path.write_text(lines, encoding="utf-8")
    return path


def _build(root: Path) -> None:
    from salesreports.run.batch import run_reports
    from salesreports.run.manifest import load_manifest

    data = root / "data"
    shutil.copytree(TINY, data)
    reps = _read_csv(data / "reps.csv")
    reps[0]["name"] = HOSTILE_NAME
    _write_csv(data / "reps.csv", reps)
    feedback = _read_csv(data / "feedback.csv")
    for row in feedback:
        if row["rep_id"] == "R2":
            row["text"] = HOSTILE_FEEDBACK
    _write_csv(data / "feedback.csv", feedback)
    (root / "goals.yaml").write_text(
        textwrap.dedent("""
            goals:
              - id: r1-revenue-q1
                owner: R1
                metric: revenue
                target: 6000
                start: 2025-01
                deadline: 2025-Q1
                objective: Grow revenue in the North territory.
              - id: north-win-rate
                owner: North
                metric: win_rate
                target: 50%
                start: 2025-01
                deadline: 2025-06
                objective: Close more of what we start.
        """),
        encoding="utf-8",
    )
    config = load_config(write_params(root, root / "build-outbox"))
    summary = run_reports(config, periods=PERIOD, kinds=("rep", "team"))
    assert summary.ok, summary.failed
    folder = root / "reports" / PERIOD
    manifest = load_manifest(folder, PERIOD)
    base = manifest.reports["rep/R2"]
    extra = {rep: {} for rep in CLONES}
    extra["R7"] = {"email": "rep7@example.com, rep7b@example.org"}
    extra["R8"] = {"status": "failed", "error": "NameError: name 'x' is not defined (cell 5)"}
    extra["R9"] = {"email": INJECTION}
    for rep_id, change in extra.items():
        shutil.copytree(folder / "R2", folder / rep_id)
        ctx_path = folder / rep_id / "context.json"
        ctx = read_context(ctx_path)
        address = change.get("email", f"{rep_id.lower()}@example.com")
        ctx["rep"].update(rep_id=rep_id, name=f"Rep {rep_id}", email=address)
        write_context(ctx, ctx_path)
        entry = json.loads(json.dumps(base))
        entry.update(
            key=f"rep/{rep_id}",
            id=rep_id,
            name=f"Rep {rep_id}",
            folder=rep_id,
            inputs=f"hash-{rep_id}",
            outputs={k: v.replace("R2/", f"{rep_id}/") for k, v in base["outputs"].items()},
        )
        entry.update({k: v for k, v in change.items() if k != "email"})
        manifest.update([entry])
    manifest.save(folder)


def shared_reports(factory: pytest.TempPathFactory) -> Path:
    """The session's report set (built on first use): ``<root>/reports/2025-03/manifest.json`` and friends."""
    root = factory.getbasetemp() / "mail-reports"
    if not (root / "DONE").exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        _build(root)
        (root / "DONE").touch()
    return root


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_reports(tmp_path_factory)


def mail_config(reports: Path, outbox: Path, **sections: dict[str, Any]) -> Config:
    return load_config(write_params(reports, outbox, **sections))


@pytest.fixture
def config(reports: Path, tmp_path: Path) -> Config:
    return mail_config(reports, tmp_path / "outbox", mail={"cc_manager": True})


def _built(config: Config, rep: str, **kw: Any) -> mail.BuiltMail:
    sel = mail.select_reports(config, PERIOD, [rep])
    return mail.build_message(config, sel, sel.candidates[0], **kw)


def _parts(msg: EmailMessage) -> list[str]:
    return [p.get_content_type() for p in msg.walk()]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def html_with_data_images(msg: EmailMessage) -> str:
    """The HTML part with every ``cid:`` reference replaced by a data: URI of its part (screenshots only)."""
    images = {str(p["Content-ID"]).strip("<>"): p.get_payload(decode=True) for p in msg.walk() if p["Content-ID"]}
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()

    def data(m: re.Match[str]) -> str:
        payload = images[m[1]]
        assert isinstance(payload, bytes)
        return 'src="data:image/png;base64,' + base64.b64encode(payload).decode() + '"'

    return re.sub(r'src="cid:([^"]+)"', data, html)


# -- the message ------------------------------------------------------------------------------------------------------


@pytest.mark.notebooks
def test_message_has_the_mail_client_structure(config: Config) -> None:
    built = _built(config, "R2")
    msg = built.message
    assert _parts(msg)[:5] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
    ]
    assert _parts(msg)[-1] == "application/pdf"
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    images = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert len(images) >= 3
    cids = {str(p["Content-ID"]).strip("<>") for p in images}
    html = built.html
    refs = set(re.findall(r'src="cid:([^"]+)"', html))
    assert refs == cids  # every reference resolves, every image is used
    for p in images:
        assert p.get_content_disposition() == "inline"
        data = p.get_payload(decode=True)
        assert isinstance(data, bytes)
        assert data.startswith(b"\x89PNG")
    for tag, attrs in tags(html):
        if tag == "img":
            assert attrs["alt"], "every chart has alt text"
            assert attrs["width"]
            assert str(attrs["src"]).startswith("cid:")
    assert "<script" not in html.lower()
    assert "<svg" not in html.lower()
    assert "javascript:" not in html.lower()
    assert built.html_size < mail.HTML_BUDGET
    assert built.size < 600_000
    pdf = msg.get_payload()[-1]  # type: ignore[index]
    assert pdf.get_filename() == f"scorecard-{PERIOD}-R2.pdf"
    assert pdf.get_payload(decode=True).startswith(b"%PDF")


@pytest.mark.notebooks
def test_headers(config: Config) -> None:
    built = _built(config, "R2")
    msg = email.message_from_bytes(built.data, policy=policy.default)
    assert msg["To"] == "Bob Baker <bob.baker@example.com>"
    assert msg["Cc"] == "mia.north@example.com"
    assert msg["From"] == "Sales Ops <sales-ops@example.com>"
    assert msg["Subject"] == "Your scorecard — March 2025"
    assert msg["Message-ID"] == built.message_id
    assert msg["Date"]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe"] is None
    assert built.recipients == ("bob.baker@example.com", "mia.north@example.com")
    assert b"\r\n" in built.data
    assert all(len(line) <= 998 for line in built.data.split(b"\r\n"))


@pytest.mark.notebooks
def test_text_part_summarises_the_scorecard(config: Config) -> None:
    text = _built(config, "R1").text
    assert "YOUR SCORECARD · MARCH 2025" in text
    assert "HEADLINE KPIS" in text
    assert "- Revenue: $4,000" in text
    assert "GOALS" in text
    assert re.search(r"- \[(ahead|on track|at risk|missed|achieved)\] Revenue", text)
    assert "attached as a PDF: scorecard-2025-03-R1.pdf" in text
    assert max(len(line) for line in text.splitlines()) < 120


@pytest.mark.notebooks
def test_everything_from_the_data_is_escaped(config: Config) -> None:
    r1 = _built(config, "R1")
    assert "<script>alert" not in r1.html
    assert "&lt;script&gt;alert" in r1.html
    assert "שלום" in r1.html
    assert "$5" in r1.html
    assert HOSTILE_NAME in r1.text  # plain text is not HTML: shown as written
    raw_to = email.message_from_bytes(r1.data, policy=policy.compat32)["To"]
    # RFC 2047 decoding (policy.default's parser wrongly keeps the fold between two encoded words)
    to = str(make_header(decode_header(raw_to)))
    name, address = email.utils.parseaddr(to)
    assert address == "ann.archer@example.com"  # the display name can never turn into another address
    assert name.startswith("Ann script alert")  # specials dropped from the courtesy name
    assert not set(name) & set('<>()[]@,;:"')
    r2 = _built(config, "R2")
    assert "Bob Baker" in r2.html
    assert "onerror" not in "".join(str(a) for _, a in tags(r2.html))
    assert "&lt;img src=x onerror=alert(1)&gt;" in r2.html
    assert "مرحبا بكم" in r2.html
    assert "😀" in r2.html
    for tag, attrs in tags(r1.html + r2.html):
        assert tag not in ("script", "svg", "iframe", "object", "embed", "form")
        assert not any(k.startswith("on") for k in attrs)


def test_item4_subject_keeps_its_isolates_when_cut() -> None:
    """The subject's names are isolated (FSI…PDI); a subject cut short never leaves an isolate open."""
    name = "\u2068" + "\u05e9" * 300 + "\u2069"
    subject = message._subject(f"Your scorecard: {name} · 2025-03")
    assert len(subject) <= 201 and subject.count("\u2068") == subject.count("\u2069") == 1
    assert message._subject("a\nb\x0c  \u2068c\u2069") == "a b \u2068c\u2069"


@pytest.mark.notebooks
def test_subject_template_with_the_rep_name(reports: Path, tmp_path: Path) -> None:
    cfg = mail_config(reports, tmp_path, mail={"subject": "{name}: scorecard {period} ({company})"})
    built = _built(cfg, "R1")
    parsed = email.message_from_bytes(built.data, policy=policy.default)
    # the data strings are isolated (FSI…PDI): the Hebrew end of the name does not pull ": scorecard" along
    assert parsed["Subject"] == f"\u2068{HOSTILE_NAME}\u2069: scorecard 2025-03 (\u2068Example & Co <b>\u2069)"


UNICODE_SUBJECTS = [
    "Ünïcödé名前 😀",  # the report: two encoded words lost the space between them
    "Scorecard March 2025 — Ünïcödé名前 😀 Ārcher שלום",  # folds: arrived as "…😀Ārcher…"
    "Ü 😀 {period} 😀 Ü",  # encoded, plain, encoded
    "=?utf-8?q?not_an_encoded_word?= {period}",  # ASCII that looks like an encoded word
    " ".join(["Ünïcödé 名前 😀"] * 12),  # folds over several lines
]


@pytest.mark.parametrize("template", UNICODE_SUBJECTS)
@pytest.mark.notebooks
def test_item7_subject_decodes_to_exactly_the_intended_text(reports: Path, tmp_path: Path, template: str) -> None:
    cfg = mail_config(reports, tmp_path, mail={"subject": template})
    built = _built(cfg, "R2")
    want = " ".join(template.replace("{period}", PERIOD).split())  # a subject is one line: runs of spaces become one
    parsed = email.parser.BytesParser(policy=policy.default).parsebytes(built.data)
    assert str(parsed["Subject"]) == want
    assert built.message["Subject"] == want
    header = built.data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in header.split(b"\r\n")) <= 78


@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("Scorecard {period_titel}", "unknown field {period_titel}. Did you mean 'period_title'"),
        ("Scorecard {name.__class__}", r"unknown field \{name.__class__\}"),
        ("Scorecard {name!r}", r"unknown field \{name\}"),
        ("Scorecard {", "balance the braces"),
    ],
)
@pytest.mark.notebooks
def test_bad_subject_templates(reports: Path, tmp_path: Path, template: str, match: str) -> None:
    cfg = mail_config(reports, tmp_path, mail={"subject": template})
    with pytest.raises(ConfigError, match=match):
        _built(cfg, "R2")


@pytest.mark.notebooks
def test_message_id_is_stable_per_period_rep_and_report(config: Config) -> None:
    a, b = _built(config, "R2"), _built(config, "R2")
    assert a.message_id == b.message_id
    assert re.fullmatch(r"<scorecard\.[0-9a-f]{32}@example\.com>", a.message_id)
    assert a.message_id == mail.message_id(PERIOD, "R2", a.candidate.report_hash, "example.com")
    assert mail.message_id(PERIOD, "R2", "other-hash", "example.com") != a.message_id
    assert mail.message_id("2025-04", "R2", a.candidate.report_hash, "example.com") != a.message_id
    assert _built(config, "R10").message_id != a.message_id


@pytest.mark.notebooks
def test_test_messages_go_to_one_address(config: Config) -> None:
    built = _built(config, "R2", test_to="qa@example.org")
    msg = email.message_from_bytes(built.data, policy=policy.default)
    assert msg["Subject"] == "[TEST] Your scorecard — March 2025"
    assert msg["To"] == "Bob Baker <qa@example.org>"
    assert msg["Cc"] is None
    assert built.recipients == ("qa@example.org",)
    assert built.message_id != _built(config, "R2").message_id
    assert "the real one goes to bob.baker@example.com (Cc mia.north@example.com)" in built.text


@pytest.mark.notebooks
def test_unsubscribe_header_or_opt_out_note(reports: Path, tmp_path: Path) -> None:
    url = "https://example.com/unsubscribe?list=scorecards"
    built = _built(mail_config(reports, tmp_path / "a", mail={"unsubscribe": url, "opt_out_note": "ignored"}), "R2")
    assert built.message["List-Unsubscribe"] == f"<{url}>"
    assert 'href="https://example.com/unsubscribe?list=scorecards"' in built.html.replace("&amp;", "&")
    note = "Ask sales-ops@example.com to stop these emails."
    built = _built(mail_config(reports, tmp_path / "b", mail={"opt_out_note": note}), "R2")
    assert built.message["List-Unsubscribe"] is None
    assert note in built.text
    assert note in built.html
    with pytest.raises(ConfigError, match="must be a https or http or mailto URL"):
        _built(mail_config(reports, tmp_path / "c", mail={"unsubscribe": "javascript:alert(1)"}), "R2")


@pytest.mark.notebooks
def test_report_link_and_no_pdf(reports: Path, tmp_path: Path) -> None:
    cfg = mail_config(
        reports, tmp_path, mail={"report_link": "https://reports.example.com/{period}/{rep_id}/", "attach_pdf": False}
    )
    built = _built(cfg, "R2")
    assert 'href="https://reports.example.com/2025-03/R2/"' in built.html
    assert "Online: https://reports.example.com/2025-03/R2/" in built.text
    assert "application/pdf" not in _parts(built.message)
    assert "attached" not in built.text


@pytest.mark.notebooks
def test_compact_version_when_the_html_is_too_large(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    sel = mail.select_reports(config, PERIOD, ["R2"])
    c = sel.candidates[0]
    goal = {
        "goal_id": "g",
        "label": "Revenue " + "x" * 50,
        "owner": "R2",
        "status": "at risk",
        "summary": "s" * 400,
        "actual_pct": 0.4,
        "text": {"target": "$1", "expected": "$2", "projected": "$3"},
        "deadline": "2025-06",
    }
    c.context["goals"] = [dict(goal, goal_id=f"g{i}") for i in range(50)]  # a busy scorecard
    full = mail.build_message(config, sel, c)
    assert not full.compact
    assert full.html.count('class="goal"') == mail.MAX_GOALS
    assert "44 more goal(s) in the attached report" in full.html
    assert len(re.findall("s{299}", full.html)) == mail.MAX_GOALS  # long texts are cut
    monkeypatch.setattr(message, "HTML_BUDGET", full.html_size - 1)
    compact = mail.build_message(config, sel, c)
    assert compact.compact
    assert compact.html_size < full.html_size
    assert compact.html.count('class="goal"') == 3
    monkeypatch.setattr(message, "HTML_BUDGET", 1000)
    with pytest.raises(DeliveryError, match=r"rep R2: the email's HTML part is [\d,]+ bytes even in its compact form"):
        mail.build_message(config, sel, c)


# -- addresses ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann.O'Neil+x@sub.example.org ", "Ann.O'Neil+x@sub.example.org"),
        (None, None),
        ("", None),
        ("  ", None),
        (float("nan"), None),
    ],
)
def test_plain_addresses_pass(value: Any, expected: str | None) -> None:
    assert mail.check_address(value, rep_id="R1") == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("ann@example.com\r\nBcc: spy@example.org", "line break"),
        ("ann@example.com\nBcc: spy@example.org", "line break"),
        ("ann@example.com\u2028x", "line break"),
        ("ann@example.com, bob@example.org", "several addresses"),
        ("ann@example.com;bob@example.org", "several addresses"),
        ("ann@example.com bob@example.org", "several addresses"),
        ("Ann <ann@example.com>", "not a plain email address"),
        ("ann-at-example.com", "not a plain email address"),
        ("ann@localhost", "not a plain email address"),
        ("änn@example.com", "not a plain email address"),
    ],
)
def test_unusable_addresses_name_the_rep(value: str, match: str) -> None:
    with pytest.raises(DeliveryError, match=match) as info:
        mail.check_address(value, rep_id="R042", role="manager_email")
    assert info.value.rep == "R042"
    assert info.value.role == "manager_email"
    assert str(info.value).startswith("rep R042: manager_email")


# -- selection and dry run -------------------------------------------------------------------------------------------


@pytest.mark.notebooks
def test_only_green_reports_with_a_usable_address_are_ready(config: Config) -> None:
    sel = mail.select_reports(config, PERIOD)
    by = {c.rep_id: c for c in sel.candidates}
    assert sel.period_title == "March 2025"
    assert {r for r, c in by.items() if c.ready} == {"R1", "R2", *CLONES}
    assert (by["R3"].state, by["R3"].problem.split(";")[0]) == ("no email", "no email address in the reps table")
    assert by["R8"].state == "report failed"
    assert "NameError" in by["R8"].problem
    assert by["R9"].state == "invalid address"
    assert by["R9"].problem.startswith("rep R9: email ")
    assert "line break" in by["R9"].problem
    assert by["R7"].state == "invalid address"
    assert "several addresses" in by["R7"].problem
    assert by["R2"].cc[0].address == "mia.north@example.com"


@pytest.mark.notebooks
def test_unknown_reps_and_periods(config: Config) -> None:
    with pytest.raises(ParamsError, match=r"rep\(s\) 'R22' have no report for 2025-03\. Did you mean 'R2'"):
        mail.select_reports(config, PERIOD, ["R22"])
    with pytest.raises(DeliveryError, match=r"no manifest for period 2025-04 .* pick one of 2025-03"):
        mail.select_reports(config, "2025-04")
    assert mail.default_period(config) == PERIOD


def test_no_reports_at_all(tmp_path: Path) -> None:
    cfg = load_config(write_params(tmp_path, tmp_path / "outbox"))
    with pytest.raises(DeliveryError, match=r"no reports in .*run `salesreports run` first"):
        mail.send_reports(cfg)


@pytest.mark.notebooks
def test_dry_run_writes_eml_files_and_sends_nothing(config: Config) -> None:
    seen: list[str] = []
    summary = mail.send_reports(config, reps=["R1", "R2", "R3", "R8", "R9"], on_row=lambda r: seen.append(r.rep_id))
    states = {r.rep_id: r.state for r in summary.rows}
    assert states == {
        "R1": "written",
        "R2": "written",
        "R3": "no email",
        "R8": "report failed",
        "R9": "invalid address",
    }
    assert sorted(seen) == sorted(states)
    assert not summary.ok  # the failed report and the bad address need attention
    assert summary.mode == "dry-run"
    files = sorted(p.name for p in (config.resolve(config.outbox_dir) / PERIOD).iterdir())
    assert files == ["R1.eml", "R2.eml"]
    parsed = email.message_from_bytes(
        (config.resolve(config.outbox_dir) / PERIOD / "R2.eml").read_bytes(), policy=policy.default
    )
    assert parsed["To"] == "Bob Baker <bob.baker@example.com>"
    assert not (config.resolve(config.outbox_dir) / "ledger.sqlite").exists()
    assert next(r for r in summary.rows if r.rep_id == "R2").size > 10_000


def extra_reps(reports: Path, root: Path, reps: dict[str, tuple[str, str]]) -> Path:
    """A copy of the shared report set with more reps (``{rep_id: (name, email)}``), clones of R2's report.

    Their report folders are named by :func:`salesreports.paths.folder_names` over every rep and team, as a run
    names them.
    """
    from salesreports.paths import folder_names
    from salesreports.run.manifest import load_manifest

    shutil.copytree(reports, root, ignore=shutil.ignore_patterns("build-outbox", "DONE"))
    folder = root / "reports" / PERIOD
    manifest = load_manifest(folder, PERIOD)
    base = manifest.reports["rep/R2"]
    known = [str(e["id"]) for e in manifest.reports.values() if e["kind"] == "rep"]
    teams = [str(e["id"]) for e in manifest.reports.values() if e["kind"] == "team"]
    names = folder_names([*known, *reps], teams)
    for rep_id, (name, address) in reps.items():
        sub = names[("rep", rep_id)]
        shutil.copytree(folder / "R2", folder / sub)
        ctx = read_context(folder / sub / "context.json")
        ctx["rep"].update(rep_id=rep_id, name=name, email=address)
        write_context(ctx, folder / sub / "context.json")
        entry = json.loads(json.dumps(base))
        entry.update(
            key=f"rep/{rep_id}",
            id=rep_id,
            name=name,
            folder=sub,
            inputs=f"hash-{sub}",
            outputs={k: v.replace("R2/", f"{sub}/") for k, v in base["outputs"].items()},
        )
        manifest.update([entry])
    manifest.save(folder)
    return root


@pytest.mark.notebooks
def test_item6_outbox_files_of_ids_differing_by_case_do_not_overwrite_each_other(reports: Path, tmp_path: Path) -> None:
    twins = {"A_B_C": ("Rep A_B_C", "upper@example.com"), "a_b_c": ("Rep a_b_c", "lower@example.com")}
    root = extra_reps(reports, tmp_path / "twins", twins)
    config = mail_config(root, tmp_path / "outbox", mail={"cc_manager": True})
    summary = mail.send_reports(config, reps=["A_B_C", "a_b_c"])
    assert [r.state for r in summary.rows] == ["written", "written"]
    files = sorted((tmp_path / "outbox" / PERIOD).glob("*.eml"))
    assert len(files) == 2
    assert len({f.name.casefold() for f in files}) == 2  # distinct on a case-insensitive file system too
    assert {r.path for r in summary.rows} == {str(f) for f in files}
    to = {email.message_from_bytes(f.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec for f in files}
    assert to == {"upper@example.com", "lower@example.com"}
    attachments = set()
    for rep in ("A_B_C", "a_b_c"):
        pdf = next(p for p in _built(config, rep).message.walk() if p.get_content_type() == "application/pdf")
        attachments.add(str(pdf.get_filename()).casefold())
    assert len(attachments) == 2  # a manager copied on both saves two files


@pytest.mark.browser
@pytest.mark.notebooks
def test_html_part_renders_in_chromium(config: Config, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    built = _built(config, "R1")
    page_html = html_with_data_images(built.message)
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            for width in (760, 375):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_content(page_html, wait_until="load")
                loaded = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
                assert loaded
                assert all(loaded)
                assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
                box = page.locator("table.container").bounding_box()
                assert box is not None
                assert box["width"] <= 642
                assert page.locator("h1").inner_text() == "Your scorecard · March 2025"
                assert HOSTILE_NAME in page.locator(".subtitle").inner_text()
                page.screenshot(path=str(tmp_path / f"email-{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    assert (tmp_path / "email-760.png").stat().st_size > 10_000


# -- team and company summaries (send --to managers,leadership) --------------------------------------------------------

LEADERS = ["CEO <ceo@example.org>", "cfo@example.org"]
NORTH = ("Bob Baker", "Ārcher")  # the North team's reps (Ann's name is hostile: her surname is enough)
SOUTH = ("Cy Cole",)


def every_text(msg: EmailMessage) -> str:
    """The text and HTML parts and the PDF's text (pdftotext) of a message: what its reader can see."""
    import subprocess

    out = []
    for part in msg.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            out.append(part.get_content())
        elif part.get_content_type() == "application/pdf":
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            pdftotext = shutil.which("pdftotext")
            assert pdftotext, "poppler-utils is needed"
            out.append(
                subprocess.run([pdftotext, "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
            )
    return "\n".join(out)


def summary_config(reports: Path, outbox: Path, **mail_settings: Any) -> Config:
    return mail_config(reports, outbox, mail={"leadership": LEADERS, **mail_settings})


@pytest.mark.notebooks
def test_the_audience_picks_the_reports(reports: Path, tmp_path: Path) -> None:
    cfg = summary_config(reports, tmp_path)
    kinds = {
        who: [(c.rep_id, c.kind) for c in mail.select_reports(cfg, PERIOD, audience=[who]).candidates]
        for who in ("managers", "leadership")
    }
    assert kinds == {
        "managers": [("team/North", "team"), ("team/South", "team")],
        "leadership": [("team/company", "company")],
    }
    reps = mail.select_reports(cfg, PERIOD)  # the default: reps only, as before
    assert {c.kind for c in reps.candidates} == {"rep"}
    everyone = mail.select_reports(cfg, PERIOD, ["team/South", "company", "R2", "team/North"]).candidates
    assert [c.rep_id for c in everyone] == [
        "R2",
        "team/North",
        "team/South",
        "team/company",
    ]  # the reports named choose the audiences: reps first, then the teams, then the company
    named = {
        names: [c.rep_id for c in mail.select_reports(cfg, PERIOD, names, audience=who).candidates]
        for names, who in ((("team/South",), None), (("company",), ["all"]), (("rep/R2", "team/company"), None))
    }
    assert named == {
        ("team/South",): ["team/South"],  # --reps team/South: that summary alone, to its manager
        ("company",): ["team/company"],  # --to all narrowed by --reps: only what is named
        ("rep/R2", "team/company"): ["R2", "team/company"],  # manifest keys work too
    }
    with pytest.raises(ParamsError, match=r"'team/North' is a team summary \(for managers\), but the recipients "):
        mail.select_reports(cfg, PERIOD, ["team/North"], audience=["reps"])
    with pytest.raises(ParamsError, match=r"rep\(s\) 'team/Nort' have no report .* Did you mean 'team/North'"):
        mail.select_reports(cfg, PERIOD, ["team/Nort"])
    by = {c.rep_id: c for c in everyone}
    assert by["team/North"].to == mail.Recipient("mia.north@example.com")
    assert by["team/South"].to == mail.Recipient("sam.south@example.com")
    assert not by["team/North"].cc
    assert not by["team/North"].note  # one manager named by all its reps: no warning
    company = by["team/company"]
    assert (company.to.address if company.to else "", [r.address for r in company.also]) == (
        "ceo@example.org",
        ["cfo@example.org"],
    )
    with pytest.raises(ParamsError, match=r"unknown recipient kind 'manager'\. Did you mean 'managers'"):
        mail.select_reports(cfg, PERIOD, audience=["manager"])


@pytest.mark.notebooks
def test_no_leadership_list_and_bad_team_addresses(reports: Path, tmp_path: Path) -> None:
    cfg = mail_config(reports, tmp_path / "a")
    company = mail.select_reports(cfg, PERIOD, audience=["leadership"]).candidates[0]
    assert (company.state, company.ready) == ("no email", False)
    assert "set mail.leadership" in company.problem
    bad = mail_config(reports, tmp_path / "b", teams={"North": {"manager_email": "x@example.org\nBcc: y@example.org"}})
    with pytest.raises(ConfigError, match=r"teams\.North\.manager_email .* contains a line break"):
        mail.select_reports(bad, PERIOD, audience=["managers"])


@pytest.mark.notebooks
def test_teams_setting_overrides_the_reps_table(reports: Path, tmp_path: Path) -> None:
    cfg = mail_config(reports, tmp_path, teams={"North": {"manager_email": "Nora North <nora@example.org>"}})
    by = {c.rep_id: c for c in mail.select_reports(cfg, PERIOD, audience=["managers"]).candidates}
    assert by["team/North"].to == mail.Recipient("nora@example.org", "Nora North")
    assert by["team/South"].to == mail.Recipient("sam.south@example.com")  # not configured: from the reps table


@pytest.mark.notebooks
def test_a_team_naming_several_managers_goes_to_the_most_common_with_a_warning(reports: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(reports / "reports", copy / "reports")
    ctx_path = copy / "reports" / PERIOD / "team-North" / "context.json"
    ctx = read_context(ctx_path)
    members = ctx["team"]["members"]
    members[0]["manager_email"] = "other.boss@example.org"
    members.append({**members[1], "rep_id": "RX", "name": "Extra Rep"})  # two reps name Mia, one another manager
    write_context(ctx, ctx_path)
    cfg = load_config(write_params(copy, tmp_path / "outbox"))
    north = mail.select_reports(cfg, PERIOD, audience=["managers"]).candidates[0]
    assert north.to == mail.Recipient("mia.north@example.com")
    assert north.note.startswith("warning: the reps of team North name several managers")
    assert "other.boss@example.org (1 reps)" in north.note
    assert "teams.North.manager_email" in north.note
    summary = mail.send_reports(cfg, audience=["managers"])
    row = next(r for r in summary.rows if r.rep_id == "team/North")
    assert "several managers" in row.detail


@pytest.mark.notebooks
def test_summary_messages_are_mail_safe_and_private(reports: Path, tmp_path: Path) -> None:
    cfg = summary_config(reports, tmp_path)
    summary = mail.send_reports(cfg, reps=["R1", "team/North", "team/South", "company"])
    rows = {r.rep_id: r for r in summary.rows}
    assert {k: (r.state, r.to) for k, r in rows.items()} == {
        "R1": ("written", "ann.archer@example.com"),
        "team/North": ("written", "mia.north@example.com"),
        "team/South": ("written", "sam.south@example.com"),
        "team/company": ("written", "ceo@example.org"),
    }
    assert "also to cfo@example.org" in rows["team/company"].detail
    parsed = {k: email.message_from_bytes(Path(r.path).read_bytes(), policy=policy.default) for k, r in rows.items()}
    north, company = parsed["team/North"], parsed["team/company"]
    assert north["Subject"] == "Team \u2068North\u2069 summary — March 2025"
    assert north["To"] == "mia.north@example.com"
    assert north["Cc"] is None
    assert company["Subject"] == "Company summary — March 2025"
    assert company["To"] == "CEO <ceo@example.org>, cfo@example.org"
    for msg in parsed.values():
        assert isinstance(msg, EmailMessage)
        assert _parts(msg)[:5] == [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "multipart/related",
            "text/html",
        ]
        assert _parts(msg)[-1] == "application/pdf"
        html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
        assert len(html.encode()) < mail.HTML_BUDGET
        assert set(re.findall(r'src="cid:([^"]+)"', html)) == {
            str(p["Content-ID"]).strip("<>") for p in msg.walk() if p["Content-ID"]
        }
        for tag, attrs in tags(html):
            assert tag not in ("script", "svg", "iframe", "object", "embed", "form")
            assert not any(k.startswith("on") for k in attrs)
        assert 'style="' in html  # CSS inlined
    north_html = next(p for p in north.walk() if p.get_content_type() == "text/html").get_content()
    assert "<bdi>Team North summary</bdi> · March 2025</h1>" in north_html
    assert "&lt;script&gt;alert" in north_html  # the hostile rep name is escaped in the summary lines
    assert "<script>alert" not in north_html
    north_text = next(p for p in north.walk() if p.get_content_type() == "text/plain").get_content()
    assert "TEAM NORTH SUMMARY · MARCH 2025" in north_text
    assert "- 2 rep(s) in the team." in north_text
    assert "Leading on" in north_text, north_text
    south_text = next(p for p in parsed["team/South"].walk() if p.get_content_type() == "text/plain").get_content()
    assert "Leading on" not in south_text  # South's one rep closed nothing in March: nobody leads on $0
    assert "- Revenue: $4,000" in north_text
    assert "team-summary-2025-03-North.pdf" in north_text
    # privacy: each manager sees their own team's reps, never another team's
    seen = {k: every_text(m) for k, m in parsed.items()}
    assert all(name in seen["team/North"] for name in NORTH)
    assert not any(name in seen["team/North"] for name in SOUTH)
    assert all(name in seen["team/South"] for name in SOUTH)
    assert not any(name in seen["team/South"] for name in NORTH)
    # a rep's own message is their scorecard only
    assert "summary" not in parsed["R1"]["Subject"].lower()
    assert not any(name in seen["R1"] for name in (*SOUTH, "Bob Baker"))


@pytest.mark.notebooks
def test_summary_test_messages_name_the_real_recipients(reports: Path, tmp_path: Path) -> None:
    cfg = summary_config(reports, tmp_path)
    sel = mail.select_reports(cfg, PERIOD, audience=["leadership"])
    built = mail.build_message(cfg, sel, sel.candidates[0], test_to="qa@example.org")
    assert built.recipients == ("qa@example.org",)
    assert built.message["Subject"] == "[TEST] Company summary — March 2025"
    assert "the real one goes to ceo@example.org, cfo@example.org" in built.text


def test_a_reps_own_locale_writes_the_subject_and_figures_of_the_email(reports: Path, tmp_path: Path) -> None:
    """Bob reads German (his `locale` in the reps table): his email's subject and tiles are German, while the
    manifest (the index page) keeps the company's en_US title."""
    root = tmp_path / "copy"
    shutil.copytree(reports, root)
    ctx_path = root / "reports" / PERIOD / "R2" / "context.json"
    ctx = read_context(ctx_path)
    ctx["locale"] = "de_DE"
    ctx["period"]["title"] = "März 2025"  # as scope writes it for a German rep
    write_context(ctx, ctx_path)
    cfg = load_config(write_params(root, tmp_path / "outbox", mail={"attach_pdf": False}))
    built = _built(cfg, "R2")
    parsed = email.message_from_bytes(built.data, policy=policy.default)
    assert parsed["Subject"] == "Ihre Scorecard — März 2025"  # the German catalog
    text = parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Umsatz: 0 $ (±0 $ ggü. letzter Monat)" in text.replace("\u00a0", " ")  # German: the symbol after
    assert "Abschlussquote: 0,0 %" in text.replace("\u00a0", " ")
    assert "Stand der Zahlen: 20. März 2025." in text
    assert mail.select_reports(cfg, PERIOD, ["R1"]).period_title == "March 2025"


GERMAN = {
    "Your scorecard — {period_title}": "Deine Übersicht — {period_title}",
    "Your scorecard": "Deine Übersicht",
    "Headline KPIs": "Kennzahlen & Trends",
    "Revenue": "Umsatz",
    "Figures as of {date}.": "Zahlen vom {date}.",
    "Hi {name}, here is how {period} went (figures as of {date}).": "Hallo {name}, so lief {period} (Stand {date}).",
    "Team {team}": "Team {team}",
    "Sent by the sales scorecard of {company}.": "Gesendet von der Vertriebsübersicht von {company}.",
    "The full scorecard is attached as a PDF: {file}": "Die ganze Übersicht hängt als PDF an: {file}",
    "Test message: the real one goes to {recipients}.": "Testnachricht: die echte geht an {recipients}.",
    "{title} — {period_title}": "{title} · {period_title}",
    "Team {team} summary": "Zusammenfassung Team {team}",
    ("{n} rep(s) in the team", "{n} rep(s) in the team"): ("{n} Person im Team", "{n} Personen im Team"),
}


def _german(reports: Path, tmp_path: Path, *folders: str) -> Path:
    """A copy of the report set whose reports in ``folders`` are written for a German reader."""
    root = tmp_path / "copy"
    shutil.copytree(reports, root)
    for folder in folders:
        ctx_path = root / "reports" / PERIOD / folder / "context.json"
        ctx = read_context(ctx_path)
        ctx["locale"] = "de_DE"
        ctx["period"]["title"] = "März 2025"  # as scope writes it for a German reader
        write_context(ctx, ctx_path)
    return root


def test_a_german_reps_email_speaks_german(reports: Path, tmp_path: Path) -> None:
    """With a (tiny) German catalog, Bob's email (his own locale) is German: subject, headings, greeting, footer;
    a translation's own characters are escaped in the HTML part; Ann's email (en_US) stays English."""
    from _catalog import tiny_catalog

    root = _german(reports, tmp_path, "R2")
    cfg = load_config(write_params(root, tmp_path / "outbox", mail={"attach_pdf": True}))
    with tiny_catalog(tmp_path / "locale", GERMAN):
        built = _built(cfg, "R2")
        english = _built(cfg, "R1")
        test = _built(cfg, "R2", test_to="qa@example.org")
    parsed = email.message_from_bytes(built.data, policy=policy.default)
    assert parsed["Subject"] == "Deine Übersicht — März 2025"
    text = built.text
    assert text.startswith("DEINE ÜBERSICHT · MÄRZ 2025\nBob Baker · Team North · Example & Co <b>\n")
    assert "Zahlen vom 20. März 2025." in text
    assert "\nKENNZAHLEN & TRENDS\n" in text
    assert "\n- Umsatz: 0" in text.replace("\u00a0", " ")
    assert "Die ganze Übersicht hängt als PDF an: scorecard-2025-03-R2.pdf" in text
    assert "Gesendet von der Vertriebsübersicht von Example & Co <b>." in text
    assert "Win rate" in text  # a message without a translation: as written
    html = built.html
    assert '<html lang="de">' in html
    assert "Hallo <bdi>Bob Baker</bdi>, so lief März 2025 (Stand 20. März 2025)." in html
    assert ">Kennzahlen &amp; Trends</h2>" in html
    assert "Gesendet von der Vertriebsübersicht von Example &amp; Co &lt;b&gt;." in html
    assert test.message["Subject"] == "[TEST] Deine Übersicht — März 2025"
    assert "Testnachricht: die echte geht an bob.baker@example.com." in test.text
    assert english.message["Subject"] == "Your scorecard — March 2025"
    assert english.text.startswith("YOUR SCORECARD · MARCH 2025\n")
    assert '<html lang="en">' in english.html and "Hi <bdi>" in english.html


def test_a_german_team_summary_speaks_german(reports: Path, tmp_path: Path) -> None:
    root = _german(reports, tmp_path, "team-North")
    cfg = load_config(write_params(root, tmp_path / "outbox", mail={"attach_pdf": False}))
    from _catalog import tiny_catalog

    with tiny_catalog(tmp_path / "locale", GERMAN):
        sel = mail.select_reports(cfg, PERIOD, audience=["managers"])
        built = mail.build_message(cfg, sel, next(c for c in sel.candidates if c.team == "North"))
    assert built.message["Subject"] == "Zusammenfassung Team \u2068North\u2069 · März 2025"
    assert built.text.startswith("ZUSAMMENFASSUNG TEAM NORTH · MÄRZ 2025\n")
    assert "- 2 Personen im Team." in built.text
    assert "<bdi>Zusammenfassung Team North</bdi> · März 2025</h1>" in built.html


def test_the_default_subjects_are_the_settings_defaults() -> None:
    """The subjects translated while the settings keep them are exactly the settings' defaults."""
    from salesreports.params import MailSettings

    defaults = MailSettings()
    assert (defaults.subject, defaults.summary_subject) == message.DEFAULT_SUBJECTS
