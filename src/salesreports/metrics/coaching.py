"""Training needs and incentive estimates, from KPI gaps against benchmarks and recurring feedback.

``params/coaching.yaml`` declares:

``rules``
    ``{kpi: win_rate, below: team_p25, topic: Closing skills}``: when the rep's KPI (at the coaching
    ``grain``, default quarter) is below (or ``above``) a benchmark of :func:`salesreports.metrics.benchmarks.
    rep_benchmarks` (``team_median``, ``team_p25``, ``team_p75``, the same with ``company_``, or
    ``ramp_median`` from :func:`~salesreports.metrics.benchmarks.ramp_benchmarks`) or a number, the topic is a
    training need, with the numbers as evidence. A team figure that is suppressed for privacy (a small
    team) falls back to the company's. Rules name KPIs of the registry; an unknown name, or a rule that
    would flag *good* values (``below`` on a KPI where lower is better), is an error at load time.
``feedback``
    ``tags`` maps feedback tags to topics. A tag is *recurring* when it appears in at least
    ``min_mentions`` of the rep's feedback notes of the last ``months`` months, or in any note scored
    ``low_score`` or lower; it then adds its topic with the counts and a few short quotes as evidence.
    Notes scored above ``max_score`` (default 3 of 5) are praise and are not counted: a tag names what
    a note is about, and "strong closing this quarter" is no training need.
``incentives``
    A bonus estimate from attainment tiers: the bonus grows linearly within each tier at ``rate`` times
    the base rate, and the base rate is set so that 100% attainment earns ``base_bonus``. With tiers
    ``0: 0, 50%: 1, 100%: 1.5`` nothing is paid below 50%, the bonus rises linearly to the base bonus at
    100%, and every point above 100% earns 1.5x as much as a point below it (the accelerator).

Functions take the rep's own rows (values, feedback) and aggregated team figures only, and return
frozen dataclasses that serialise to JSON with :func:`dataclasses.asdict`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from salesreports import i18n
from salesreports.errors import ConfigError, close_matches
from salesreports.i18n import N_, _, ngettext
from salesreports.metrics.formats import Formatter
from salesreports.metrics.kpis import as_formatter

__all__ = [
    "BENCHMARKS",
    "CoachingConfig",
    "Evidence",
    "FeedbackSettings",
    "IncentiveEstimate",
    "IncentivePlan",
    "Quote",
    "Rule",
    "Tier",
    "TrainingNeed",
    "estimate_incentive",
    "incentive_for",
    "load_coaching",
    "needs_from_rows",
    "training_needs",
]

# benchmark name -> words for people (in English: translated where they are written into a sentence)
BENCHMARKS: dict[str, str] = {
    "team_median": N_("team median"),
    "team_p25": N_("the team's 25th percentile"),
    "team_p75": N_("the team's 75th percentile"),
    "company_median": N_("company median"),
    "company_p25": N_("the company's 25th percentile"),
    "company_p75": N_("the company's 75th percentile"),
    "ramp_median": N_("the median of earlier hires at the same tenure"),
}
GRAINS = ("month", "quarter", "ytd", "t12m")
_TAG_SPLIT = re.compile(r"[;,|]")


# --------------------------------------------------------------------------- the file


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _RuleModel(_Model):
    topic: str
    kpi: str
    below: str | float | None = None
    above: str | float | None = None
    why: str = ""


class _FeedbackModel(_Model):
    months: int = Field(default=6, ge=1, le=36, description="look-back window in months")
    min_mentions: int = Field(default=2, ge=1, description="a tag in this many notes is recurring")
    low_score: float = Field(default=2, ge=1, le=5, description="a tag in one note scored this or lower counts")
    max_score: float = Field(default=3, ge=1, le=5, description="notes scored above this are praise: not counted")
    max_quotes: int = Field(default=3, ge=0, description="quotes per topic")
    quote_chars: int = Field(default=140, ge=20, description="quotes are cut to this length")
    tags: dict[str, str] = Field(default_factory=dict)


class _TierModel(_Model):
    from_: float = Field(alias="from", ge=0)
    rate: float = Field(ge=0)


class _IncentiveModel(_Model):
    metric: str = "quota_attainment"
    grain: str = "quarter"
    base_bonus: float = Field(ge=0)
    cap: float | None = Field(default=None, gt=0)
    tiers: list[_TierModel]


class _CoachingFile(_Model):
    grain: str = "quarter"
    topics: dict[str, str] = Field(default_factory=dict)
    rules: list[_RuleModel] = Field(default_factory=list)
    feedback: _FeedbackModel = Field(default_factory=_FeedbackModel)
    incentives: _IncentiveModel | None = None


@dataclass(frozen=True)
class Rule:
    """A KPI gap that points to a training topic.

    Attributes
    ----------
    topic : the training topic
    kpi : the KPI's name
    comparison : "below" or "above"
    threshold : a benchmark name of :data:`BENCHMARKS` or a number
    why : optional explanation shown with the evidence
    """

    topic: str
    kpi: str
    comparison: Literal["below", "above"]
    threshold: str | float
    why: str = ""


@dataclass(frozen=True)
class FeedbackSettings:
    """When a feedback tag is recurring, and how it is quoted."""

    months: int = 6
    min_mentions: int = 2
    low_score: float = 2.0
    max_score: float = 3.0
    max_quotes: int = 3
    quote_chars: int = 140
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Tier:
    """From ``start`` attainment (1.0 = 100%) on, the bonus grows at ``rate`` x the base rate."""

    start: float
    rate: float


@dataclass(frozen=True)
class IncentivePlan:
    """Attainment tiers and the base bonus paid at 100%.

    Attributes
    ----------
    base_bonus : the bonus at exactly 100% attainment
    tiers : ascending, the first starting at 0
    cap : attainment beyond this earns nothing more (None: no cap)
    metric, grain : where attainment comes from (default quota_attainment per quarter)
    """

    base_bonus: float
    tiers: tuple[Tier, ...]
    cap: float | None = None
    metric: str = "quota_attainment"
    grain: str = "quarter"

    @property
    def base_rate(self) -> float:
        """Bonus per 1.0 of attainment at rate 1 (so that 100% pays ``base_bonus``)."""
        return self.base_bonus / _integral(self.tiers, 1.0)

    def rate_at(self, attainment: float) -> float:
        """The tier rate that applies at ``attainment``."""
        rate = 0.0
        for tier in self.tiers:
            if attainment >= tier.start:
                rate = tier.rate
        return rate

    def bonus(self, attainment: float) -> float:
        """The bonus at ``attainment`` (capped)."""
        a = max(0.0, attainment if self.cap is None else min(attainment, self.cap))
        return self.base_rate * _integral(self.tiers, a)


def _integral(tiers: Sequence[Tier], upto: float) -> float:
    """The integral of the tier rate from 0 to ``upto``."""
    total = 0.0
    for i, tier in enumerate(tiers):
        end = tiers[i + 1].start if i + 1 < len(tiers) else math.inf
        lo, hi = tier.start, min(end, upto)
        if hi > lo:
            total += tier.rate * (hi - lo)
    return total


@dataclass(frozen=True)
class CoachingConfig:
    """The coaching rules, feedback settings, topics and incentive plan of a coaching file."""

    rules: tuple[Rule, ...]
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings)
    topics: Mapping[str, str] = field(default_factory=dict, hash=False)
    grain: str = "quarter"
    incentives: IncentivePlan | None = None
    file: str = ""


def _check_rule(i: int, r: _RuleModel, topics: Mapping[str, str]) -> tuple[Rule | None, list[str]]:
    from salesreports.metrics.kpis import registry

    reg = registry()
    where = f"rules[{i}]"
    problems: list[str] = []
    if r.kpi not in reg:
        problems.append(
            f"{where}: unknown KPI '{r.kpi}'.{close_matches(r.kpi, reg.names())} See `salesreports kpis` for the names"
        )
    given = [k for k in ("below", "above") if getattr(r, k) is not None]
    if len(given) != 1:
        problems.append(f"{where} ({r.kpi}): give exactly one of below or above (got {' and '.join(given) or 'none'})")
        return None, problems
    comparison: Literal["below", "above"] = "below" if given[0] == "below" else "above"
    threshold = getattr(r, comparison)
    if isinstance(threshold, str):
        name = threshold.strip()
        try:
            threshold = float(name)
        except ValueError:
            threshold = name
            if name not in BENCHMARKS:
                problems.append(
                    f"{where} ({r.kpi}): unknown benchmark '{name}'.{close_matches(name, BENCHMARKS)} "
                    f"Use one of {', '.join(BENCHMARKS)} or a number"
                )
    if r.kpi in reg:
        better_high = reg.get(r.kpi).higher_is_better
        if (comparison == "below") != better_high:
            good = "lower" if not better_high else "higher"
            problems.append(
                f"{where} ({r.kpi}): '{comparison}' would flag good values ({good} is better for "
                f"{r.kpi}); use '{'above' if comparison == 'below' else 'below'}'"
            )
    if topics and r.topic not in topics:
        problems.append(f"{where}: topic '{r.topic}' is not under `topics:`.{close_matches(r.topic, topics)}")
    return Rule(r.topic, r.kpi, comparison, threshold, r.why), problems


def _check_incentives(m: _IncentiveModel) -> tuple[IncentivePlan | None, list[str]]:
    from salesreports.metrics.kpis import registry

    problems: list[str] = []
    if m.metric not in registry():
        problems.append(f"incentives.metric: unknown KPI '{m.metric}'.{close_matches(m.metric, registry().names())}")
    if m.grain not in GRAINS:
        problems.append(f"incentives.grain: '{m.grain}' is not one of {', '.join(GRAINS)}")
    tiers = tuple(Tier(t.from_, t.rate) for t in m.tiers)
    starts = [t.start for t in tiers]
    if not tiers or starts[0] != 0:
        problems.append("incentives.tiers: the first tier must start `from: 0`")
    elif starts != sorted(starts) or len(set(starts)) != len(starts):
        problems.append("incentives.tiers: list the tiers in ascending order of `from`, each start once")
    elif _integral(tiers, 1.0) <= 0:
        problems.append("incentives.tiers: some tier below 100% must pay (rate > 0), or 100% would earn nothing")
    if problems:
        return None, problems
    return IncentivePlan(m.base_bonus, tiers, m.cap, m.metric, m.grain), problems


def load_coaching(path: Path | str) -> CoachingConfig:
    """Read and check a coaching file.

    Raises
    ------
    ConfigError
        Every problem at once: unknown keys, unknown KPIs and benchmarks (with close matches), rules that
        would flag good values, topics not declared under ``topics``, invalid incentive tiers.
    """
    from salesreports.yamlio import load_model, read_mapping

    file = Path(path)
    model = load_model(file, _CoachingFile, read_mapping(file, "coaching"))
    problems: list[str] = []
    if model.grain not in GRAINS:
        problems.append(f"grain: '{model.grain}' is not one of {', '.join(GRAINS)}")
    rules: list[Rule] = []
    for i, r in enumerate(model.rules):
        rule, found = _check_rule(i, r, model.topics)
        problems.extend(found)
        if rule is not None:
            rules.append(rule)
    tags = {str(k).strip().lower(): v for k, v in model.feedback.tags.items()}
    if model.topics:
        for tag, topic in tags.items():
            if topic not in model.topics:
                problems.append(
                    f"feedback.tags.{tag}: topic '{topic}' is not under `topics:`.{close_matches(topic, model.topics)}"
                )
    plan = None
    if model.incentives is not None:
        plan, found = _check_incentives(model.incentives)
        problems.extend(found)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems)
        msg = f"{file}: {len(problems)} problem(s):\n{shown}\nFix: correct these entries and run again."
        raise ConfigError(msg, file=str(file), problems=problems)
    f = model.feedback
    feedback = FeedbackSettings(f.months, f.min_mentions, f.low_score, f.max_score, f.max_quotes, f.quote_chars, tags)
    return CoachingConfig(tuple(rules), feedback, dict(model.topics), model.grain, plan, str(file))


# --------------------------------------------------------------------------- training needs


@dataclass(frozen=True)
class Evidence:
    """One reason for a training need.

    Attributes
    ----------
    kind : "kpi" or "feedback"
    text : for people: "win rate 18.0% vs team median 31.0%; below the team's 25th percentile (24.0%)"
    kpi, value, benchmark, benchmark_name : the numbers (kpi evidence)
    tag, mentions, low_scores : the feedback tag, notes mentioning it, and how many of them scored low
    """

    kind: Literal["kpi", "feedback"]
    text: str
    kpi: str = ""
    value: float | None = None
    benchmark: float | None = None
    benchmark_name: str = ""
    tag: str = ""
    mentions: int = 0
    low_scores: int = 0


@dataclass(frozen=True)
class Quote:
    """A short piece of the rep's own feedback."""

    date: str
    source: str
    score: float | None
    text: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingNeed:
    """A training topic with its evidence.

    Attributes
    ----------
    topic, description : the topic and its description from ``topics:``
    evidence : the KPI gaps and feedback counts behind it
    quotes : short feedback quotes
    kpis, tags : the KPIs and tags involved
    priority : a sort key (KPI gaps count by their relative size, feedback by its mentions)
    """

    topic: str
    description: str
    evidence: tuple[Evidence, ...]
    quotes: tuple[Quote, ...] = ()
    kpis: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    priority: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _kpi_evidence(
    rule: Rule, row: Mapping[str, Any], ramp_row: Mapping[str, Any] | None, currency: str | Formatter
) -> Evidence | None:
    from salesreports.metrics.kpis import get

    kpi = get(rule.kpi)
    value = _num(row.get("value")) if row else None
    name = ""
    if isinstance(rule.threshold, float):
        threshold: float | None = rule.threshold
        words = _("the threshold {value}").format(value=kpi.format_value(rule.threshold, currency))
    elif rule.threshold == "ramp_median":
        if ramp_row is None:
            return None
        value = _num(ramp_row.get("value"))
        threshold = _num(ramp_row.get("ramp_median"))
        name = "ramp_median"
        tenure = ramp_row.get("tenure_month")
        words = _("the median of earlier hires in their month {tenure}").format(tenure=tenure)
    else:
        name = rule.threshold
        threshold = _num(row.get(name)) if row else None
        if threshold is None and name.startswith("team_"):
            name = "company_" + name[len("team_") :]
            threshold = _num(row.get(name)) if row else None
        words = _(BENCHMARKS[name])
    if value is None or threshold is None:
        return None
    flagged = value < threshold if rule.comparison == "below" else value > threshold
    if not flagged:
        return None
    fmt = kpi.format_value
    median = _num(row.get("team_median")) if row else None
    with_median = name != "ramp_median" and median is not None and name != "team_median"
    if rule.comparison == "below":
        # TRANSLATORS: coaching evidence: "win rate 18.0% vs team median 31.0%; below the team's 25th percentile
        # (24.0%)"; {kpi} is the KPI's label, {benchmark} what the value is compared with
        message = (
            _("{kpi} {value} vs team median {median}; below {benchmark} ({threshold})")
            if with_median
            else _("{kpi} {value}; below {benchmark} ({threshold})")
        )
    else:
        message = (
            _("{kpi} {value} vs team median {median}; above {benchmark} ({threshold})")
            if with_median
            else _("{kpi} {value}; above {benchmark} ({threshold})")
        )
    text = message.format(
        kpi=i18n.in_sentence(_(kpi.label)),
        value=fmt(value, currency),
        median=fmt(median, currency) if median is not None else "",
        benchmark=words,
        threshold=fmt(threshold, currency),
    )
    if rule.why:
        text += f". {_(rule.why)}"
    return Evidence("kpi", text, kpi=kpi.name, value=value, benchmark=threshold, benchmark_name=name)


def _tags(value: Any) -> list[str]:
    """A note's tags: lower case, each once, sorted ("Pricing; objections" -> ["objections", "pricing"])."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return []
    return sorted({x.strip().lower() for x in _TAG_SPLIT.split(str(value)) if x.strip()})


def _feedback_evidence(
    rep_feedback: Sequence[Mapping[str, Any]], period_end: str, s: FeedbackSettings, formats: Formatter
) -> dict[str, tuple[list[Evidence], list[Quote], list[str]]]:
    """Topic -> (evidence, quotes, tags) from recurring tags in the rep's own feedback notes (row dicts).

    A rep has a few dozen notes at most, so this works on plain rows (no per-rep pandas work).
    """
    if not rep_feedback or "tags" not in rep_feedback[0]:
        return {}
    end = pd.Period(period_end, freq="M")
    first, last = (end - (s.months - 1)).start_time, end.end_time
    recent = [(pd.Timestamp(r["date"]), r) for r in rep_feedback]
    recent = [(d, r) for d, r in recent if first <= d <= last]
    if not recent:
        return {}
    has_score = "score" in rep_feedback[0]
    notes = []  # (position, score or None, tags, date, row) of notes that may show a need
    for pos, (date, row) in enumerate(recent):
        value = _num(row.get("score")) if has_score else None
        if value is not None and value > s.max_score:
            continue  # praise does not make a training need; notes without a score count
        notes.append((pos, value, _tags(row.get("tags")), date, row))
    by_tag: dict[str, list[tuple[int, float | None]]] = {}
    for pos, value, tags, *_rest in notes:
        for tag in tags:
            by_tag.setdefault(tag, []).append((pos, value))
    since = formats.month_short(pd.Period(period_end, freq="M") - (s.months - 1))
    out: dict[str, tuple[list[Evidence], list[Quote], list[str]]] = {}
    for tag in sorted(by_tag):
        hits = by_tag[tag]
        n = len(hits)
        low = sum(1 for _pos, v in hits if v is not None and v <= s.low_score)
        topic = s.tags.get(tag)
        if topic is None or (n < s.min_mentions and low == 0):
            continue
        text = ngettext(
            "'{tag}' raised in {n} feedback note since {since}", "'{tag}' raised in {n} feedback notes since {since}", n
        ).format(tag=tag, n=n, since=since)
        tagged = sorted(v for _pos, v in hits if v is not None)
        if has_score and tagged:
            scores = ", ".join(formats.multiple(v) for v in tagged)
            scored = ngettext("score {scores}", "scores {scores}", len(tagged)).format(scores=scores)
            text += f" ({scored})"
        evidence, _, tag_list = out.setdefault(topic, ([], [], []))
        evidence.append(Evidence("feedback", text, tag=tag, mentions=n, low_scores=low))
        tag_list.append(tag)
    for _evidence, quotes, tag_list in out.values():
        wanted = set(tag_list)
        chosen = [(v, date, pos, row) for pos, v, tags, date, row in notes if wanted & set(tags)]
        # lowest score first (notes without a score last), then newest, then in data order
        chosen.sort(key=lambda c: (c[0] is None, c[0] or 0.0, -c[1].value, c[2]))
        quotes.extend(_quote(row, s.quote_chars) for *_, row in chosen[: s.max_quotes])
    return out


def _quote(row: Mapping[Any, Any], limit: int) -> Quote:
    text = " ".join(str(row.get("text") or "").split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    tags = tuple(x.strip().lower() for x in _TAG_SPLIT.split(str(row.get("tags") or "")) if x.strip())
    return Quote(
        date=pd.Timestamp(row["date"]).date().isoformat(),
        source=str(row.get("source") or ""),
        score=_num(row.get("score")),
        text=text,
        tags=tags,
    )


def training_needs(
    rep_id: str,
    benchmarks: pd.DataFrame,
    config: CoachingConfig,
    *,
    period_end: str,
    feedback: pd.DataFrame | None = None,
    ramp: pd.DataFrame | None = None,
    currency: str | Formatter = "$",
) -> list[TrainingNeed]:
    """The rep's training needs for the period ending in month ``period_end``.

    Parameters
    ----------
    rep_id : the rep
    benchmarks : :func:`salesreports.metrics.benchmarks.rep_benchmarks` rows (the rep's own values with team
        aggregates; other reps' rows are ignored)
    config : the coaching file
    period_end : ``YYYY-MM``: KPIs at ``config.grain`` ending in this month; feedback of the
        ``feedback.months`` months up to its end
    feedback : the feedback table (or the rep's rows of it): rep_id, date, source, score, tags, text
    ramp : :func:`salesreports.metrics.benchmarks.ramp_benchmarks` rows, for ``ramp_median`` rules
    currency : the formatter of the evidence text (a locale and currency), or a currency symbol (US English)

    Returns
    -------
    list[TrainingNeed]
        Most pressing first: topics backed by both numbers and feedback, then by priority.
    """
    mine = benchmarks[
        (benchmarks["rep_id"] == rep_id)
        & (benchmarks["grain"] == config.grain)
        & (benchmarks["period_end"] == period_end)
    ]
    rows = {str(r["kpi"]): {str(k): v for k, v in r.items()} for r in mine.to_dict(orient="records")}
    ramp_rows: dict[str, dict[str, Any]] = {}
    if ramp is not None and not ramp.empty:
        own = ramp[(ramp["rep_id"] == rep_id) & (ramp["period"] == period_end)]
        ramp_rows = {str(r["kpi"]): {str(k): v for k, v in r.items()} for r in own.to_dict(orient="records")}
    notes: list[dict[str, Any]] = []
    if feedback is not None and not feedback.empty:
        own_fb = feedback[feedback["rep_id"] == rep_id] if "rep_id" in feedback.columns else feedback
        notes = [{str(k): v for k, v in r.items()} for r in own_fb.to_dict(orient="records")]
    return needs_from_rows(rows, config, period_end=period_end, notes=notes, ramp_rows=ramp_rows, currency=currency)


def needs_from_rows(
    rows: Mapping[str, Mapping[str, Any]],
    config: CoachingConfig,
    *,
    period_end: str,
    notes: Sequence[Mapping[str, Any]] = (),
    ramp_rows: Mapping[str, Mapping[str, Any]] | None = None,
    currency: str | Formatter = "$",
) -> list[TrainingNeed]:
    """:func:`training_needs` from one rep's rows already picked out (how a batch calls it for every rep).

    Parameters
    ----------
    rows : KPI name -> the rep's benchmark row at ``config.grain`` ending in ``period_end``
    notes : the rep's own feedback notes (row dicts: date, source, score, tags, text)
    ramp_rows : KPI name -> the rep's ramp row for ``period_end``
    """
    ramp_rows = ramp_rows or {}
    found: dict[str, tuple[list[Evidence], list[Quote], list[str]]] = {}
    for rule in config.rules:
        ev = _kpi_evidence(rule, rows.get(rule.kpi, {}), ramp_rows.get(rule.kpi), currency)
        if ev is not None:
            found.setdefault(rule.topic, ([], [], []))[0].append(ev)
    for topic, (evidence, quotes, tags) in _feedback_evidence(
        notes, period_end, config.feedback, as_formatter(currency)
    ).items():
        slot = found.setdefault(topic, ([], [], []))
        slot[0].extend(evidence)
        slot[1].extend(quotes)
        slot[2].extend(tags)
    needs = []
    for topic, (evidence, quotes, tags) in found.items():
        priority = 0.0
        for e in evidence:
            if e.kind == "kpi" and e.value is not None and e.benchmark is not None:
                priority += abs(e.value - e.benchmark) / max(abs(e.benchmark), 1e-9)
            else:
                priority += 0.1 * e.mentions + 0.2 * e.low_scores
        kpis = tuple(dict.fromkeys(e.kpi for e in evidence if e.kpi))
        needs.append(
            TrainingNeed(  # the shipped topics in the active language (a company's own topics as written)
                _(topic),
                _(config.topics.get(topic, "")),
                tuple(evidence),
                tuple(quotes),
                kpis,
                tuple(dict.fromkeys(tags)),
                round(priority, 6),
            )
        )
    needs.sort(key=lambda n: (-len({e.kind for e in n.evidence}), -n.priority, n.topic))
    return needs


# --------------------------------------------------------------------------- incentives


@dataclass(frozen=True)
class IncentiveEstimate:
    """An estimated bonus at an attainment level. Numbers are None without an attainment.

    Attributes
    ----------
    attainment : 1.0 = 100%
    bonus : the estimated bonus
    base_bonus : the bonus at 100%
    rate : the tier rate at this attainment (1.5 = accelerated)
    per_point : what one more percentage point of attainment would add
    next_tier_at : where the next tier starts (None when in the last one)
    capped : attainment is beyond the cap
    summary : one sentence for people
    """

    attainment: float | None
    bonus: float | None
    base_bonus: float
    rate: float | None
    per_point: float | None
    next_tier_at: float | None
    capped: bool
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def estimate_incentive(
    attainment: float | None, plan: IncentivePlan, *, currency: str | Formatter = "$"
) -> IncentiveEstimate:
    """The bonus an attainment level earns under ``plan``.

    Examples
    --------
    With a base bonus of 10,000 and tiers ``0: 0, 0.5: 1, 1.0: 1.5``: 40% earns 0, 75% earns 5,000,
    100% earns 10,000 and 120% earns 16,000.
    """
    f = as_formatter(currency)
    if attainment is None or (isinstance(attainment, float) and math.isnan(attainment)):
        return IncentiveEstimate(
            None,
            None,
            plan.base_bonus,
            None,
            None,
            None,
            False,
            _("no attainment for the period (no target?): no bonus estimate"),
        )
    a = float(attainment)
    capped = plan.cap is not None and a >= plan.cap
    bonus = plan.bonus(a)
    rate = plan.rate_at(a)
    per_point = 0.0 if capped else plan.base_rate * rate * 0.01
    later = [t.start for t in plan.tiers if t.start > a and (plan.cap is None or t.start < plan.cap)]
    next_at = later[0] if later else None

    money = f.amount

    def pct(v: float) -> str:
        return f.percent(v, 0)

    # clauses joined by "; " (each a message of its own)
    text = _("{attainment} attainment: estimated bonus {bonus}").format(attainment=pct(a), bonus=money(bonus))
    if capped:
        assert plan.cap is not None
        text += " " + _("(the maximum: attainment above {cap} earns no more)").format(cap=pct(plan.cap))
    elif rate == 0:
        if next_at is not None:
            text += "; " + _("the bonus starts at {attainment}").format(attainment=pct(next_at))
    else:
        text += "; " + _("each further point adds {amount}").format(amount=money(per_point))
        if rate != 1:
            # TRANSLATORS: a tier's rate as a multiple of the base rate: "(1.5x rate)"
            text += " " + _("({rate}x rate)").format(rate=f.multiple(rate))
        if next_at is not None:
            nxt = plan.rate_at(next_at)
            text += "; " + _("from {attainment} the rate is {rate}x").format(
                attainment=pct(next_at), rate=f.multiple(nxt)
            )
    return IncentiveEstimate(a, bonus, plan.base_bonus, rate, per_point, next_at, capped, text + ".")


def incentive_for(
    values: pd.DataFrame, rep_id: str, period_end: str, plan: IncentivePlan, *, currency: str | Formatter = "$"
) -> IncentiveEstimate:
    """The bonus estimate from the rep's own attainment (``plan.metric`` at ``plan.grain``) in the tidy table."""
    hit = values[
        (values["entity_type"] == "rep")
        & (values["entity_id"] == rep_id)
        & (values["kpi"] == plan.metric)
        & (values["grain"] == plan.grain)
        & (values["period_end"] == period_end)
    ]
    attainment = _num(hit["value"].iloc[0]) if len(hit) else None
    return estimate_incentive(attainment, plan, currency=currency)
