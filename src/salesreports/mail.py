"""Scorecard emails: one message per rep, built from the report's context and executed notebook.

``send_reports`` is what ``salesreports send`` runs. By default it is a **dry run**: every message is
written as ``<outbox>/<period>/<rep>.eml`` for review and nothing is sent. With ``send=True`` the
messages go out over SMTP (:mod:`salesreports.delivery`) and each step is recorded in the delivery
ledger (:mod:`salesreports.ledger`, ``<outbox>/ledger.sqlite``). ``test_to`` sends every message to
one address instead, with ``[TEST]`` in the subject, and records nothing in the ledger.

Which reports go out
--------------------
Only rep reports whose manifest status is ``ok`` and whose files exist. A failed report, a rep without
an email address ("skipped: no email", never guessed), an address holding a line break or several
addresses (header injection, an error naming the rep) are listed in the summary and not sent.

A re-run sends only what was not sent: a row ``sent`` or ``possibly-sent`` for the same report hash is
skipped; so is a *changed* report (new hash) of a rep who already got the period's scorecard, unless
``resend=True``. ``failed-temporary`` and ``pending`` rows are tried again; ``failed-permanent`` only with
``resend``. See :mod:`salesreports.delivery` for the crash-safety guarantee.

The message
-----------
``multipart/mixed`` [ ``multipart/alternative`` [ ``text/plain``, ``multipart/related`` [ ``text/html``,
``image/png``... ] ], ``application/pdf`` ]. The HTML is made for mail clients, not browsers: a
640-pixel table layout, CSS inlined with css-inline, no script, no SVG, charts as PNG parts (2x pixels)
referenced by ``cid:``, each with its alt text also printed as a caption. Every value from the data is
escaped by Jinja's autoescaping; control and bidi-override characters are removed; long texts are cut.
The HTML part stays under 100 KB (Gmail clips larger bodies): when the full version is larger, a compact
one (fewer goals, no quotes) is sent, and if even that is too large the rep's message is an error.

Headers: From, To (the rep), Cc (the manager when ``mail.cc_manager``), Reply-To, Subject (from
``mail.subject``), Date, Message-ID (stable per period, rep and report hash, so a resend is
recognisable), Auto-Submitted, List-Unsubscribe (when ``mail.unsubscribe`` is set; otherwise
``mail.opt_out_note`` goes in the footer).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import string
import struct
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any, Final

from salesreports.errors import ConfigError, DeliveryError, ParamsError, close_matches
from salesreports.params import Config

__all__ = [
    "CHART_MIME",
    "HTML_BUDGET",
    "BuiltMail",
    "MailRow",
    "Recipient",
    "SendSummary",
    "build_message",
    "check_address",
    "default_period",
    "ledger_rows",
    "select_reports",
    "send_reports",
]

CHART_MIME: Final = "application/vnd.salesreports.chart+json"
HTML_BUDGET: Final = 100_000  # bytes of the HTML part; Gmail clips bodies over ~102 KB
TEXT_LIMIT: Final = 300
MAX_GOALS: Final = 6
MAX_EVIDENCE: Final = 3
MAX_QUOTES: Final = 2
CHART_WIDTH: Final = 560  # CSS pixels in the 640-pixel layout
SUBJECT_FIELDS: Final = ("period_title", "period", "name", "rep_id", "team", "company")
LINK_FIELDS: Final = ("period", "rep_id", "folder")
TEST_PREFIX: Final = "[TEST] "

# States of a summary row that make ``salesreports send`` exit 1.
FAILING: Final = frozenset(
    {
        "failed-temporary",
        "failed-permanent",
        "possibly-sent",
        "report failed",
        "invalid address",
        "incomplete report",
        "pending",
        "error",
    }
)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\ufeff]")
_LINEBREAK = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]")
_ADDR = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_SMTP = policy.SMTP.clone(max_line_length=78)


# -- small helpers ------------------------------------------------------------------------------------------------


def _clean(value: Any, limit: int = 0) -> str:
    """Text from the data: no control or bidi-override characters, lone surrogates replaced, cut to ``limit``."""
    text = "" if value is None else str(value)
    if isinstance(value, float) and value != value:  # NaN
        text = ""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.encode("utf-8", "replace").decode("utf-8")
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _line(value: Any, limit: int = 0) -> str:
    """One line of text (runs of white space, line breaks included, become one space)."""
    return _clean(" ".join(_clean(value).split()), limit)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""


@dataclass(frozen=True)
class Recipient:
    """A checked address with its display name."""

    address: str
    name: str = ""

    def header(self) -> Address:
        """For a To/Cc header.

        The display name is only a courtesy: RFC 5322 specials are dropped and it is kept short, because
        Python's SMTP policy folds a long quoted name without its quotes and the header would then parse
        as another address.
        """
        name = _line(re.sub(r'[()<>\[\]:;@\\,."]', " ", _line(self.name)), 40)
        return Address(display_name=name, addr_spec=self.address)

    def __str__(self) -> str:
        return self.address


def check_address(value: Any, *, rep_id: str, role: str = "email") -> str | None:
    """One plain address from the data, or ``None`` when the field is empty.

    Parameters
    ----------
    value : the field's value (``ann@example.com``)
    rep_id : the rep, named in errors
    role : which field (``email``, ``manager_email``), named in errors

    Raises
    ------
    DeliveryError
        A line break (header injection), several addresses, or not an address. Fields ``rep`` and ``role``.
    """
    if _missing(value):
        return None
    text = str(value)
    where = f"rep {rep_id}: {role} {text!r}"
    if _LINEBREAK.search(text) or any(ord(c) < 32 for c in text):
        msg = (
            f"{where} contains a line break or control character (a header injection attempt or a broken "
            "export); nothing is sent to this rep. Fix: correct the address in the reps table."
        )
        raise DeliveryError(msg, rep=rep_id, role=role)
    text = text.strip()
    if len(re.findall(r"@", text)) > 1 or re.search(r"[,;]", text):
        msg = (
            f"{where} holds several addresses; one field must hold exactly one. Fix: keep one address in the "
            "reps table (use mail.cc_manager for the manager)."
        )
        raise DeliveryError(msg, rep=rep_id, role=role)
    if not _ADDR.match(text) or len(text) > 254:
        msg = f"{where} is not a plain email address (name@example.com, ASCII). Fix: correct it in the reps table."
        raise DeliveryError(msg, rep=rep_id, role=role)
    return text


def _config_address(config: Config, key: str, value: str) -> tuple[str, str]:
    """(display name, address) of a configured address such as ``Sales Ops <sales-ops@example.com>``."""
    where = f"{config.path or 'settings'}: mail.{key} {value!r}"
    if _LINEBREAK.search(value):
        raise ConfigError(f"{where} contains a line break. Fix: one address on one line.", key=f"mail.{key}")
    name, addr = parseaddr(value)
    if not addr or not _ADDR.match(addr) or value.count("@") != 1:
        msg = f'{where} is not one address. Fix: write e.g. "Sales Ops <sales-ops@example.com>".'
        raise ConfigError(msg, key=f"mail.{key}")
    return name, addr


def _url(config: Config, key: str, value: str, schemes: Sequence[str]) -> str:
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in schemes or _LINEBREAK.search(value) or re.search(r"\s|[<>\"]", value):
        msg = (
            f"{config.path or 'settings'}: mail.{key} {value!r} must be a {' or '.join(schemes)} URL without "
            "spaces. Fix: correct it or leave it empty."
        )
        raise ConfigError(msg, key=f"mail.{key}")
    return value


def _format_template(config: Config, key: str, template: str, values: Mapping[str, str], allowed: Sequence[str]) -> str:
    """``template.format(**values)`` restricted to plain ``{name}`` fields from ``allowed``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(
            f"mail.{key} {template!r}: {exc}. Fix: balance the braces ({{{{ for a brace}}.", key=f"mail.{key}"
        ) from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in allowed or spec or conv:
            hint = close_matches(name, allowed)
            msg = (
                f"mail.{key} {template!r}: unknown field {{{name}}}.{hint} Fix: use only "
                f"{', '.join('{' + a + '}' for a in allowed)}."
            )
            raise ConfigError(msg, key=f"mail.{key}")
    return template.format_map(dict(values))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def message_id(period: str, rep_id: str, report_hash: str, domain: str) -> str:
    """The stable Message-ID of a (period, rep, report) scorecard email."""
    return f"<scorecard.{_digest(period, rep_id, report_hash)[:32]}@{domain}>"


# -- selecting reports ----------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    """A rep report of the manifest and whether it can be mailed.

    ``problem`` is empty when the report can be sent; otherwise ``state`` says why not (``no email``,
    ``report failed``, ``not in period``, ``invalid address``, ``incomplete report``).
    """

    rep_id: str
    name: str
    team: str
    entry: dict[str, Any]
    report_hash: str = ""
    to: Recipient | None = None
    cc: tuple[Recipient, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    state: str = ""
    problem: str = ""
    note: str = ""

    @property
    def ready(self) -> bool:
        """Whether a message can be built."""
        return not self.problem


@dataclass
class Selection:
    """The period's reports chosen for mailing."""

    period: str
    period_title: str
    folder: Path
    company: str
    candidates: list[Candidate]


def default_period(config: Config) -> str:
    """The newest period folder under the output folder that holds a manifest.

    Raises
    ------
    DeliveryError
        No period has a manifest yet.
    """
    root = config.output_path
    found = sorted(p.parent.name for p in root.glob("*/manifest.json")) if root.exists() else []
    if not found:
        msg = f"no reports in {root} (no */manifest.json). Fix: run `salesreports run` first, then send."
        raise DeliveryError(msg, folder=str(root))
    return found[-1]


def select_reports(config: Config, period: str | None = None, reps: Sequence[str] | None = None) -> Selection:
    """Read a period's manifest and decide, per rep report, whether it can be mailed.

    Raises
    ------
    DeliveryError
        No manifest for the period.
    ParamsError
        A rep id of ``reps`` is not in the manifest (with close matches).
    """
    from salesreports.paths import slug
    from salesreports.run.manifest import FILE, load_manifest

    label = period or default_period(config)
    folder = config.output_path / slug(label)
    if not (folder / FILE).exists():
        have = (
            sorted(p.parent.name for p in config.output_path.glob(f"*/{FILE}")) if config.output_path.exists() else []
        )
        msg = f"no manifest for period {label} in {folder}. Fix: run `salesreports run --period {label}` first" + (
            f", or pick one of {', '.join(have)}." if have else "."
        )
        raise DeliveryError(msg, period=label)
    manifest = load_manifest(folder, label)
    entries = [e for e in manifest.reports.values() if e.get("kind") == "rep"]
    if reps:
        known = [str(e.get("id")) for e in entries]
        unknown = [r for r in reps if r not in known]
        if unknown:
            msg = (
                f"rep(s) {', '.join(map(repr, unknown))} have no report for {label}."
                f"{close_matches(unknown[0], known)} Fix: use rep ids of the manifest ({folder / FILE})."
            )
            raise ParamsError(msg, reps=unknown)
        entries = [e for e in entries if str(e.get("id")) in set(reps)]
    entries.sort(key=lambda e: str(e.get("id")))
    out = [_candidate(config, folder, e) for e in entries]
    return Selection(label, manifest.period_title or label, folder, manifest.company or config.company, out)


def _candidate(config: Config, folder: Path, entry: dict[str, Any]) -> Candidate:
    from salesreports.paths import inside

    rep_id = str(entry.get("id"))
    c = Candidate(
        rep_id,
        _line(entry.get("name") or rep_id, 120),
        _line(entry.get("team") or "", 80),
        entry,
        report_hash=str(entry.get("inputs") or entry.get("context_hash") or ""),
    )
    status = entry.get("status")
    if status == "skipped":
        c.state, c.problem = "not in period", _line(entry.get("reason") or "no report for this period")
        return c
    if status != "ok":
        c.state, c.problem = "report failed", _line(entry.get("error") or f"report status {status!r}", TEXT_LIMIT)
        return c
    outputs = dict(entry.get("outputs") or {})
    try:
        files = {"context": inside(folder, str(entry.get("folder") or rep_id), "context.json")}
        files.update({k: inside(folder, str(v)) for k, v in outputs.items() if k in ("ipynb", "pdf")})
    except ValueError as exc:
        c.state, c.problem = "incomplete report", str(exc)
        return c
    needed = ["context", "ipynb"] + (["pdf"] if config.mail.attach_pdf and "pdf" in files else [])
    missing = [str(files[k]) for k in needed if k not in files or not files[k].exists()]
    if missing or not c.report_hash:
        c.state = "incomplete report"
        c.problem = (f"missing {', '.join(missing)}" if missing else "no report hash in the manifest") + (
            ". Fix: run `salesreports run` again."
        )
        return c
    c.files = files
    from salesreports.errors import ParamsError
    from salesreports.report.contexts import read_context

    try:
        c.context = read_context(files["context"])
        rep = dict(c.context.get("rep") or {})
    except ParamsError as exc:
        c.state, c.problem = "incomplete report", str(exc)
        return c
    except (ValueError, AttributeError, TypeError) as exc:
        c.state, c.problem = "incomplete report", f"{files['context']}: unreadable ({exc})"
        return c
    c.name = _line(rep.get("name") or c.name, 120)
    c.team = _line(rep.get("team") or c.team, 80)
    try:
        to = check_address(rep.get("email"), rep_id=rep_id, role="email")
        manager = None
        if config.mail.cc_manager:
            manager = check_address(rep.get("manager_email"), rep_id=rep_id, role="manager_email")
    except DeliveryError as exc:
        c.state, c.problem = "invalid address", str(exc)
        return c
    if to is None:
        c.state, c.problem = "no email", "no email address in the reps table; not guessed. Fix: add one."
        return c
    c.to = Recipient(to, c.name)
    if config.mail.cc_manager:
        if manager is None:
            c.note = "no manager address: no Cc"
        elif manager.lower() != to.lower():
            c.cc = (Recipient(manager),)
    return c


# -- building one message -----------------------------------------------------------------------------------------


@dataclass
class BuiltMail:
    """A built message and what delivery needs of it."""

    candidate: Candidate
    message: EmailMessage
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    html: str
    text: str
    compact: bool = False
    _data: bytes = b""

    @property
    def data(self) -> bytes:
        """The message as sent (CRLF line ends)."""
        if not self._data:
            self._data = self.message.as_bytes(policy=_SMTP)
        return self._data

    @property
    def html_size(self) -> int:
        """Bytes of the HTML part (UTF-8, before transfer encoding)."""
        return len(self.html.encode("utf-8"))

    @property
    def size(self) -> int:
        """Bytes of the whole message."""
        return len(self.data)


@cache
def _env(autoescape: bool) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("salesreports.report", "templates/email"),
        autoescape=autoescape,  # noqa: S701 - off only for the text/plain part
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _css() -> str:
    from importlib import resources

    base = resources.files("salesreports.report").joinpath("templates/email")
    return base.joinpath("email.css").read_text("utf-8") + "\n" + base.joinpath("responsive.css").read_text("utf-8")


def _inline(html: str) -> str:
    import css_inline

    inliner = css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False)
    return str(inliner.inline(html))


def notebook_charts(path: Path) -> list[dict[str, Any]]:
    """The chart payloads (``{"spec", "alt", "name"}``) of an executed notebook, in order.

    Raises
    ------
    DeliveryError
        The notebook cannot be read.
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeliveryError(
            f"{path}: not a readable notebook ({exc}). Fix: run the report again.", file=str(path)
        ) from None
    charts = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            payload = (out.get("data") or {}).get(CHART_MIME)
            if isinstance(payload, dict) and isinstance(payload.get("spec"), dict):
                charts.append(payload)
    return charts


@cache
def _png(spec_json: str) -> bytes:
    import vl_convert as vlc

    from salesreports.report.vega import vl_version

    spec = json.loads(spec_json)
    return _shrink(bytes(vlc.vegalite_to_png(spec, scale=2, vl_version=vl_version(spec))))


def _shrink(png: bytes) -> bytes:
    """The PNG with a 256-colour palette (flat chart colours survive; ~5x smaller), when Pillow is installed."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with weasyprint
        return png
    import io

    with Image.open(io.BytesIO(png)) as im:
        rgb = im.convert("RGBA")
        flat = Image.new("RGB", rgb.size, "white")
        flat.paste(rgb, mask=rgb.getchannel("A"))
        out = io.BytesIO()
        flat.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, "PNG", optimize=True
        )
    return out.getvalue() if out.tell() < len(png) else png


def chart_png(spec: Mapping[str, Any]) -> tuple[bytes, int, int]:
    """A chart as PNG at 2x pixels, with its display size in CSS pixels (at most 560 wide).

    Raises
    ------
    DeliveryError
        vl-convert cannot convert the spec.
    """
    try:
        data = _png(json.dumps(spec, sort_keys=True))
    except Exception as exc:  # vl-convert raises plain ValueError/RuntimeError
        raise DeliveryError(f"a chart could not be converted to PNG: {exc}") from None
    width, height = struct.unpack(">II", data[16:24])
    css_w, css_h = width / 2, height / 2
    if css_w > CHART_WIDTH:
        css_w, css_h = CHART_WIDTH, css_h * CHART_WIDTH / css_w
    return data, round(css_w), round(css_h)


def _tiles(context: dict[str, Any]) -> list[dict[str, Any]]:
    from salesreports.metrics.kpis import registry
    from salesreports.report.views import RepView

    view = RepView(context)
    out = []
    for k in registry().headline():
        t = view.tile(k.name)
        subs = [_line(s, 120) for s in t.sub if _line(s)]
        change = _line(t.change, 120)
        if t.unavailable_reason is not None or not t.value.strip():
            reason = _line(t.unavailable_reason or "", 120)
            out.append(
                {
                    "label": _line(t.label),
                    "available": False,
                    "reason": reason,
                    "direction": "neutral",
                    "text": f"{_line(t.label)}: not available" + (f" ({reason})" if reason else ""),
                }
            )
            continue
        head = change[:1]
        arrow = "▲" if head == "+" else "▼" if head in ("-", "−") else ""
        extra = [*subs, change] if change else subs
        out.append(
            {
                "label": _line(t.label),
                "available": True,
                "value": _line(t.value),
                "sub": subs,
                "change": change,
                "arrow": arrow,
                "direction": t.direction,
                "text": f"{_line(t.label)}: {_line(t.value)}" + (f" ({'; '.join(extra)})" if extra else ""),
            }
        )
    return out


def _goals(context: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], list[str], int]:
    rep_id = str((context.get("rep") or {}).get("rep_id", ""))
    shown: list[dict[str, Any]] = []
    later: list[str] = []
    for g in context.get("goals") or []:
        status = _line(g.get("status") or "", 40)
        owner = "" if str(g.get("owner")) == rep_id else f" ({_line(g.get('owner'), 60)})"
        name = _line(g.get("label") or g.get("goal_id") or "goal", 120) + owner
        if status in ("not started", "not available"):
            later.append(f"{name}: {status}")
            continue
        text = g.get("text") or {}
        facts = [
            f"target {_line(text['target'])}" if text.get("target") else "",
            f"expected by now {_line(text['expected'])}" if text.get("expected") else "",
            f"projected {_line(text['projected'])}" if text.get("projected") else "",
        ]
        deadline = _line(g.get("deadline") or "")
        if deadline:
            facts.append(f"deadline {deadline}")
        fact_line = " · ".join(f for f in facts if f and "not available" not in f)
        pct = g.get("actual_pct")
        progress = None if _missing(pct) else max(0, min(100, round(float(pct) * 100)))
        shown.append(
            {
                "name": name,
                "status": status or "unknown",
                "status_class": re.sub(r"[^a-z]+", "-", status),
                "summary": _clean(g.get("summary"), TEXT_LIMIT),
                "facts": fact_line,
                "progress": progress,
            }
        )
    return shown[:limit], later[:limit], max(0, len(shown) - limit)


def _coaching(context: dict[str, Any], *, quotes: bool) -> dict[str, Any] | None:
    needs = [n for n in context.get("coaching") or [] if isinstance(n, dict) and n.get("topic")]
    if not needs:
        return None
    top = needs[0]
    return {
        "topic": _line(top.get("topic"), 120),
        "description": _clean(top.get("description"), TEXT_LIMIT),
        "evidence": [
            _clean(e.get("text"), TEXT_LIMIT)
            for e in (top.get("evidence") or [])[:MAX_EVIDENCE]
            if isinstance(e, dict) and e.get("text")
        ],
        "quotes": [
            {
                "text": _clean(q.get("text"), 200),
                "source": _line(q.get("source") or "feedback", 40),
                "date": _line(q.get("date") or "", 10),
            }
            for q in (top.get("quotes") or [])[:MAX_QUOTES]
            if quotes and isinstance(q, dict) and q.get("text")
        ],
        "others": [_line(n.get("topic"), 80) for n in needs[1:4]],
    }


def _model(
    config: Config,
    sel: Selection,
    c: Candidate,
    charts: list[dict[str, Any]],
    *,
    subject: str,
    attachment: str,
    link: str,
    test_note: str,
    compact: bool,
) -> dict[str, Any]:
    ctx = c.context
    tiles = _tiles(ctx)
    goals, later, more = _goals(ctx, 3 if compact else MAX_GOALS)
    incentive = ctx.get("incentive") or {}
    at_risk = sum(1 for g in goals if g["status"] in ("at risk", "missed"))
    pre = [f"{t['label']} {t['value']}" for t in tiles[:2] if t["available"]]
    if at_risk:
        pre.append(f"{at_risk} goal(s) at risk")
    unsubscribe = config.mail.unsubscribe
    return {
        "subject": subject,
        "css": _css(),
        "preheader": " · ".join(pre),
        "test_note": test_note,
        "company": _line(sel.company, 120),
        "period_title": _line(sel.period_title, 60),
        "as_of": _line(ctx.get("as_of") or "", 10),
        "name": c.name,
        "team": c.team,
        "tiles": tiles,
        "goals": goals,
        "later_goals": later,
        "goals_more": more,
        "charts": charts,
        "coaching": _coaching(ctx, quotes=not compact),
        "incentive": _clean(incentive.get("summary"), TEXT_LIMIT) if isinstance(incentive, dict) else "",
        "attachment": attachment,
        "link": link,
        "reply_to": bool(config.mail.reply_to),
        "unsubscribe": unsubscribe,
        "opt_out": _clean(config.mail.opt_out_note, TEXT_LIMIT) if not unsubscribe else "",
    }


def build_message(
    config: Config,
    selection: Selection,
    candidate: Candidate,
    *,
    test_to: str | None = None,
    now: dt.datetime | None = None,
) -> BuiltMail:
    """Build the email of one ready candidate (see :func:`select_reports`).

    Parameters
    ----------
    config : the settings (``mail`` section)
    selection : the period's selection (period, title, company)
    candidate : a candidate with ``ready`` true
    test_to : send to this address instead, with ``[TEST]`` in the subject and a random Message-ID
    now : the Date header (default: now)

    Raises
    ------
    DeliveryError
        The candidate is not ready, a chart cannot be converted, a file cannot be read, or even the compact
        HTML part exceeds :data:`HTML_BUDGET`.
    ConfigError
        Invalid ``mail`` settings (sender, subject template, URLs).
    """
    from salesreports.paths import slug

    c = candidate
    if not c.ready or c.to is None:
        raise DeliveryError(f"rep {c.rep_id}: cannot build a message: {c.problem or 'no address'}", rep=c.rep_id)
    m = config.mail
    sender_name, sender = _config_address(config, "sender", m.sender)
    domain = sender.rsplit("@", 1)[1]
    reply_to = _config_address(config, "reply_to", m.reply_to) if m.reply_to else None
    values = {
        "period_title": selection.period_title,
        "period": selection.period,
        "name": c.name,
        "rep_id": _line(c.rep_id, 60),
        "team": c.team,
        "company": _line(selection.company, 120),
    }
    subject = _line(_format_template(config, "subject", m.subject, values, SUBJECT_FIELDS), 200)
    unsubscribe = _url(config, "unsubscribe", m.unsubscribe, ("https", "http", "mailto")) if m.unsubscribe else ""
    link = ""
    if m.report_link:
        quoted = {"period": selection.period, "rep_id": c.rep_id, "folder": str(c.entry.get("folder") or c.rep_id)}
        quoted = {k: urllib.parse.quote(v, safe="") for k, v in quoted.items()}
        link = _url(
            config,
            "report_link",
            _format_template(config, "report_link", m.report_link, quoted, LINK_FIELDS),
            ("https", "http"),
        )
    test_note = ""
    if test_to:
        to_addr = check_address(test_to, rep_id=c.rep_id, role="--test-to")
        assert to_addr is not None
        real = c.to.address + (f" (Cc {', '.join(r.address for r in c.cc)})" if c.cc else "")
        test_note = f"Test message: the real one goes to {real}."
        subject = TEST_PREFIX + subject
        mid = make_msgid(idstring="scorecard-test", domain=domain)
        to, cc = Recipient(to_addr, c.name), tuple[Recipient, ...]()
    else:
        mid = message_id(selection.period, c.rep_id, c.report_hash, domain)
        to, cc = c.to, c.cc

    charts = []
    images: list[tuple[bytes, str, str]] = []
    for i, payload in enumerate(notebook_charts(c.files["ipynb"]), start=1):
        png, width, height = chart_png(payload["spec"])
        name = slug(str(payload.get("name") or f"chart-{i}"))[:40]
        cid = f"{name}.{_digest(mid, str(i))[:12]}@{domain}"
        alt = _line(payload.get("alt") or f"Chart {i}", TEXT_LIMIT)
        charts.append({"cid": cid, "width": width, "height": height, "alt": alt})
        images.append((png, cid, f"{name}.png"))
    pdf = c.files.get("pdf") if m.attach_pdf else None
    attachment = f"scorecard-{slug(selection.period)}-{slug(c.rep_id)}.pdf" if pdf else ""

    html = text = ""
    compact = False
    for compact in (False, True):
        model = _model(
            config,
            selection,
            c,
            charts,
            subject=subject,
            attachment=attachment,
            link=link,
            test_note=test_note,
            compact=compact,
        )
        html = _inline(_env(True).get_template("scorecard.html.j2").render(model))
        if len(html.encode("utf-8")) <= HTML_BUDGET:
            text = _env(False).get_template("scorecard.txt.j2").render(model)
            break
    else:
        msg = (
            f"rep {c.rep_id}: the email's HTML part is {len(html.encode('utf-8')):,} bytes even in its compact "
            f"form (limit {HTML_BUDGET:,}; Gmail clips larger bodies)."
        )
        raise DeliveryError(msg, rep=c.rep_id)

    msg_ = EmailMessage(policy=_SMTP)
    msg_["From"] = Address(display_name=sender_name, addr_spec=sender)
    msg_["To"] = to.header()
    if cc:
        msg_["Cc"] = [r.header() for r in cc]
    if reply_to:
        msg_["Reply-To"] = Address(display_name=reply_to[0], addr_spec=reply_to[1])
    msg_["Subject"] = subject
    msg_["Date"] = format_datetime(now or dt.datetime.now(dt.UTC).astimezone())
    msg_["Message-ID"] = mid
    msg_["Auto-Submitted"] = "auto-generated"
    msg_["X-Auto-Response-Suppress"] = "All"
    if unsubscribe:
        msg_["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg_["X-Salesreports-Report"] = f"{slug(selection.period)}; {slug(c.rep_id)}; {slug(c.report_hash)}"
    msg_.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg_.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = msg_.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    for png, cid, filename in images:
        html_part.add_related(
            png, maintype="image", subtype="png", cid=f"<{cid}>", filename=filename, disposition="inline"
        )
    if pdf is not None:
        try:
            data = pdf.read_bytes()
        except OSError as exc:
            raise DeliveryError(f"rep {c.rep_id}: cannot read {pdf}: {exc}", rep=c.rep_id) from None
        msg_.add_attachment(data, maintype="application", subtype="pdf", filename=attachment)
    recipients = (to.address, *(r.address for r in cc))
    return BuiltMail(c, msg_, mid, sender, recipients, html, text, compact)


# -- the send command ---------------------------------------------------------------------------------------------


@dataclass
class MailRow:
    """One line of the send summary."""

    rep_id: str
    name: str
    to: str
    state: str
    detail: str = ""
    attempts: int = 0
    path: str = ""
    size: int = 0

    @property
    def failing(self) -> bool:
        """Whether this row makes the command exit 1."""
        return self.state in FAILING


@dataclass
class SendSummary:
    """What ``send_reports`` did."""

    period: str
    mode: str  # dry-run, send, test
    rows: list[MailRow] = field(default_factory=list)
    outbox: Path | None = None
    ledger: Path | None = None
    recovered: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing is left unsent that should have gone (see :data:`FAILING`)."""
        return not any(r.failing for r in self.rows)

    def count(self, state: str) -> int:
        """How many rows are in ``state``."""
        return sum(1 for r in self.rows if r.state == state)


def _decide(rows: Sequence[Any], report_hash: str, resend: bool) -> tuple[bool, str, str]:
    """(send?, state when not sent, detail) for a rep from its ledger rows in the period."""
    current = next((r for r in rows if r.report_hash == report_hash), None)
    if resend:
        return True, "", "resend requested" if current or rows else ""
    if current is not None:
        if current.state in ("pending", "failed-temporary"):
            return True, "", f"retry after {current.state} ({current.attempts} attempt(s))"
        if current.state == "sent":
            return False, "already sent", f"sent {current.sent_at}"
        if current.state in ("possibly-sent", "sending"):
            return (
                False,
                "possibly-sent",
                ("interrupted during SMTP: check whether it arrived; --resend sends it again"),
            )
        return False, current.state, f"{current.last_reply} (--resend tries again)"
    earlier = [r for r in rows if r.state in ("sent", "possibly-sent", "sending")]
    if earlier:
        when = earlier[-1].sent_at or earlier[-1].updated_at
        return False, "not resent", f"the report changed after it was sent ({when}); --resend sends the new one"
    return True, "", ""


def send_reports(
    config: Config,
    *,
    period: str | None = None,
    reps: Sequence[str] | None = None,
    send: bool = False,
    test_to: str | None = None,
    resend: bool = False,
    environ: dict[str, str] | None = None,
    on_row: Callable[[MailRow], None] | None = None,
) -> SendSummary:
    """Mail a period's rep scorecards: dry run (``.eml`` files), real send, or test send.

    Parameters
    ----------
    config : settings (``mail``, ``smtp``, ``outbox_dir``, ``output_dir``)
    period : the period label (default: the newest with a manifest)
    reps : only these rep ids (default: every rep report)
    send : really send (default: write ``.eml`` files only)
    test_to : send every message to this address instead (``[TEST]`` subject, no ledger)
    resend : send again what the ledger says was sent, possibly sent, failed permanently, or changed
    environ : the environment holding the SMTP password (default ``os.environ``)
    on_row : called with each summary row as soon as it is final (progress)

    Returns
    -------
    SendSummary
        ``ok`` is False when anything is left unsent that should have gone.

    Raises
    ------
    DeliveryError, ConfigError, ParamsError
        No reports for the period, bad settings, unknown reps, login refused, another sender running.
    """
    started = time.perf_counter()
    if test_to:
        check_address(test_to, rep_id="(none)", role="--test-to address")
    sel = select_reports(config, period, reps)
    mode = "test" if test_to else "send" if send else "dry-run"
    outbox = config.resolve(config.outbox_dir)
    summary = SendSummary(sel.period, mode, outbox=outbox / sel.period, ledger=outbox / "ledger.sqlite")
    emit = on_row or (lambda _row: None)

    def add(row: MailRow) -> None:
        summary.rows.append(row)
        emit(row)

    ready = []
    for c in sel.candidates:
        if c.ready:
            ready.append(c)
        else:
            add(MailRow(c.rep_id, c.name, c.to.address if c.to else "", c.state, c.problem))
    if not send:
        _dry_run(config, sel, ready, summary, add, test_to)
    elif test_to:
        _send(config, sel, ready, summary, add, test_to=test_to, resend=False, environ=environ)
    else:
        _send(config, sel, ready, summary, add, test_to=None, resend=resend, environ=environ)
    order = {c.rep_id: i for i, c in enumerate(sel.candidates)}
    summary.rows.sort(key=lambda r: order.get(r.rep_id, len(order)))
    summary.seconds = time.perf_counter() - started
    return summary


def _dry_run(
    config: Config,
    sel: Selection,
    ready: list[Candidate],
    summary: SendSummary,
    add: Callable[[MailRow], None],
    test_to: str | None,
) -> None:
    from salesreports.ledger import Ledger
    from salesreports.paths import atomic_write_bytes, slug

    assert summary.outbox is not None
    assert summary.ledger is not None
    ledger = Ledger(summary.ledger) if summary.ledger.exists() and not test_to else None
    try:
        for c in ready:
            to = test_to or (c.to.address if c.to else "")
            try:
                built = build_message(config, sel, c, test_to=test_to)
            except DeliveryError as exc:
                add(MailRow(c.rep_id, c.name, to, "error", str(exc)))
                continue
            path = atomic_write_bytes(summary.outbox / f"{slug(c.rep_id)}{'.test' if test_to else ''}.eml", built.data)
            detail = "with Cc " + ", ".join(built.recipients[1:]) if len(built.recipients) > 1 else c.note
            if ledger is None and not test_to:
                detail = "; ".join(d for d in (detail, "--send would send it") if d)
            elif ledger is not None:
                go, state, why = _decide(ledger.for_rep(sel.period, c.rep_id), c.report_hash, False)
                detail = "; ".join(
                    d
                    for d in (
                        detail,
                        "--send would send it" if go else f"--send skips it: {state}" + (f" ({why})" if why else ""),
                    )
                    if d
                )
            add(MailRow(c.rep_id, c.name, to, "written", detail, path=str(path), size=built.size))
    finally:
        if ledger is not None:
            ledger.close()


def _send(
    config: Config,
    sel: Selection,
    ready: list[Candidate],
    summary: SendSummary,
    add: Callable[[MailRow], None],
    *,
    test_to: str | None,
    resend: bool,
    environ: dict[str, str] | None,
) -> None:
    from salesreports.delivery import Attempt, Parcel, SmtpTransport, deliver, password_from_env
    from salesreports.ledger import Ledger

    assert summary.ledger is not None
    password = password_from_env(config.smtp, environ)
    ca_file = str(config.resolve(config.smtp.ca_file)) if config.smtp.ca_file else ""
    ledger = None if test_to else Ledger(summary.ledger)
    built: dict[str, BuiltMail] = {}
    recovered: list[Any] = []
    try:
        if ledger is not None:
            ledger.acquire()
            recovered = ledger.recover()
            summary.recovered.extend(
                r.rep_id if r.period == sel.period else f"{r.rep_id} ({r.period})" for r in recovered
            )
        parcels: list[Parcel] = []
        for c in ready:
            to = test_to or (c.to.address if c.to else "")
            if ledger is not None:
                go, state, why = _decide(ledger.for_rep(sel.period, c.rep_id), c.report_hash, resend)
                if not go:
                    current = ledger.get((sel.period, c.rep_id, c.report_hash))
                    add(MailRow(c.rep_id, c.name, to, state, why, attempts=current.attempts if current else 0))
                    continue
            try:
                one = build_message(config, sel, c, test_to=test_to)
            except DeliveryError as exc:
                add(MailRow(c.rep_id, c.name, to, "error", str(exc)))
                continue
            key = (sel.period, c.rep_id, c.report_hash)
            if ledger is not None:
                existing = ledger.add(key, message_id=one.message_id, recipients=one.recipients)
                if existing.state != "pending":
                    ledger.mark(key, "pending", "resend requested" if resend else "retry", recipients=one.recipients)
            built[c.rep_id] = one
            parcels.append(Parcel(key, one.sender, one.recipients, one.data, one.message_id, f"{c.rep_id} {c.name}"))

        def done(result: Attempt) -> None:
            one = built[result.parcel.key[1]]
            c = one.candidate
            state: str = result.state
            if test_to and state == "sent":
                state = "test sent"
            detail = result.reply
            if c.note:
                detail = f"{detail}; {c.note}" if detail else c.note
            add(
                MailRow(
                    c.rep_id,
                    c.name,
                    ", ".join(result.parcel.recipients),
                    state,
                    detail,
                    attempts=result.attempts,
                    size=one.size,
                )
            )

        if parcels:
            s = config.smtp
            with SmtpTransport(s, password, ca_file=ca_file) as transport:
                deliver(
                    parcels,
                    transport,
                    ledger=ledger,
                    max_attempts=s.max_attempts,
                    backoff=s.backoff_seconds,
                    rate_per_minute=s.rate_per_minute,
                    backoff_cap=s.backoff_max_seconds,
                    on_result=done,
                )
    finally:
        if ledger is not None:
            ledger.close()
    seen = {r.rep_id for r in summary.rows}
    for row in recovered:  # not selected this time (another rep or period): still report it
        if row.period != sel.period or row.rep_id not in seen:
            add(
                MailRow(
                    row.rep_id,
                    "",
                    row.recipients,
                    "possibly-sent",
                    f"{row.period}: found after an interrupted run; --resend --period {row.period} sends it again",
                )
            )


def ledger_rows(config: Config, period: str | None = None) -> tuple[Path, list[Any]]:
    """The ledger file and its rows (:class:`~salesreports.ledger.Delivery`), of one period or all.

    An absent ledger gives no rows (and is not created).
    """
    from salesreports.ledger import FILE, Ledger

    path = config.resolve(config.outbox_dir) / FILE
    if not path.exists():
        return path, []
    with Ledger(path) as ledger:
        return path, ledger.rows(period)
