"""One scorecard email (or team or company summary email), built from the report's context and executed notebook.

The message
-----------
``multipart/mixed`` [ ``multipart/alternative`` [ ``text/plain``, ``multipart/related`` [ ``text/html``,
``image/png``... ] ], ``application/pdf`` ]. The HTML is made for mail clients, not browsers: a
640-pixel table layout, CSS inlined with css-inline, no script, no SVG, charts as PNG parts (2x pixels)
referenced by ``cid:``, each with its alt text also printed as a caption. Every value from the data is
escaped by Jinja's autoescaping; control and bidi-override characters are removed; long texts are cut.
The HTML part stays under 100 KB (Gmail clips larger bodies): when the full version is larger, a compact
one (fewer goals, no quotes) is sent, and if even that is too large the rep's message is an error.

A team or company summary (``candidate.kind``) gets the same structure and rules, built from the summary's
context: the team's headline tiles, a few summary lines (size, who leads on the ranking KPI, goals at risk),
its goals and the notebook's charts; subject from ``mail.summary_subject``, To the manager (or the
``mail.leadership`` list), no Cc.

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
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, make_msgid
from functools import cache
from pathlib import Path
from typing import Any, Final

from salesreports import i18n
from salesreports.errors import ConfigError, DeliveryError, close_matches
from salesreports.i18n import N_, ngettext
from salesreports.mail.recipients import (
    LINEBREAK,
    TEXT_LIMIT,
    Candidate,
    Recipient,
    Selection,
    check_address,
    clean,
    config_address,
    missing,
    one_line,
)
from salesreports.params import Config
from salesreports.text import FSI, PDI, isolate
from salesreports.text import one_line as text_one_line

__all__ = ["CHART_MIME", "HTML_BUDGET", "BuiltMail", "build_message", "chart_png", "message_id", "notebook_charts"]


CHART_MIME: Final = "application/vnd.salesreports.chart+json"


HTML_BUDGET: Final = 100_000  # bytes of the HTML part; Gmail clips bodies over ~102 KB


MAX_GOALS: Final = 6


MAX_EVIDENCE: Final = 3


MAX_QUOTES: Final = 2


CHART_WIDTH: Final = 560  # CSS pixels in the 640-pixel layout


SUBJECT_FIELDS: Final = ("period_title", "period", "name", "rep_id", "team", "company")


SUMMARY_FIELDS: Final = ("title", "period_title", "period", "team", "company")


LINK_FIELDS: Final = ("period", "rep_id", "folder")


TEST_PREFIX: Final = "[TEST] "


DEFAULT_SUBJECTS: Final = (N_("Your scorecard — {period_title}"), N_("{title} — {period_title}"))
"""The settings' default ``mail.subject`` and ``mail.summary_subject``: written in the email's language while the
settings keep them (a subject of one's own is sent as written)."""


STATUS_WORDS: Final = {
    "achieved": N_("achieved"),
    "ahead": N_("ahead"),
    "on track": N_("on track"),
    "at risk": N_("at risk"),
    "missed": N_("missed"),
    "not started": N_("not started"),
    "not available": N_("not available"),
}
"""A goal's status (the context's English key) as the email shows it, translated there."""


_SMTP = policy.SMTP.clone(max_line_length=78)


class _Subject(str):
    """A Subject value that folds itself into RFC 2047 encoded words that decode to exactly its text.

    The email policy's own folder drops the space between two encoded words (``Ünïcödé名前 😀`` arrived
    as ``Ünïcödé名前😀``): whitespace *between* encoded words is not part of the decoded text (RFC 2047,
    6.2). Here the whole subject is one run of UTF-8 encoded words, every space inside one, folded at the
    policy's line length. The policy calls :meth:`fold` of a value with a ``name`` (the header-object
    protocol of :mod:`email.policy`); reading the header gives the text back unchanged.
    """

    name = "Subject"

    def fold(self, *, policy: Policy) -> str:
        """The header line(s), ending with the policy's line separator."""
        width = policy.max_line_length or 78
        encoded = Header(str(self), "utf-8", maxlinelen=width, header_name=self.name).encode(linesep="\n")
        return f"{self.name}: {encoded.replace(chr(10), policy.linesep)}{policy.linesep}"


def _subject_header(text: str) -> str:
    """The Subject header value: an ASCII subject as is, any other as a :class:`_Subject` (see there)."""
    return text if text.isascii() and "=?" not in text else _Subject(text)


def _url(config: Config, key: str, value: str, schemes: Sequence[str]) -> str:
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in schemes or LINEBREAK.search(value) or re.search(r"\s|[<>\"]", value):
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


def _subject(text: str, limit: int = 200) -> str:
    """A Subject on one line, cut to ``limit``, keeping the isolates (FSI…PDI) around its data strings.

    The values of the subject template are isolated (:func:`salesreports.text.isolate`), so that a
    right-to-left name never reorders the words and numbers beside it in a mail client's list.
    """
    text = " ".join(text_one_line(text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
        if text.count(FSI) > text.count(PDI):
            text += PDI
    return text


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def message_id(period: str, rep_id: str, report_hash: str, domain: str) -> str:
    """The stable Message-ID of a (period, rep, report) scorecard email."""
    return f"<scorecard.{_digest(period, rep_id, report_hash)[:32]}@{domain}>"


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


def _html_gettext(message: str) -> Any:
    """``_()`` of the HTML template: the translation as escaped Markup, whose ``.format(name=...)`` escapes the
    values (a value already Markup, such as ``name | bdi``, is kept)."""
    from markupsafe import escape

    return escape(i18n.gettext(message))


def _html_ngettext(singular: str, plural: str, n: int) -> Any:
    from markupsafe import escape

    return escape(i18n.ngettext(singular, plural, n))


def _bdi(value: Any) -> Any:
    """``<bdi>value</bdi>`` (value escaped): a name isolated inside a translated sentence of the HTML part."""
    from markupsafe import Markup

    return Markup("<bdi>{}</bdi>").format(value)


@cache
def _env(autoescape: bool) -> Any:
    """The Jinja environment of the HTML part (``autoescape``) or of the text part. Their ``_()`` and
    ``ngettext()`` speak the active language (:func:`salesreports.i18n.override` around one message); the
    messages use named ``{fields}`` filled by ``.format`` after translation."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("salesreports.report", "templates/email"),
        autoescape=autoescape,  # noqa: S701 - off only for the text/plain part
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    if autoescape:
        env.install_gettext_callables(_html_gettext, _html_ngettext, newstyle=False)  # type: ignore[attr-defined]
        env.filters["bdi"] = _bdi
    else:
        env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=False)  # type: ignore[attr-defined]
    return env


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


def _tiles(context: dict[str, Any], kind: str = "rep") -> tuple[list[dict[str, Any]], str]:
    """The headline tiles in the active language: labels and stored English reasons translated here (a text the
    view wrote in the context's language already is kept); and the notice that replaces a rep's closed-deal
    tiles ("No deals closed in October 2026"), which the email says once, above the tiles."""
    from salesreports.report.views import RepView, TeamView

    out = []
    if kind == "rep":
        tiles, notice = RepView(context).tile_list()
    else:
        team = TeamView(context)
        tiles, notice = [team.tile(n) for n in team.tile_names()], ""
    notice = i18n.retranslate(notice)
    for t in tiles:
        label = one_line(i18n.gettext(t.label))
        subs = [one_line(s, 120) for s in t.sub if one_line(s)]
        change = one_line(t.change, 120)
        if t.unavailable_reason is not None or not t.value.strip():
            reason = one_line(i18n.retranslate(t.unavailable_reason or ""), 120)
            text = (
                i18n.gettext("{kpi}: not available ({reason})").format(kpi=label, reason=reason)
                if reason
                else i18n.gettext("{kpi}: not available").format(kpi=label)
            )
            out.append({"label": label, "available": False, "reason": reason, "direction": "neutral", "text": text})
            continue
        head = change[:1]
        arrow = "▲" if head == "+" else "▼" if head in ("-", "−") else ""
        extra = [*subs, change] if change else subs
        value = one_line(t.value)
        text = (
            i18n.gettext("{kpi}: {value} ({details})").format(kpi=label, value=value, details="; ".join(extra))
            if extra
            else i18n.gettext("{kpi}: {value}").format(kpi=label, value=value)
        )
        out.append(
            {
                "label": label,
                "available": True,
                "value": value,
                "sub": subs,
                "change": change,
                "arrow": arrow,
                "direction": t.direction,
                "text": text,
            }
        )
    return out, one_line(notice)


def _status_word(status: str) -> str:
    """A goal's status in the active language (an unknown one as written)."""
    return i18n.gettext(STATUS_WORDS.get(status, status))


def _goals(context: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], list[str], int]:
    from salesreports.report.views import owner_name

    rep_id = str((context.get("rep") or {}).get("rep_id", ""))
    shown: list[dict[str, Any]] = []
    later: list[str] = []
    unavailable = {"not available", i18n.gettext("not available")}  # a figure the context wrote as missing
    for g in context.get("goals") or []:
        status = one_line(g.get("status") or "", 40)
        owner = "" if str(g.get("owner")) == rep_id else f" ({one_line(owner_name(g.get('owner')), 60)})"
        # a KPI's label (stored English: translated) or the goal's own words (as written)
        label = g.get("label") or g.get("goal_id") or i18n.gettext("goal")
        name = one_line(i18n.gettext(label) if isinstance(label, str) else label, 120) + owner
        if status in ("not started", "not available"):
            later.append(i18n.gettext("{goal}: {status}").format(goal=name, status=_status_word(status)))
            continue
        text = g.get("text") or {}
        deadline = one_line(g.get("deadline") or "")
        facts = [
            (N_("target {value}"), one_line(text.get("target") or "")),
            (N_("expected by now {value}"), one_line(text.get("expected") or "")),
            (N_("projected {value}"), one_line(text.get("projected") or "")),
            (N_("deadline {value}"), deadline),
        ]
        fact_line = " · ".join(
            i18n.gettext(fact).format(value=value)
            for fact, value in facts
            if value and not any(word in value for word in unavailable)
        )
        pct = g.get("actual_pct")
        progress = None if missing(pct) else max(0, min(100, round(float(pct) * 100)))
        shown.append(
            {
                "name": name,
                "status": status or "unknown",
                "status_text": _status_word(status) if status else i18n.gettext("unknown"),
                "status_class": re.sub(r"[^a-z]+", "-", status),
                "summary": clean(g.get("summary"), TEXT_LIMIT),
                "facts": fact_line,
                "progress": progress,
            }
        )
    return shown[:limit], later[:limit], max(0, len(shown) - limit)


def _team_summary(context: dict[str, Any], kind: str, goals: list[dict[str, Any]]) -> list[str]:
    """A few lines on the team (or company) from its summary's context: size, the leaders, goals at risk."""
    from salesreports.metrics.kpis import format_value, get
    from salesreports.report.views import TeamView

    view = TeamView(context)
    members = [m for m in context["team"]["members"] if isinstance(m, dict)]
    active = [m for m in members if not m.get("skipped")]
    teams = {one_line(m.get("team")) for m in members if one_line(m.get("team"))}
    # English keeps its "(s)" in both forms (the emails as they were); other languages use their plural forms
    if kind == "company":
        size = i18n.gettext("{reps} in {teams}").format(
            reps=ngettext("{n} rep(s)", "{n} rep(s)", len(active)).format(n=len(active)),
            teams=ngettext("{n} team(s)", "{n} team(s)", len(teams)).format(n=len(teams)),
        )
    else:
        size = ngettext("{n} rep(s) in the team", "{n} rep(s) in the team", len(active)).format(n=len(active))
    if len(active) != len(members):
        more = len(members) - len(active)
        lines = [
            i18n.gettext("{size} ({more}).").format(
                size=size,
                more=ngettext("{n} more not employed this period", "{n} more not employed this period", more).format(
                    n=more
                ),
            )
        ]
    else:
        lines = [size + "."]
    rank = view.ranking
    if rank:
        k = get(rank)
        frame = view.rep_frame(rank).dropna(subset=["value"])
        if k.higher_is_better:
            frame = frame[frame["value"] > 0]  # nobody leads on $0 or 0 deals
        frame = frame.sort_values("value", ascending=not k.higher_is_better).head(3)
        leaders = [
            f"{one_line(r['entity'], 60)} ({format_value(float(r['value']), k.format, view.formats)})"
            for _, r in frame.iterrows()
        ]
        if leaders:
            label = i18n.in_sentence(i18n.gettext(k.label))
            lines.append(i18n.gettext("Leading on {kpi}: {reps}.").format(kpi=label, reps=", ".join(leaders)))
    at_risk = [g for g in goals if g["status"] in ("at risk", "missed")]
    if at_risk:
        lines.append(
            ngettext(
                "{n} goal(s) at risk or missed: {goals}.", "{n} goal(s) at risk or missed: {goals}.", len(at_risk)
            ).format(n=len(at_risk), goals="; ".join(g["name"] for g in at_risk))
        )
    return [clean(line, TEXT_LIMIT) for line in lines]


def _coaching(context: dict[str, Any], *, quotes: bool) -> dict[str, Any] | None:
    from salesreports.report.views import evidence_text

    needs = [n for n in context.get("coaching") or [] if isinstance(n, dict) and n.get("topic")]
    if not needs:
        return None
    top = needs[0]
    return {  # the context's texts: in its language already, or stored English marked for the catalog
        "topic": one_line(i18n.retranslate(str(top.get("topic"))), 120),
        "description": clean(i18n.retranslate(clean(top.get("description"))), TEXT_LIMIT),
        "evidence": [
            clean(i18n.retranslate(evidence_text(top, e, context)), TEXT_LIMIT)
            for e in (top.get("evidence") or [])[:MAX_EVIDENCE]
            if isinstance(e, dict) and e.get("text")
        ],
        "quotes": [
            {
                "text": clean(q.get("text"), 200),
                "source": one_line(i18n.retranslate(str(q.get("source") or "")) or i18n.gettext("feedback"), 40),
                "date": one_line(q.get("date") or "", 10),
            }
            for q in (top.get("quotes") or [])[:MAX_QUOTES]
            if quotes and isinstance(q, dict) and q.get("text")
        ],
        "others": [one_line(i18n.retranslate(str(n.get("topic"))), 80) for n in needs[1:4]],
    }


def _period_title(selection: Selection, context: Any) -> str:
    """The period's title in the report's own locale (a rep's `locale` may differ from the company's, whose
    title the manifest holds); the manifest's when the context is in en_US."""
    if isinstance(context, dict) and context.get("locale"):
        title = (context.get("period") or {}).get("title")
        if isinstance(title, str) and title.strip():
            return title
    return selection.period_title


def _as_of(context: Any) -> str:
    """The day the figures are as of: ISO (2025-03-20) as before in en_US, else the locale's (20. März 2025)."""
    day = one_line((context.get("as_of") if isinstance(context, dict) else "") or "", 10)
    locale = context.get("locale") if isinstance(context, dict) else None
    if not day or not locale:
        return day
    from salesreports.metrics.kpis import formatter

    try:
        return formatter(str(locale)).date(dt.date.fromisoformat(day))
    except ValueError:
        return day


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
    rep = c.kind == "rep"
    tiles, notice = _tiles(ctx, c.kind)
    goals, later, more = _goals(ctx, 3 if compact else MAX_GOALS)
    incentive = ctx.get("incentive") or {}
    at_risk = sum(1 for g in goals if g["status"] in ("at risk", "missed"))
    pre = [f"{t['label']} {t['value']}" for t in tiles[:2] if t["available"]]
    if at_risk:
        pre.append(ngettext("{n} goal(s) at risk", "{n} goal(s) at risk", at_risk).format(n=at_risk))
    unsubscribe = config.mail.unsubscribe
    return {
        "subject": subject,
        "lang": i18n.language(),
        "css": _css(),
        "preheader": " · ".join(pre),
        "test_note": test_note,
        "company": one_line(sel.company, 120),
        "period_title": one_line(_period_title(sel, ctx), 60),
        "as_of": _as_of(ctx),
        "kind": c.kind,
        "heading": i18n.gettext("Your scorecard") if rep else i18n.retranslate(c.name),
        "doc": "scorecard" if rep else "summary",
        "name": c.name,
        "team": c.team,
        "summary": [] if rep else _team_summary(ctx, c.kind, goals),
        "tiles": tiles,
        "notice": notice,
        "goals": goals,
        "later_goals": later,
        "goals_more": more,
        "charts": charts,
        "coaching": _coaching(ctx, quotes=not compact) if rep else None,
        "incentive": clean(incentive.get("summary"), TEXT_LIMIT) if rep and isinstance(incentive, dict) else "",
        "attachment": attachment,
        "link": link,
        "reply_to": bool(config.mail.reply_to),
        "unsubscribe": unsubscribe,
        "opt_out": clean(config.mail.opt_out_note, TEXT_LIMIT) if not unsubscribe else "",
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

    The message is written in the report's own language: its context's ``locale`` (a rep's own, else the
    company's; none: English), active (:func:`salesreports.i18n.override`) while it is built.

    Raises
    ------
    DeliveryError
        The candidate is not ready, a chart cannot be converted, a file cannot be read, or even the compact
        HTML part exceeds :data:`HTML_BUDGET`.
    ConfigError
        Invalid ``mail`` settings (sender, subject template, URLs).
    """
    locale = candidate.context.get("locale") if isinstance(candidate.context, dict) else None
    with i18n.override(str(locale) if locale else None):
        return _build(config, selection, candidate, test_to=test_to, now=now)


def _subject_template(template: str) -> str:
    """A subject template in the active language when it is the settings' default (:data:`DEFAULT_SUBJECTS`)."""
    return i18n.gettext(template) if template in DEFAULT_SUBJECTS else template


def _build(
    config: Config,
    selection: Selection,
    candidate: Candidate,
    *,
    test_to: str | None,
    now: dt.datetime | None,
) -> BuiltMail:
    from salesreports.paths import slug, unique_names

    c = candidate
    if not c.ready or c.to is None:
        raise DeliveryError(f"rep {c.rep_id}: cannot build a message: {c.problem or 'no address'}", rep=c.rep_id)
    m = config.mail
    sender_name, sender = config_address(config, "sender", m.sender)
    domain = sender.rsplit("@", 1)[1]
    reply_to = config_address(config, "reply_to", m.reply_to) if m.reply_to else None
    if c.kind == "rep":
        values = {
            "period_title": _period_title(selection, c.context),
            "period": selection.period,
            "name": isolate(c.name),
            "rep_id": isolate(one_line(c.rep_id, 60)),
            "team": isolate(c.team),
            "company": isolate(one_line(selection.company, 120)),
        }
        template = _subject_template(m.subject)
        subject = _subject(_format_template(config, "subject", template, values, SUBJECT_FIELDS))
    else:
        values = {
            "title": i18n.gettext("Company summary")
            if c.kind != "team"
            else i18n.gettext("Team {team} summary").format(team=isolate(c.team)),
            "period_title": _period_title(selection, c.context),
            "period": selection.period,
            "team": isolate(c.team),
            "company": isolate(one_line(selection.company, 120)),
        }
        template = _subject_template(m.summary_subject)
        subject = _subject(_format_template(config, "summary_subject", template, values, SUMMARY_FIELDS))
    unsubscribe = _url(config, "unsubscribe", m.unsubscribe, ("https", "http", "mailto")) if m.unsubscribe else ""
    link = ""
    if m.report_link:
        ident = c.rep_id if c.kind == "rep" else str(c.entry.get("id") or c.rep_id)
        quoted = {"period": selection.period, "rep_id": ident, "folder": str(c.entry.get("folder") or ident)}
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
        real = ", ".join(r.address for r in (c.to, *c.also))
        if c.cc:
            real = i18n.gettext("{to} (Cc {cc})").format(to=real, cc=", ".join(r.address for r in c.cc))
        test_note = i18n.gettext("Test message: the real one goes to {recipients}.").format(recipients=real)
        subject = TEST_PREFIX + subject
        mid = make_msgid(idstring="scorecard-test", domain=domain)
        to, also, cc = Recipient(to_addr, c.name), tuple[Recipient, ...](), tuple[Recipient, ...]()
    else:
        mid = message_id(selection.period, c.rep_id, c.report_hash, domain)
        to, also, cc = c.to, c.also, c.cc

    charts = []
    images: list[tuple[bytes, str, str]] = []
    payloads = notebook_charts(c.files["ipynb"])
    names = unique_names(
        [(str(i), str(p.get("name") or f"chart-{i}")) for i, p in enumerate(payloads, start=1)], max_len=40
    )
    for i, payload in enumerate(payloads, start=1):
        png, width, height = chart_png(payload["spec"])
        name = names[(str(i), str(payload.get("name") or f"chart-{i}"))]
        cid = f"{name}.{_digest(mid, str(i))[:12]}@{domain}"
        alt = one_line(payload.get("alt") or i18n.gettext("Chart {n}").format(n=i), TEXT_LIMIT)
        charts.append({"cid": cid, "width": width, "height": height, "alt": alt})
        images.append((png, cid, f"{name}.png"))
    pdf = c.files.get("pdf") if m.attach_pdf else None
    folder = c.file_name or slug(c.rep_id)  # the report's folder: unique in the period, case ignored
    if c.kind == "rep":
        attachment = f"scorecard-{slug(selection.period)}-{folder}.pdf" if pdf else ""
    elif c.kind == "team":
        attachment = f"team-summary-{slug(selection.period)}-{folder.removeprefix('team-')}.pdf" if pdf else ""
    else:
        attachment = f"company-summary-{slug(selection.period)}.pdf" if pdf else ""

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
            f"{'rep ' if c.kind == 'rep' else ''}{c.rep_id}: the email's HTML part is "
            f"{len(html.encode('utf-8')):,} bytes even in its compact "
            f"form (limit {HTML_BUDGET:,}; Gmail clips larger bodies)."
        )
        raise DeliveryError(msg, rep=c.rep_id)

    msg_ = EmailMessage(policy=_SMTP)
    msg_["From"] = Address(display_name=sender_name, addr_spec=sender)
    msg_["To"] = [to.header(), *(r.header() for r in also)] if also else to.header()
    if cc:
        msg_["Cc"] = [r.header() for r in cc]
    if reply_to:
        msg_["Reply-To"] = Address(display_name=reply_to[0], addr_spec=reply_to[1])
    msg_["Subject"] = _subject_header(subject)
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
    recipients = (to.address, *(r.address for r in also), *(r.address for r in cc))
    return BuiltMail(c, msg_, mid, sender, recipients, html, text, compact)
