"""Fuzz: arbitrary Unicode in every string a CRM can hold, through the whole product.

Hypothesis puts controls (C0 and C1), bidi controls, combining marks, quotes, backslashes, markup, Rich
markup, template syntax, emoji and very long strings into the reps' and teams' names, the company name, the
products, and the feedback text and tags of the tiny fixture (read from Parquet, so every string arrives
exactly as generated), then runs context → notebook → HTML → PDF → email (PNG charts):

- every report is ok and every rep's email is written;
- no rep's files (context, KPI table, notebook, HTML, PDF, email) hold a string of another rep, and no team's
  files a string of a rep outside the team (each generated string starts with a marker of its owner);
- every HTML page parses with no script but the page's own and no event handler; no non-XML character
  reaches a page or a chart;
- every email parses, its subject is one line, and every ``cid:`` in its HTML resolves to an attached image.

Bounded: 20 profiles in one batch run (a run costs far more than a profile; ~1 s a report, 3 reports a
profile), each profile a copy of the tiny fixture (its two reps with an address, in one team) with its own
strings: 15 drawn by Hypothesis (``FUZZ_EXAMPLES=30`` draws more; derandomized so that CI is repeatable) and
5 made of every known troublemaker of ``BITS`` (five rotations: each piece reaches every field); marked slow.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
from email import policy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, write_config
from salesreports.params import load_config
from salesreports.run.batch import run_reports

TINY = FIXTURES / "tiny"
PERIOD = "2025-03"
GENERATED = int(os.environ.get("FUZZ_EXAMPLES", "15"))  # profiles Hypothesis generates
KNOWN = 5  # profiles made of every piece of BITS, each in another order
TEAMS = {"R1": "North", "R2": "North"}  # the tiny fixture's two reps with an address, one team: 3 reports a copy

# pieces that break renderers when they are not escaped or isolated
BITS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "<a href=javascript:alert(3)>x</a>",
    '"',
    "'",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\t",
    "\u2028",
    "\u2029",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200b",
    "\ufeff",
    "\x00",
    "\x0c",
    "\x1b[31m",
    "\x1b]8;;https://evil.example/\x1b\\",
    "\x7f",
    "\x85",
    "\x9b",
    "\u0301\u0301",
    "$\\frac{1}{0}$",
    "[link=https://evil.example/]Ann[/link]",
    "[bold red]Boss[/bold red]",
    "{{ 7*7 }}",
    "{% raw %}",
    "${x}",
    "]]>",
    "-->",
    "&amp;",
    "😀",
    "名前",
    "Ünïcödé",
    "\ufffd",
    "%s%n",
    "=cmd|' /C calc'!A0",
]
_chars = st.characters(exclude_categories=("Cs",))  # Parquet stores UTF-8: no lone surrogates
_piece = st.one_of(st.text(_chars, max_size=24), st.sampled_from(BITS))
FUZZ = st.one_of(st.lists(_piece, max_size=6).map("".join), st.text(_chars, min_size=300, max_size=1500))


def _marker(owner: str, field: str) -> str:
    return f"zq{owner.lower()}{field}x"  # letters and digits only: survives escaping, isolation and redaction


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    """The strings of one copy of the tiny fixture (3 reps in 2 teams)."""
    return {
        "names": {rep: draw(FUZZ) for rep in TEAMS},
        "teams": {team: draw(FUZZ) for team in sorted(set(TEAMS.values()))},
        "products": [draw(FUZZ), draw(FUZZ)],
        "feedback": [(draw(FUZZ), draw(FUZZ)) for _ in range(3)],
    }


def _known(b: int) -> dict[str, Any]:
    """Profile ``b`` of the explicit example: every piece of ``BITS``, in another order in each copy."""
    bits = BITS[b % len(BITS) :] + BITS[: b % len(BITS)]

    def text(i: int) -> str:
        return "".join(bits[i::5])

    return {
        "names": {rep: f"Ann {text(i)} Lee" for i, rep in enumerate(TEAMS)},
        "teams": {"North": text(3) + "x" * 400},
        "products": [text(0), text(1)],
        "feedback": [(text(2), text(3)), (text(4), text(0)), (text(1) * 20, text(2))],
    }


def _block(tables: dict[str, pd.DataFrame], b: int, profile: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Copy ``b`` of the tiny fixture: its own ids, accounts, addresses, and the profile's strings."""
    keep = {name: frame[frame["rep_id"].isin(TEAMS)] if "rep_id" in frame else frame for name, frame in tables.items()}
    out = {name: frame.copy() for name, frame in keep.items()}
    tables = keep
    ids = {r: f"B{b}{r}" for r in TEAMS}
    for frame in out.values():
        if "rep_id" in frame:
            frame["rep_id"] = frame["rep_id"].map(ids)
        for column in ("deal_id", "lead_id", "converted_deal_id", "account_id", "manager_id"):
            if column in frame:
                frame[column] = [f"B{b}{v}" if v else v for v in frame[column]]
        for column in ("email", "manager_email"):
            if column in frame:
                frame[column] = [f"b{b}.{v}" if v else v for v in frame[column]]
    reps = out["reps"]
    reps["name"] = [f"{_marker(ids[r], 'n')} {profile['names'][r]}" for r in tables["reps"]["rep_id"]]
    team = f"{_marker(f'B{b}North', 't')} {profile['teams']['North']}"
    reps["team"] = [team] * len(reps)
    products = dict(zip(("Core", "Analytics"), profile["products"], strict=True))
    out["deals"]["product"] = [f"{_marker(f'B{b}{p}', 'p')} {products[p]}" for p in tables["deals"]["product"]]
    feedback, texts = out["feedback"], profile["feedback"]
    feedback["text"] = [f"{_marker(r, 'f')} {t}" for r, (t, _) in zip(feedback["rep_id"], texts, strict=True)]
    feedback["tags"] = [f"{_marker(r, 'g')} {g}" for r, (_, g) in zip(feedback["rep_id"], texts, strict=True)]
    return out


def _write_data(folder: Path, blocks: list[dict[str, Any]]) -> tuple[Path, dict[str, str]]:
    """One copy of the tiny fixture per profile, as Parquet files; the source mapping and each rep's team."""
    folder.mkdir(parents=True)
    tiny = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in TINY.glob("*.csv")}
    copies = [_block(tiny, b, profile) for b, profile in enumerate(blocks)]
    lines = ["name: fuzz", "base_dir: .", "tables:"]
    for name in tiny:
        frame = pd.concat([c[name] for c in copies], ignore_index=True)
        frame.replace("", None).to_parquet(folder / f"{name}.parquet", index=False)
        lines.append(f"  {name}: {{file: {name}.parquet}}")
    (folder / "source.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    teams = {f"B{b}{r}": f"B{b}{t}" for b in range(len(blocks)) for r, t in TEAMS.items()}
    return folder / "source.yaml", teams


class _Page(HTMLParser):
    """Scripts and event handlers of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.handlers: list[str] = []
        self.links: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"<{tag} {k}>" for k, _ in attrs if k.lower().startswith("on")]
        self.links += [v for k, v in attrs if k in ("href", "src") and v and v.lower().lstrip().startswith("javas")]
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


NON_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _texts(folder: Path) -> dict[str, str]:
    """Every file of a report folder as text (the PDF through pdftotext, the KPI tables as their values)."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils is needed (make sysdeps)"
    texts = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".pdf":
            run = subprocess.run([pdftotext, str(path), "-"], capture_output=True, text=True, check=True)
            texts[path.name] = run.stdout
        elif path.suffix == ".parquet":
            texts[path.name] = pd.read_parquet(path).to_csv()
        else:
            texts[path.name] = path.read_text(encoding="utf-8")
    return texts


def _email_text(path: Path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    for name, value in msg.items():
        assert "\n" not in str(value) and "\r" not in str(value), f"{path.name}: header {name} spans lines"
    cids = {str(p["Content-ID"]).strip("<>") for p in msg.walk() if p["Content-ID"]}
    parts = [str(msg["Subject"])]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            body = part.get_content()
            parts.append(body)
            if part.get_content_subtype() == "html":
                missing = set(re.findall(r"cid:([^\"')\s>]+)", body)) - cids
                assert not missing, f"{path.name}: cid: without an image: {missing}"
                page = _Page()
                page.feed(body)
                assert page.scripts == [] and page.handlers == [] and page.links == [], path.name
    return "\n".join(parts)


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value (a notebook's sources and outputs, decoded)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _outputs(notebook: dict[str, Any]) -> list[str]:
    return [s for cell in notebook["cells"] for s in _strings(cell.get("outputs", []))]


def _foreign_markers(owners: set[str], reps: dict[str, str]) -> list[str]:
    """Markers of reps outside ``owners``: names, feedback text and tags."""
    return [_marker(r, f) for r in reps if r not in owners for f in ("n", "f", "g")]


def generated(count: int) -> list[dict[str, Any]]:
    """``count`` profiles drawn by Hypothesis (derandomized: the same ones in every run)."""
    found: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(profiles(), FUZZ)
    def collect(profile: dict[str, Any], company: str) -> None:
        found.append({**profile, "company": company})

    collect()
    return found


@pytest.mark.slow
@pytest.mark.notebooks
def test_fuzzed_strings_go_through_every_renderer(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One batch over every profile (a batch costs far more than a profile): KNOWN copies holding every piece
    of BITS, then GENERATED copies drawn by Hypothesis; the company name holds every piece and a drawn string."""
    from salesreports import mail

    drawn = generated(GENERATED)
    assert len(drawn) == GENERATED
    blocks = [_known(b) for b in range(KNOWN)] + drawn
    company = "".join(BITS) + max((p["company"] for p in drawn), key=len)[:300]
    root = tmp_path_factory.mktemp("fuzz")
    source, teams = _write_data(root / "data", blocks)
    path = write_config(root, source)
    text = path.read_text(encoding="utf-8").replace("company: Tiny Test Co\n", "").replace("workers: 1", "workers: 2")
    path.write_text(yaml.safe_dump({"company": f"zqco {company}"}, allow_unicode=False) + text, encoding="utf-8")
    config = load_config(path, environ={})

    summary = run_reports(config, periods=PERIOD)
    assert summary.ok, summary.failed
    assert sorted(r["id"] for r in summary.results if r["kind"] == "rep") == sorted(teams)
    sent = mail.send_reports(config, period=PERIOD)
    outbox = {row.rep_id: Path(row.path) for row in sent.rows if row.path}
    assert sorted(outbox) == sorted(teams)

    folder = root / "reports" / PERIOD
    for result in summary.results:
        kind, ident = result["kind"], result["id"]
        texts = _texts(folder / result["folder"])
        if kind == "rep":
            owners = {ident}
            if ident in outbox:
                texts["email"] = _email_text(outbox[ident])
        elif ident == "company":  # the company summary: every rep
            owners = set(teams)
        else:
            owners = {r for r, t in teams.items() if _marker(t, "t") in ident}
            assert owners, ident
        for name, body in texts.items():
            for marker in _foreign_markers(owners, teams):
                assert marker not in body, f"{kind} {ident!r}: {name} holds {marker} of another rep"
            # a notebook is JSON (escapes hold any character): what it shows is its cells' outputs
            shown = _outputs(json.loads(body)) if name.endswith(".ipynb") else [body]
            if name.endswith((".html", ".ipynb", "email")):
                assert not any(NON_XML.search(s) for s in shown), f"{result['folder']}/{name}: a non-XML character"
            if name.endswith(".html"):
                page = _Page()
                page.feed(body)
                assert page.handlers == [] and page.links == [], f"{result['folder']}/{name}"
                assert all("alert(" not in s and "zq" not in s for s in page.scripts), f"{result['folder']}/{name}"
