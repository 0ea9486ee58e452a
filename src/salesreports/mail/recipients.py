"""Which reports go out, and to whom: recipients from the manifest and the reps table, addresses checked
against header injection, and the text cleaning every header and body line goes through.

Which reports go out
--------------------
Only reports whose manifest status is ``ok`` and whose files exist. A failed report, a rep without
an email address ("skipped: no email", never guessed), an address holding a line break or several
addresses (header injection, an error naming the rep) are listed in the summary and not sent.

To whom (``audience``)
----------------------
``reps``        each rep their own scorecard (manifest kind ``rep``), To the rep (Cc the manager when
                ``mail.cc_manager``).
``managers``    each team summary (kind ``team``) to that team's manager: ``teams.<team>.manager_email``
                of the settings, else the ``manager_email`` of the team's reps. When the reps name several
                managers, the most common one gets it (a tie: the first in the reps table's order) and the
                row says so: set ``teams.<team>.manager_email`` to choose. One message per team, so a
                manager of two teams gets two messages, each recorded once in the ledger.
``leadership``  the company summary (kind ``team``, id ``company``) to ``mail.leadership``, all in To of
                one message.

A team or company summary never goes to a rep as such (only to a manager or leader address), and a
manager only gets the summaries of teams whose manager they are. Ledger and file names use the manifest
key (``team/North``, ``team/company``), so a team can never collide with a rep id.

Which reports (``reps``)
------------------------
``None`` (``--reps all``): every report of the audience. A list names reports: rep ids (``R007``), team
summaries (``team/North``) and the company summary (``company`` or ``team/company``); manifest keys
(``rep/R007``) work too. Only the named reports are selected, so ``--resend --reps team/South`` resends the
South summary and nothing else. Without an ``audience`` the names choose it (a summary goes to its manager
or to leadership); with one, every named report must belong to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Final

from salesreports.errors import ConfigError, DeliveryError, ParamsError, SalesReportsError, close_matches
from salesreports.i18n import N_
from salesreports.params import Config

__all__ = [
    "ADDRESS",
    "AUDIENCES",
    "LINEBREAK",
    "TEXT_LIMIT",
    "Candidate",
    "Recipient",
    "Selection",
    "check_address",
    "check_audience",
    "clean",
    "config_address",
    "default_period",
    "missing",
    "one_line",
    "select_reports",
]


TEXT_LIMIT: Final = 300


AUDIENCES: Final = ("reps", "managers", "leadership")


COMPANY: Final = "company"


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\ufeff]")


LINEBREAK = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]")


ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def clean(value: Any, limit: int = 0) -> str:
    """Text from the data: no control or bidi-override characters, lone surrogates replaced, cut to ``limit``."""
    text = "" if value is None else str(value)
    if isinstance(value, float) and value != value:  # NaN
        text = ""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.encode("utf-8", "replace").decode("utf-8")
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def one_line(value: Any, limit: int = 0) -> str:
    """One line of text (runs of white space, line breaks included, become one space)."""
    return clean(" ".join(clean(value).split()), limit)


def missing(value: Any) -> bool:
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
        name = one_line(re.sub(r'[()<>\[\]:;@\\,."]', " ", one_line(self.name)), 40)
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
    if missing(value):
        return None
    text = str(value)
    where = f"rep {rep_id}: {role} {text!r}"
    if LINEBREAK.search(text) or any(ord(c) < 32 for c in text):
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
    if not ADDRESS.match(text) or len(text) > 254:
        msg = f"{where} is not a plain email address (name@example.com, ASCII). Fix: correct it in the reps table."
        raise DeliveryError(msg, rep=rep_id, role=role)
    return text


def config_address(config: Config, key: str, value: str, section: str = "mail.") -> tuple[str, str]:
    """(display name, address) of a configured address such as ``Sales Ops <sales-ops@example.com>``.

    ``key`` is named in errors after ``section`` (``mail.sender``, ``teams.North.manager_email``).
    """
    key = f"{section}{key}"
    where = f"{config.path or 'settings'}: {key} {value!r}"
    if LINEBREAK.search(value):
        raise ConfigError(f"{where} contains a line break. Fix: one address on one line.", key=key)
    name, addr = parseaddr(value)
    if not addr or not ADDRESS.match(addr) or value.count("@") != 1:
        msg = f'{where} is not one address. Fix: write e.g. "Sales Ops <sales-ops@example.com>".'
        raise ConfigError(msg, key=key)
    return name, addr


@dataclass
class Candidate:
    """A report of the manifest and whether it can be mailed.

    ``problem`` is empty when the report can be sent; otherwise ``state`` says why not (``no email``,
    ``report failed``, ``not in period``, ``invalid address``, ``incomplete report``).

    ``kind`` is ``rep`` (a scorecard; ``rep_id`` is the rep), ``team`` (a team summary for its manager) or
    ``company`` (the company summary for leadership); for the last two ``rep_id`` is the manifest key
    (``team/North``), the id of the ledger row. ``file_name`` is the report's folder in the period
    (:func:`salesreports.paths.folder_names`: unique even when case is ignored), the stem of its ``.eml``
    file and its PDF attachment.
    """

    rep_id: str
    name: str
    team: str
    entry: dict[str, Any]
    report_hash: str = ""
    to: Recipient | None = None
    cc: tuple[Recipient, ...] = ()
    also: tuple[Recipient, ...] = ()  # more To recipients (the leadership list)
    kind: str = "rep"
    context: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    state: str = ""
    problem: str = ""
    note: str = ""
    file_name: str = ""  # the report's folder name: the stem of its .eml file and attachment

    @property
    def ready(self) -> bool:
        """Whether a message can be built."""
        return not self.problem

    @property
    def audience(self) -> str:
        """``reps``, ``managers`` or ``leadership``."""
        return {"rep": "reps", "team": "managers"}.get(self.kind, "leadership")


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
    return max(found, key=_newest)


def _canonical(period: str) -> str:
    """A period as its folder is named (``2026-q3`` -> ``2026-Q3``); text that is no period stays as given."""
    from salesreports.metrics.periods import parse_period

    try:
        return parse_period(period).label
    except SalesReportsError:
        return period


def _newest(folder: str) -> tuple[int, int, str]:
    """Sort key of a period folder: by its last month, then a month before a quarter or year ending in it
    (the monthly cycle's folder is the newest); a folder that is no period label sorts first."""
    from salesreports.metrics.periods import parse_period

    try:
        period = parse_period(folder)
    except SalesReportsError:
        return (-1, 0, folder)
    return (period.end.ordinal, -len(period.months), folder)


def check_audience(audience: Sequence[str]) -> tuple[str, ...]:
    """The audience names, checked (``all`` stands for every one of :data:`AUDIENCES`).

    Raises
    ------
    ParamsError
        An unknown name (with close matches).
    """
    names = [a.strip().lower() for a in audience if a.strip()]
    if "all" in names:
        return AUDIENCES
    unknown = [a for a in names if a not in AUDIENCES]
    if unknown or not names:
        what = f"unknown recipient kind {unknown[0]!r}." if unknown else "no recipient kind."
        hint = close_matches(unknown[0], [*AUDIENCES, "all"]) if unknown else ""
        msg = f"{what}{hint} Fix: use {', '.join(AUDIENCES)} or all (comma-separated)."
        raise ParamsError(msg, audience=list(names))
    return tuple(a for a in AUDIENCES if a in names)


def select_reports(
    config: Config,
    period: str | None = None,
    reps: Sequence[str] | None = None,
    audience: Sequence[str] | None = None,
) -> Selection:
    """Read a period's manifest and decide, per report, whether it can be mailed and to whom.

    Parameters
    ----------
    config : the settings (``mail``, ``teams``, ``output_dir``)
    period : the period label (default: the newest with a manifest)
    reps : only these reports: rep ids, ``team/<team>``, ``company`` (module docstring); ``None``: every
        report of the audience
    audience : who is sent to: ``reps``, ``managers``, ``leadership`` (or ``all``); reps first, then the team
        summaries, then the company summary. ``None``: the audiences of the reports named by ``reps``, or
        ``reps`` when none is named

    Raises
    ------
    DeliveryError
        No manifest for the period.
    ParamsError
        A name of ``reps`` is no report of the period (with close matches) or is outside ``audience``; an
        unknown audience.
    ConfigError
        An entry of ``mail.leadership`` or ``teams.<team>.manager_email`` is not one address.
    """
    from salesreports.paths import folder_names, slug
    from salesreports.run.manifest import FILE, load_manifest

    label = _canonical(period) if period else default_period(config)
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
    entries = sorted((e for e in manifest.reports.values() if e.get("kind") == "rep"), key=lambda e: str(e.get("id")))
    summaries = sorted(
        (e for e in manifest.reports.values() if e.get("kind") == "team"), key=lambda e: str(e.get("id"))
    )
    named = _named(reps, entries, summaries, label, folder / FILE) if reps else None
    if named is None:
        wanted = check_audience(audience or ("reps",))
    else:
        implied = tuple(a for a in AUDIENCES if a in named.values())
        wanted = check_audience(audience) if audience is not None else implied
        outside = [n for n, a in named.items() if a not in wanted]
        if outside:
            what = {"reps": "a rep's scorecard", "managers": "a team summary", "leadership": "the company summary"}
            first = named[outside[0]]
            msg = (
                f"{outside[0]!r} is {what[first]} (for {first}), but the recipients chosen are "
                f"{', '.join(wanted)}. Fix: add {first} to --to, or leave --to out: the reports named choose it."
            )
            raise ParamsError(msg, reps=outside, audience=list(wanted))

    def chosen(e: dict[str, Any]) -> bool:
        return named is None or _key(e) in named

    out = [_candidate(config, folder, e) for e in entries if "reps" in wanted and chosen(e)]
    if "managers" in wanted:
        out.extend(_summary(config, folder, e) for e in summaries if str(e.get("id")) != COMPANY and chosen(e))
    if "leadership" in wanted:
        out.extend(_summary(config, folder, e) for e in summaries if str(e.get("id")) == COMPANY and chosen(e))
    every = [e for e in manifest.reports.values() if e.get("kind") in ("rep", "team")]
    names = folder_names(
        [str(e.get("id")) for e in every if e.get("kind") == "rep"],
        [str(e.get("id")) for e in every if e.get("kind") == "team"],
    )
    for c in out:  # the report's folder (folder_names, kept in the manifest): collision-free file names
        kind = "rep" if c.kind == "rep" else "team"
        c.file_name = str(c.entry.get("folder") or names[(kind, str(c.entry.get("id")))])
    return Selection(label, manifest.period_title or label, folder, manifest.company or config.company, out)


def _key(entry: dict[str, Any]) -> str:
    """A manifest entry's key: ``rep/<id>`` or ``team/<team>``."""
    return str(entry.get("key") or f"{entry.get('kind')}/{entry.get('id')}")


def _named(
    names: Sequence[str], reps: list[dict[str, Any]], summaries: list[dict[str, Any]], label: str, manifest: Path
) -> dict[str, str]:
    """The manifest keys of the reports ``names`` names (rep ids, ``team/<team>``, ``company``, manifest keys),
    each with its audience.

    Raises
    ------
    ParamsError
        A name that is no report of the period, with close matches.
    """
    by_name: dict[str, tuple[str, str]] = {}
    for e in summaries:  # a rep id wins over a summary's name: its manifest key (rep/<id>) reaches the rep
        ident, key = str(e.get("id")), _key(e)
        audience = "leadership" if ident == COMPANY else "managers"
        by_name[key] = (key, audience)
        if ident == COMPANY:
            by_name[COMPANY] = (key, audience)
    for e in reps:
        key = _key(e)
        by_name[key] = by_name[str(e.get("id"))] = (key, "reps")
    out: dict[str, str] = {}
    unknown = []
    for name in names:
        found = by_name.get(name.strip())
        if found is None:
            unknown.append(name.strip())
        else:
            out[found[0]] = found[1]
    if unknown:
        known = [str(e.get("id")) for e in reps] + [_key(e) for e in summaries] + [COMPANY]
        msg = (
            f"rep(s) {', '.join(map(repr, unknown))} have no report for {label}.{close_matches(unknown[0], known)} "
            f"Fix: use rep ids, team/<team> or company, as the manifest names them ({manifest})."
        )
        raise ParamsError(msg, reps=unknown)
    return out


def _usable(config: Config, folder: Path, c: Candidate) -> bool:
    """Check the entry's status and files and read its context into ``c``; False (``c.problem`` set) if not."""
    from salesreports.paths import inside

    entry = c.entry
    status = entry.get("status")
    if status == "skipped":
        c.state, c.problem = "not in period", one_line(entry.get("reason") or "no report for this period")
        return False
    if status != "ok":
        c.state, c.problem = "report failed", one_line(entry.get("error") or f"report status {status!r}", TEXT_LIMIT)
        return False
    outputs = dict(entry.get("outputs") or {})
    try:
        files = {"context": inside(folder, str(entry.get("folder") or entry.get("id")), "context.json")}
        files.update({k: inside(folder, str(v)) for k, v in outputs.items() if k in ("ipynb", "pdf")})
    except ValueError as exc:
        c.state, c.problem = "incomplete report", str(exc)
        return False
    needed = ["context", "ipynb"] + (["pdf"] if config.mail.attach_pdf and "pdf" in files else [])
    absent = [str(files[k]) for k in needed if k not in files or not files[k].exists()]
    if absent or not c.report_hash:
        c.state = "incomplete report"
        c.problem = (f"missing {', '.join(absent)}" if absent else "no report hash in the manifest") + (
            ". Fix: run `salesreports run` again."
        )
        return False
    c.files = files
    from salesreports.report.contexts import read_context

    try:
        c.context = read_context(files["context"])
    except ParamsError as exc:
        c.state, c.problem = "incomplete report", str(exc)
        return False
    except (ValueError, AttributeError, TypeError) as exc:
        c.state, c.problem = "incomplete report", f"{files['context']}: unreadable ({exc})"
        return False
    return True


def _summary(config: Config, folder: Path, entry: dict[str, Any]) -> Candidate:
    """A team summary (to its manager) or the company summary (to leadership)."""
    ident = str(entry.get("id"))
    company = ident == COMPANY
    c = Candidate(
        _key(entry),
        # the summary's name, stored in English: its email's heading in the email's language (retranslate)
        N_("Company summary") if company else one_line(N_("Team {team} summary").format(team=ident), 120),
        "" if company else one_line(ident, 80),
        entry,
        report_hash=str(entry.get("inputs") or entry.get("context_hash") or ""),
        kind=COMPANY if company else "team",
    )
    if not _usable(config, folder, c):
        return c
    if company:
        leaders = [config_address(config, "leadership", v) for v in config.mail.leadership]
        if not leaders:
            c.state, c.problem = "no email", "no leadership list. Fix: set mail.leadership in the settings."
            return c
        unique = list({addr.lower(): (name, addr) for name, addr in reversed(leaders)}.values())[::-1]
        c.to = Recipient(unique[0][1], unique[0][0])
        c.also = tuple(Recipient(addr, name) for name, addr in unique[1:])
        return c
    configured = config.teams.get(ident)
    if configured is not None and configured.manager_email:
        name, addr = config_address(config, f"{ident}.manager_email", configured.manager_email, "teams.")
        c.to = Recipient(addr, name)
        return c
    counts: dict[str, int] = {}
    spelled: dict[str, str] = {}
    members = [m for m in (c.context.get("team") or {}).get("members") or [] if isinstance(m, dict)]
    try:
        for m in members:
            found = check_address(m.get("manager_email"), rep_id=str(m.get("rep_id")), role="manager_email")
            if found is not None:
                counts[found.lower()] = counts.get(found.lower(), 0) + 1
                spelled.setdefault(found.lower(), found)
    except DeliveryError as exc:
        c.state, c.problem = "invalid address", f"team {ident}: {exc}"
        return c
    if not counts:
        c.state = "no email"
        c.problem = (
            f"no manager address for team {ident}: none of its reps has a manager_email. Fix: add one, or set "
            f"teams.{ident}.manager_email in the settings."
        )
        return c
    chosen = max(counts, key=lambda a: counts[a])  # the first of the most common, in the reps table's order
    c.to = Recipient(spelled[chosen])
    if len(counts) > 1:
        listed = ", ".join(f"{spelled[a]} ({n} reps)" for a, n in counts.items())
        c.note = (
            f"warning: the reps of team {ident} name several managers ({listed}); sent to the most common, "
            f"{spelled[chosen]}. Fix: set teams.{ident}.manager_email to choose"
        )
    return c


def _candidate(config: Config, folder: Path, entry: dict[str, Any]) -> Candidate:
    rep_id = str(entry.get("id"))
    c = Candidate(
        rep_id,
        one_line(entry.get("name") or rep_id, 120),
        one_line(entry.get("team") or "", 80),
        entry,
        report_hash=str(entry.get("inputs") or entry.get("context_hash") or ""),
    )
    if not _usable(config, folder, c):
        return c
    rep = c.context.get("rep") or {}
    if not isinstance(rep, dict):
        c.state, c.problem = "incomplete report", f"{c.files['context']}: unreadable (no rep section)"
        return c
    c.name = one_line(rep.get("name") or c.name, 120)
    c.team = one_line(rep.get("team") or c.team, 80)
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
