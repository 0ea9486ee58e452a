"""Project settings: ``params/config.yaml`` turned into frozen, checked models.

Merge order (later wins), the one documented order:

1. defaults declared here;
2. ``params/config.yaml`` (or the file given with ``--params``);
3. environment variables ``SALESREPORTS_<SECTION>__<KEY>`` (e.g. ``SALESREPORTS_SMTP__HOST``);
4. command-line flags.

Relative paths in the file are relative to the file's own folder. Secrets
(SMTP password, database passwords) are never read from the file: it names
environment variables that hold them.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from salesreports.errors import ConfigError, close_matches

__all__ = [
    "Config",
    "MailSettings",
    "RunSettings",
    "SmtpSettings",
    "TeamSettings",
    "check_currency",
    "check_locale",
    "load_config",
]

DEFAULT_PARAMS = Path("params/config.yaml")
DEFAULT_LOCALE = "en_US"
DEFAULT_CURRENCY = "USD"
LEGACY_CURRENCY_SYMBOLS: dict[str, str] = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
"""The symbols `currency:` held before it took ISO 4217 codes, and the code each stands for (deprecated)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSettings(_Model):
    """How report notebooks are executed."""

    workers: int = Field(default=2, ge=1, le=64, description="how many reports are made at the same time")
    mode: Literal["fast", "fresh"] = Field(
        default="fast",
        description="`fast`: warm workers fork one process per report; `fresh`: a new Jupyter "
        "kernel per report (slower)",
    )
    timeout: int = Field(default=300, ge=5, description="seconds one report may take before it is stopped")
    kernel: str = Field(default="python3", description="the Jupyter kernel of the `fresh` mode")


class PrivacySettings(_Model):
    """What a rep's scorecard may show of the team."""

    min_group_size: int = Field(
        default=5,
        ge=3,
        description="a team median, rank or goal is shown to a rep only when this many reps have a value",
    )


class ScorecardSettings(_Model):
    """What the pages show first (KPI names from `salesreports kpis`)."""

    headline: tuple[str, ...] = Field(
        default=(),
        description="KPIs of the headline tiles; empty: the registry's headline KPIs the data supports, topped up",
    )
    ranking: tuple[str, ...] = Field(
        default=("quota_attainment", "revenue"),
        description="team summaries rank reps by the first of these KPIs that has values",
    )


class PdfSettings(_Model):
    """PDF page settings."""

    page_size: Literal["A4", "Letter"] = Field(default="A4", description="the PDF's paper size")
    enabled: bool = Field(default=True, description="make a PDF of every report (`false`: HTML only)")


class SmtpSettings(_Model):
    """Where mail goes. The password comes from the environment variable named here."""

    host: str = Field(default="127.0.0.1", description="the mail server")
    port: int = Field(default=25, description="its port: 25, 587 (starttls) or 465 (tls)")
    security: Literal["none", "starttls", "tls"] = Field(default="none", description="how the connection is encrypted")
    username: str = Field(default="", description="the login, if the server asks for one")
    password_env: str = Field(
        default="SALESREPORTS_SMTP_PASSWORD",
        description="the NAME of the environment variable holding the SMTP password (never the password itself)",
    )

    @field_validator("password_env")
    @classmethod
    def _variable_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            msg = "must be the NAME of an environment variable (letters, digits, _), never the password itself"
            raise ValueError(msg)
        return value

    timeout: float = Field(default=30.0, description="seconds to wait for the server")
    rate_per_minute: int = Field(default=60, ge=1, description="at most this many messages a minute")
    max_attempts: int = Field(default=5, ge=1, description="tries per message when the server fails temporarily")
    backoff_seconds: float = Field(
        default=2.0, ge=0, description="seconds of the first wait before a retry (then longer, with jitter)"
    )
    backoff_max_seconds: float = Field(default=300.0, ge=0, description="cap of one retry's wait")
    ca_file: str = Field(default="", description="PEM bundle of CAs to trust besides the system's (relative paths)")


class MailSettings(_Model):
    """How scorecard emails look and who gets them."""

    sender: str = Field(default="Sales Ops <sales-ops@example.com>", description="the From address")
    reply_to: str = Field(default="", description="the Reply-To address (empty: none)")
    subject: str = Field(
        default="Your scorecard — {period_title}",
        description="the subject; may use {period_title}, {period}, {name}, {rep_id}, {team}, {company}",
    )
    cc_manager: bool = Field(
        default=False, description="send a copy to the rep's manager (`manager_email` of the reps)"
    )
    attach_pdf: bool = Field(default=True, description="attach the PDF scorecard")
    unsubscribe: str = Field(default="", description="https: or mailto: URL for the List-Unsubscribe header")
    opt_out_note: str = Field(default="", description="footer text when there is no unsubscribe URL")
    report_link: str = Field(default="", description="https: URL of the online report; {period}, {rep_id}, {folder}")
    summary_subject: str = Field(
        default="{title} — {period_title}",
        description="the subject of team and company summaries; may use {title} (`Team North summary`, "
        "`Company summary`), {period_title}, {period}, {team}, {company}",
    )
    leadership: tuple[str, ...] = Field(
        default=(),
        description="who gets the company summary (`send --to leadership`), e.g. "
        '`["CEO <ceo@example.com>"]`; all of them in To of one message; empty: nobody',
    )


class TeamSettings(_Model):
    """Settings of one team (the key under `teams:` is the team's name as in the reps table)."""

    manager_email: str = Field(
        default="",
        description="who gets the team's summary (`send --to managers`), instead of the most common "
        "`manager_email` of the team's reps",
    )


class Config(_Model):
    """All project settings."""

    path: str = Field(default="", exclude=True)
    company: str = Field(default="Your company", description="the company's name, shown on every report")
    locale: str = Field(
        default=DEFAULT_LOCALE,
        description="how numbers, amounts, dates and months are written (CLDR), e.g. `de_DE`, `fr_FR`, `en_GB`, "
        "`ja_JP`; a rep's `locale` in the reps table overrides it for that rep's scorecard and email",
    )
    currency: str = Field(
        default=DEFAULT_CURRENCY,
        description="the ISO 4217 code of amounts, e.g. `EUR`, `USD`, `GBP`, `JPY` (its symbol, place and "
        "decimals come from the locale); the old symbols `$`, `€`, `£`, `¥` still work, with a warning",
    )
    source: str = Field(
        default="sources/demo.yaml", description="the source file: where the CRM data lives and how it maps"
    )
    output_dir: str = Field(
        default="../build/reports", description="where reports go: `<output_dir>/<period>/index.html`"
    )
    outbox_dir: str = Field(default="../build/outbox", description="where dry-run emails (`.eml`) go")
    templates: dict[str, str] = Field(
        default_factory=lambda: {"rep": "../reports/rep_scorecard.ipynb", "team": "../reports/team_summary.ipynb"},
        description="the notebook template of each report kind: `rep` (a rep's scorecard), `team` (a team summary); "
        "optional `review` (a rep's quarter or year review, used instead of `rep` for a quarter or year)",
    )
    goals: str = Field(default="goals.yaml", description="SMART goals file; empty for none")
    coaching: str = Field(default="coaching.yaml", description="coaching rules and incentive tiers; empty for none")
    review_cycle_months: int = Field(
        default=3, ge=1, le=12, description="months between performance reviews: trends compare with the last review"
    )
    run: RunSettings = Field(default=RunSettings(), description="how reports are executed")
    privacy: PrivacySettings = Field(default=PrivacySettings(), description="what a rep may see of the team")
    scorecard: ScorecardSettings = Field(default=ScorecardSettings(), description="what the pages show first")
    pdf: PdfSettings = Field(default=PdfSettings(), description="PDF pages")
    smtp: SmtpSettings = Field(default=SmtpSettings(), description="the mail server")
    mail: MailSettings = Field(default=MailSettings(), description="the scorecard emails")
    teams: dict[str, TeamSettings] = Field(
        default_factory=dict, description="per-team settings by team name, e.g. `North: {manager_email: ...}`"
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return check_locale(value)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        text = value.strip()
        return text if text in LEGACY_CURRENCY_SYMBOLS else check_currency(text)

    @property
    def currency_code(self) -> str:
        """The ISO 4217 code of amounts (an old symbol's code: `$` -> `USD`)."""
        return LEGACY_CURRENCY_SYMBOLS.get(self.currency, self.currency)

    @property
    def warnings(self) -> list[str]:
        """Deprecated settings still accepted, each with its fix (shown by `validate` and `run`)."""
        if self.currency in LEGACY_CURRENCY_SYMBOLS:
            where = f"{self.path}: " if self.path else ""
            return [
                f'{where}`currency: "{self.currency}"` is a symbol; settings now take an ISO 4217 code. '
                f"Fix: write `currency: {self.currency_code}` (the locale, `locale: {self.locale}`, places the "
                "symbol and decimals)."
            ]
        return []

    def resolve(self, relative: str) -> Path:
        """A path from the file, resolved against the file's folder."""
        base = Path(self.path).parent if self.path else Path.cwd() / "params"
        return (base / relative).resolve()

    @property
    def source_path(self) -> Path:
        """The data source file."""
        return self.resolve(self.source)

    @property
    def output_path(self) -> Path:
        """Where reports are written."""
        return self.resolve(self.output_dir)

    def template(self, kind: str) -> Path:
        """The template of a report kind (rep, team)."""
        if kind not in self.templates:
            known = ", ".join(self.templates)
            msg = f"{self.path}: no template for report kind '{kind}' under `templates:`. Known: {known}."
            raise ConfigError(msg, file=self.path, key=f"templates.{kind}")
        return self.resolve(self.templates[kind])

    def template_for(self, kind: str, *, review: bool) -> Path:
        """The template of a report kind for a period: a rep's quarter or year (``review``) uses
        ``templates.review`` when it is set, every other report the template of its kind.

        Raises
        ------
        ConfigError
            No template for ``kind`` under ``templates:``.
        """
        if kind == "rep" and review and self.templates.get("review"):
            return self.template("review")
        return self.template(kind)


def check_locale(value: str) -> str:
    """A CLDR locale id as Babel writes it (``de-DE`` and ``de_de`` -> ``de_DE``).

    Raises
    ------
    ValueError
        An unknown locale, with close matches and examples (pydantic names the setting and its line).
    """
    from babel import Locale, UnknownLocaleError

    text = str(value).strip()
    known = _locales()
    try:
        parsed = str(Locale.parse(text.replace("-", "_"))) if text else ""
    except (UnknownLocaleError, ValueError, TypeError):
        parsed = ""
    if parsed and parsed in known:
        return parsed
    wanted = text.replace("-", "_")
    language = wanted.split("_")[0].lower()
    same = {k for k in known if k.split("_")[0] == language}  # de_DF: the German locales first
    near = close_matches(wanted, same) or close_matches(wanted, known)
    msg = f"unknown locale '{text}'.{near} Write a CLDR locale id such as de_DE, fr_FR, es_ES, en_GB, en_US or ja_JP."
    raise ValueError(msg)


def check_currency(value: str) -> str:
    """An ISO 4217 currency code, upper case (``eur`` -> ``EUR``).

    Raises
    ------
    ValueError
        An unknown code, with close matches (pydantic names the setting and its line).
    """
    from babel import numbers

    text = str(value).strip().upper()
    codes = set(numbers.list_currencies())
    if text in codes:
        return text
    suggested = {c for c in codes if not c.startswith("X")}  # not the metals, test and fund codes (XAU, XEU)
    msg = (
        f"unknown currency '{str(value).strip()}'.{close_matches(text, suggested)} Write an ISO 4217 code such as "
        "EUR, USD, GBP, CHF or JPY."
    )
    raise ValueError(msg)


@cache
def _locales() -> frozenset[str]:
    from babel.localedata import locale_identifiers

    return frozenset(locale_identifiers())


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith("SALESREPORTS_") or "__" not in key:
            continue
        section, _, name = key[len("SALESREPORTS_") :].lower().partition("__")
        out.setdefault(section, {})[name] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: Path | str | None = None, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> Config:
    """Load settings in the documented merge order.

    Parameters
    ----------
    path : the params file (default ``params/config.yaml``; a missing default file means all defaults, but an
        empty, unparsable or wrong-kind file is an error, never the defaults)
    overrides : values from command-line flags, e.g. ``{"run": {"workers": 4}}``
    environ : the environment (default ``os.environ``)

    Raises
    ------
    ConfigError
        Invalid YAML, an empty file, a file of another kind (a source or goals file), unknown keys (with
        close matches) or invalid values.
    """
    from salesreports.yamlio import load_model, read_mapping

    file = Path(path) if path else DEFAULT_PARAMS
    data: dict[str, Any] = {}
    if file.exists() or file != DEFAULT_PARAMS:  # a missing default file: all defaults; any other: an error
        data = read_mapping(file, "settings")
    data = _merge(data, _env_overrides(dict(os.environ if environ is None else environ)))
    data = _merge(data, overrides or {})
    data["path"] = str(file.resolve())
    return load_model(file, Config, data)
