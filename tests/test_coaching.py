"""Tests for coaching rules, feedback themes and incentive estimates."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesreports.errors import ConfigError
from salesreports.metrics.coaching import (
    CoachingConfig,
    FeedbackSettings,
    IncentivePlan,
    Rule,
    Tier,
    estimate_incentive,
    incentive_for,
    load_coaching,
    training_needs,
)

ROOT = Path(__file__).resolve().parents[1]
NAN = float("nan")


def _load(tmp_path: Path, text: str) -> CoachingConfig:
    path = tmp_path / "coaching.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_coaching(path)


# --------------------------------------------------------------------------- loading


def test_load_reads_rules_feedback_topics_and_tiers(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """\
        grain: t12m
        topics: {Closing skills: Asking for the order., Deal progression: Next steps.}
        rules:
          - {kpi: win_rate, below: team_p25, topic: Closing skills}
          - {kpi: sales_cycle_days, above: 60, topic: Deal progression, why: Long cycles stall.}
        feedback: {months: 3, tags: {Closing: Closing skills}}
        incentives:
          base_bonus: 10000
          tiers: [{from: 0, rate: 0}, {from: 0.5, rate: 1}, {from: 1.0, rate: 1.5}]
        """,
    )
    assert config.grain == "t12m"
    assert config.rules == (
        Rule("Closing skills", "win_rate", "below", "team_p25"),
        Rule("Deal progression", "sales_cycle_days", "above", 60.0, "Long cycles stall."),
    )
    assert config.feedback.months == 3
    assert dict(config.feedback.tags) == {"closing": "Closing skills"}  # tags are matched in lower case
    assert config.incentives == IncentivePlan(10000.0, (Tier(0, 0), Tier(0.5, 1), Tier(1.0, 1.5)))


def test_shipped_coaching_file_loads() -> None:
    config = load_coaching(ROOT / "params" / "coaching.yaml")
    kpis = {r.kpi for r in config.rules}
    assert {"win_rate", "lead_conversion", "calls_per_week", "avg_deal_size", "sales_cycle_days"} <= kpis
    assert config.incentives is not None
    assert all(r.topic in config.topics for r in config.rules)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "rules: [{kpi: win_rat, below: team_p25, topic: X}]",
            "rules[0]: unknown KPI 'win_rat'. Did you mean 'win_rate'",
        ),
        (
            "rules: [{kpi: win_rate, below: team_p52, topic: X}]",
            "unknown benchmark 'team_p52'. Did you mean",
        ),
        ("rules: [{kpi: win_rate, topic: X}]", "give exactly one of below or above (got none)"),
        ("rules: [{kpi: win_rate, below: 0.2, above: 0.9, topic: X}]", "give exactly one of below or above"),
        (
            "rules: [{kpi: sales_cycle_days, below: team_p25, topic: X}]",
            "'below' would flag good values (lower is better for sales_cycle_days); use 'above'",
        ),
        ("rules: [{kpi: win_rate, above: team_p75, topic: X}]", "'above' would flag good values"),
        (
            "topics: {Closing skills: x}\nrules: [{kpi: win_rate, below: team_p25, topic: Closing skill}]",
            "topic 'Closing skill' is not under `topics:`. Did you mean 'Closing skills'",
        ),
        (
            "topics: {Closing skills: x}\nfeedback: {tags: {closing: Closing}}",
            "feedback.tags.closing: topic 'Closing' is not under `topics:`",
        ),
        ("grain: week", "grain: 'week' is not one of month, quarter, ytd, t12m"),
        ("incentives: {base_bonus: 1, tiers: [{from: 0.5, rate: 1}]}", "the first tier must start `from: 0`"),
        ("incentives: {base_bonus: 1, tiers: [{from: 0, rate: 1}, {from: 0, rate: 2}]}", "ascending order"),
        ("incentives: {base_bonus: 1, tiers: [{from: 0, rate: 0}, {from: 1.0, rate: 2}]}", "some tier below 100%"),
        (
            "incentives: {metric: quota, base_bonus: 1, tiers: [{from: 0, rate: 1}]}",
            "incentives.metric: unknown KPI 'quota'",
        ),
        ("rules: [{kpi: win_rate, below: team_p25, topic: X, level: 3}]", "key 'rules.0.level' is not known"),
    ],
)
def test_load_reports_problems_with_fixes(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert fragment in str(err.value)
    assert err.value.file == str(tmp_path / "coaching.yaml")


@pytest.mark.parametrize(
    "text", ["", "# rules:\n#   - {kpi: win_rate, below: team_p25, topic: X}\n"], ids=["empty", "comments"]
)
def test_an_empty_coaching_file_is_an_error_not_the_defaults(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    path = tmp_path / "coaching.yaml"
    assert err.value.file == str(path)
    message = str(err.value)
    assert message.startswith(f"{path}: the file is empty (or holds only comments), so it is not a coaching file")
    assert "Fix: write the coaching into it (see params/coaching.yaml)" in message


def test_load_reports_every_problem_at_once(tmp_path: Path) -> None:
    text = "rules:\n  - {kpi: win_rat, below: team_p25, topic: X}\n  - {kpi: calls, below: team_p25, topic: Y}\n"
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert len(err.value.problems) == 2
    assert "2 problem(s)" in str(err.value)


# --------------------------------------------------------------------------- training needs


def _bench(rep: str, kpi: str, value: float, **stats: float) -> dict[str, object]:
    row: dict[str, object] = {
        "rep_id": rep,
        "team": "A",
        "grain": "quarter",
        "period": "2026-10-QTD",
        "period_end": "2026-10",
        "kpi": kpi,
        "value": value,
    }
    for name in ("team_median", "team_p25", "team_p75", "company_median", "company_p25", "company_p75"):
        row[name] = stats.get(name, NAN)
    return row


BENCH = pd.DataFrame(
    [
        _bench("R1", "win_rate", 0.18, team_median=0.31, team_p25=0.24, team_p75=0.40),
        _bench("R1", "sales_cycle_days", 70.0, team_median=45.0, team_p25=38.0, team_p75=52.0),
        _bench("R1", "avg_deal_size", 9000.0, team_median=10000.0, team_p25=8000.0),  # above p25: fine
        # a small team: the team figure is hidden, the company's is used
        _bench("R1", "calls_per_week", 20.0, company_median=35.0, company_p25=28.0),
        _bench("R1", "lead_conversion", NAN, team_median=0.1, team_p25=0.08),  # no value: no verdict
        _bench("R2", "win_rate", 0.05, team_median=0.31, team_p25=0.24),  # someone else
    ]
)
RULES = (
    Rule("Closing skills", "win_rate", "below", "team_p25"),
    Rule("Deal progression", "sales_cycle_days", "above", "team_p75"),
    Rule("Value selling / negotiation", "avg_deal_size", "below", "team_p25"),
    Rule("Prospecting", "calls_per_week", "below", "team_p25"),
    Rule("Qualification", "lead_conversion", "below", "team_p25"),
)
TAGS = {
    "closing": "Closing skills",
    "follow-up": "Deal progression",
    "prospecting": "Prospecting",
    "qualification": "Qualification",
    "negotiation": "Value selling / negotiation",
}
CONFIG = CoachingConfig(
    RULES,
    FeedbackSettings(months=6, min_mentions=2, low_score=2, max_score=3, max_quotes=2, quote_chars=40, tags=TAGS),
    topics={"Closing skills": "Asking for the order."},
)


def feedback_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Feedback notes as the loader gives them: rep_id, date (datetime), source, score, tags, text."""
    frame = pd.DataFrame(rows, columns=["rep_id", "date", "source", "score", "tags", "text"])
    return frame.assign(date=pd.to_datetime(frame["date"]))


FEEDBACK = feedback_frame(
    [
        # closing: twice, scored 3 and 2 -> recurring
        ("R1", "2026-09-10", "client", 3.0, "closing", "Needed a nudge to send the order form."),
        (
            "R1",
            "2026-10-02",
            "manager",
            2.0,
            "closing;follow-up",
            "Lost the Acme deal at the last step; no follow-up call.",
        ),
        # qualification: once, scored 2 -> recurring (low score)
        ("R1", "2026-06-01", "manager", 2.0, "qualification", "Chased a lead without budget."),
        # negotiation: twice, but praise (4 and 5) -> not a need
        ("R1", "2026-08-01", "peer", 4.0, "negotiation", "Great at negotiation."),
        ("R1", "2026-09-01", "client", 5.0, "negotiation", "Fair and firm."),
        # prospecting: twice, but one is older than six months -> once -> not recurring
        ("R1", "2026-04-30", "manager", 3.0, "prospecting", "Few new meetings."),
        ("R1", "2026-07-15", "manager", 3.0, "prospecting", "Few new meetings again."),
        # a tag no topic is mapped to, and another rep's note
        ("R1", "2026-07-20", "client", 1.0, "pricing", "Too expensive."),
        ("R2", "2026-09-01", "client", 1.0, "closing", "Never called back."),
    ]
)


def test_training_needs_combine_kpi_gaps_and_feedback() -> None:
    needs = training_needs("R1", BENCH, CONFIG, period_end="2026-10", feedback=FEEDBACK)
    by_topic = {n.topic: n for n in needs}
    # both kinds of evidence first, then by priority: Qualification 0.1 + 0.2 (one low-scored note) before
    # Prospecting |20 - 28| / 28
    assert list(by_topic) == ["Closing skills", "Deal progression", "Qualification", "Prospecting"]
    closing = by_topic["Closing skills"]
    assert closing.description == "Asking for the order."
    assert [e.text for e in closing.evidence] == [
        "win rate 18.0% vs team median 31.0%; below the team's 25th percentile (24.0%)",
        "'closing' raised in 2 feedback notes since May 2026 (scores 2, 3)",
    ]
    assert (closing.kpis, closing.tags) == (("win_rate",), ("closing",))
    assert closing.evidence[0].value == 0.18
    assert closing.evidence[0].benchmark == 0.24
    assert closing.evidence[0].benchmark_name == "team_p25"
    # lowest score first, then the latest; cut to 40 characters
    assert [(q.date, q.score, q.text) for q in closing.quotes] == [
        ("2026-10-02", 2.0, "Lost the Acme deal at the last step; no…"),
        ("2026-09-10", 3.0, "Needed a nudge to send the order form."),
    ]
    assert closing.quotes[0].tags == ("closing", "follow-up")
    # |0.18 - 0.24| / 0.24 + 0.1 * 2 mentions + 0.2 * 1 low score
    assert closing.priority == pytest.approx(0.25 + 0.2 + 0.2)


def test_training_needs_evidence_per_rule_kind() -> None:
    needs = {n.topic: n for n in training_needs("R1", BENCH, CONFIG, period_end="2026-10", feedback=FEEDBACK)}
    assert needs["Deal progression"].evidence[0].text == (
        "sales cycle 70 days vs team median 45 days; above the team's 75th percentile (52 days)"
    )
    # 'follow-up' is in one note only, scored 2: recurring through the low score
    assert (
        needs["Deal progression"].evidence[1].text == "'follow-up' raised in 1 feedback note since May 2026 (score 2)"
    )
    prospecting = needs["Prospecting"]
    assert [e.text for e in prospecting.evidence] == [
        "calls per week 20.0/wk; below the company's 25th percentile (28.0/wk)"
    ]
    assert prospecting.evidence[0].benchmark_name == "company_p25"
    assert [e.kind for e in needs["Qualification"].evidence] == ["feedback"]
    assert "Value selling / negotiation" not in needs


def test_training_needs_without_feedback_or_for_another_period() -> None:
    # by relative gap: cycle (70 - 52) / 52, calls (28 - 20) / 28, win rate (0.24 - 0.18) / 0.24
    needs = training_needs("R1", BENCH, CONFIG, period_end="2026-10")
    assert [n.topic for n in needs] == ["Deal progression", "Prospecting", "Closing skills"]
    assert [n.priority for n in needs] == [pytest.approx(18 / 52), pytest.approx(8 / 28), pytest.approx(0.25)]
    assert training_needs("R1", BENCH, CONFIG, period_end="2026-09") == []
    assert training_needs("R9", BENCH, CONFIG, period_end="2026-10", feedback=FEEDBACK) == []


def test_numeric_and_ramp_thresholds() -> None:
    rules = (
        Rule("Prospecting", "calls_per_week", "below", 25.0),
        Rule("Onboarding", "revenue", "below", "ramp_median"),
    )
    config = CoachingConfig(rules)
    ramp = pd.DataFrame(
        [
            {
                "rep_id": "R1",
                "kpi": "revenue",
                "period": "2026-10",
                "tenure_month": 3,
                "value": 1000.0,
                "ramp_median": 4000.0,
            }
        ]
    )
    needs = training_needs("R1", BENCH, config, period_end="2026-10", ramp=ramp)
    assert [e.text for n in needs for e in n.evidence] == [
        "revenue $1,000; below the median of earlier hires in their month 3 ($4,000)",
        "calls per week 20.0/wk; below the threshold 25.0/wk (25.0/wk)",
    ]
    assert training_needs("R1", BENCH, config, period_end="2026-10")[0].topic == "Prospecting"  # no ramp rows


def test_training_needs_are_json_ready() -> None:
    needs = training_needs("R1", BENCH, CONFIG, period_end="2026-10", feedback=FEEDBACK)
    data = json.loads(json.dumps([n.to_dict() for n in needs], allow_nan=False))
    assert data[0]["evidence"][0]["kind"] == "kpi"
    assert asdict(needs[0]) == needs[0].to_dict()


# --------------------------------------------------------------------------- incentives

PLAN = IncentivePlan(10000.0, (Tier(0.0, 0.0), Tier(0.5, 1.0), Tier(1.0, 1.5)), cap=2.0)


@pytest.mark.parametrize(
    ("attainment", "bonus", "rate", "per_point", "next_at"),
    [
        (0.0, 0.0, 0.0, 0.0, 0.5),
        (0.4, 0.0, 0.0, 0.0, 0.5),
        (0.5, 0.0, 1.0, 200.0, 1.0),
        (0.75, 5000.0, 1.0, 200.0, 1.0),  # half way from 50% to 100%
        (1.0, 10000.0, 1.5, 300.0, None),
        (1.2, 16000.0, 1.5, 300.0, None),  # 10,000 + 20 points x 300
        (2.5, 40000.0, 1.5, 0.0, None),  # capped at 200%: 10,000 + 100 points x 300
    ],
)
def test_incentive_tiers_with_accelerator(
    attainment: float, bonus: float, rate: float, per_point: float, next_at: float | None
) -> None:
    est = estimate_incentive(attainment, PLAN)
    assert est.bonus == pytest.approx(bonus)
    assert est.rate == rate
    assert est.per_point == pytest.approx(per_point)
    assert est.next_tier_at == next_at
    assert est.capped == (attainment >= 2.0)


@pytest.mark.parametrize(
    ("attainment", "summary"),
    [
        (0.4, "40% attainment: estimated bonus $0; the bonus starts at 50%."),
        (0.75, "75% attainment: estimated bonus $5,000; each further point adds $200; from 100% the rate is 1.5x."),
        (1.2, "120% attainment: estimated bonus $16,000; each further point adds $300 (1.5x rate)."),
        (2.5, "250% attainment: estimated bonus $40,000 (the maximum: attainment above 200% earns no more)."),
        (None, "no attainment for the period (no target?): no bonus estimate"),
        (NAN, "no attainment for the period (no target?): no bonus estimate"),
    ],
)
def test_incentive_summary(attainment: float | None, summary: str) -> None:
    assert estimate_incentive(attainment, PLAN).summary == summary


def test_incentive_for_reads_the_reps_attainment() -> None:
    values = pd.DataFrame(
        [
            ("rep", "R1", "quarter", "2026-09", "quota_attainment", 1.2),
            ("rep", "R2", "quarter", "2026-09", "quota_attainment", np.nan),
        ],
        columns=["entity_type", "entity_id", "grain", "period_end", "kpi", "value"],
    )
    assert incentive_for(values, "R1", "2026-09", PLAN).bonus == pytest.approx(16000.0)
    assert incentive_for(values, "R2", "2026-09", PLAN).bonus is None
    assert incentive_for(values, "R3", "2026-09", PLAN).bonus is None
    assert json.loads(json.dumps(estimate_incentive(1.2, PLAN).to_dict()))["rate"] == 1.5


def test_quotes_lowest_score_first_then_newest_unscored_last_praise_never() -> None:
    """Ties and notes without a score, computed by hand: score 1, then the two 2s newest first, then no score."""
    notes = feedback_frame(
        [
            ("R1", "2026-08-01", "peer", None, "closing", "no score"),
            ("R1", "2026-07-01", "manager", 2.0, "Closing", "older two"),
            ("R1", "2026-09-01", "manager", 2.0, "closing", "newer two"),
            ("R1", "2026-06-01", "client", 1.0, "closing | pricing", "one"),
            ("R1", "2026-09-15", "client", 5.0, "closing", "praise"),
        ]
    )
    config = replace(CONFIG, feedback=replace(CONFIG.feedback, max_quotes=4))
    needs = {n.topic: n for n in training_needs("R1", BENCH.iloc[:0], config, period_end="2026-10", feedback=notes)}
    closing = needs["Closing skills"]
    assert [q.text for q in closing.quotes] == ["one", "newer two", "older two", "no score"]
    # four notes (praise left out), three of them scored, listed lowest first
    assert closing.evidence[0].text == "'closing' raised in 4 feedback notes since May 2026 (scores 1, 2, 2)"
    assert (closing.evidence[0].mentions, closing.evidence[0].low_scores) == (4, 3)
