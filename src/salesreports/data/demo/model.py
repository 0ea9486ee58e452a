"""The demo's fictional sales organisation and every random draw, month by month with numpy.

Four regional teams with managers, reps with a latent skill (a few clear strong and weak performers), new
hires who ramp up, leavers, seasonality (summer dip, strong Q4, December close push), a mild growth trend,
repeat business, a product and a segment launched partway through, and qualitative feedback whose themes
match each rep's weak spot.

Dates are ISO ``YYYY-MM-DD``. Deals created up to five months before the first month appear when they close
inside the window (the pipeline carried in); every other date lies inside the window, and none after the
last month.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from salesreports.data.demo.output import DEMO_TABLES, Format, Sink
from salesreports.data.schema import ACTIVITY_TYPES, FEEDBACK_SOURCES, STAGES

__all__ = ["MONTH_RE", "PRODUCTS", "SEGMENTS", "TEAMS", "Generator"]


IntArray = npt.NDArray[np.int64]


FloatArray = npt.NDArray[np.float64]


BoolArray = npt.NDArray[np.bool_]


"""The tables :func:`generate_demo` writes, in the order it lists them."""


TEAMS: tuple[str, ...] = ("North", "South", "East", "West")

"""Team names; each team covers the region of the same name."""


PRODUCTS: tuple[str, ...] = (
    "Core", "Analytics", "Support Plan", "Enterprise Suite", "Training", "Cloud Add-on",
)  # fmt: skip

"""Products sold; ``Cloud Add-on`` launches a third of the way into the window."""


SEGMENTS: tuple[str, ...] = ("SMB", "Mid-Market", "Enterprise", "Public Sector")

"""Customer segments; ``Public Sector`` is entered halfway through the window."""


_WARMUP = 5  # months of pipeline generated before the window (only deals closing inside it are kept)


_DEALS_PER_REP_MONTH = 21.5  # at scale 1, fully ramped, average skill, no season


_VOLUME_GROWTH = 0.06  # per year


_PRICE_GROWTH = 0.03  # per year


_RAMP_MONTHS = 5.0


_ID_WIDTH = {"deal": 7, "lead": 7, "account": 5}


# calendar month 1..12 -> factor
_VOLUME_SEASON = np.array([0.92, 0.97, 1.05, 1.0, 1.0, 0.95, 0.82, 0.78, 1.04, 1.1, 1.12, 0.95])


_WIN_SEASON = np.array([0.95, 0.97, 1.05, 0.98, 1.0, 1.04, 0.9, 0.88, 1.05, 1.06, 1.1, 1.2])


_ACTIVITY_SEASON = np.array([0.97, 1.0, 1.03, 1.0, 1.0, 0.97, 0.9, 0.85, 1.03, 1.05, 1.05, 0.9])


_VACATION = np.array([0.04, 0.03, 0.03, 0.05, 0.05, 0.06, 0.12, 0.15, 0.04, 0.03, 0.03, 0.08])


_PRODUCT_MEDIAN = np.array([12000.0, 8000.0, 4000.0, 30000.0, 2500.0, 6000.0])


_PRODUCT_SIGMA = np.array([0.45, 0.4, 0.3, 0.45, 0.35, 0.4])


_PRODUCT_COST = np.array([0.55, 0.45, 0.42, 0.62, 0.70, 0.48])  # cost share of amount


_PRODUCT_UNITS = np.array([4.0, 2.0, 0.3, 0.5, 3.0, 2.0])  # units = 1 + Poisson(this * segment factor)


_CLOUD = PRODUCTS.index("Cloud Add-on")


# P(product | segment); rows follow SEGMENTS, columns PRODUCTS
_PRODUCT_MIX = np.array(
    [
        [0.45, 0.15, 0.15, 0.00, 0.15, 0.10],
        [0.35, 0.22, 0.13, 0.07, 0.10, 0.13],
        [0.20, 0.20, 0.10, 0.30, 0.08, 0.12],
        [0.35, 0.15, 0.15, 0.15, 0.15, 0.05],
    ]
)


_SEG_SHARE = np.array([0.50, 0.35, 0.15, 0.0])


_PUBLIC = SEGMENTS.index("Public Sector")


_PUBLIC_SHARE = 0.12  # reached six months after launch


_SEG_AMOUNT = np.array([0.7, 1.0, 1.7, 1.4])


_SEG_CYCLE = np.array([0.75, 1.0, 1.45, 1.6])


_SEG_WIN = np.array([1.08, 1.0, 0.85, 0.8])


_SEG_UNITS = np.array([0.6, 1.0, 2.0, 1.5])


_CYCLE_MEDIAN = 48.0


_CYCLE_SIGMA = 0.38


_CYCLE_MIN, _CYCLE_MAX = 20, 116


_REPEAT_WIN, _NEW_WIN = 1.3, 0.9


_REPEAT_AMOUNT = 0.85


_LEAD_SOURCES = ("web", "referral", "event", "outbound", "partner")


_SOURCE_MIX = np.array([0.38, 0.14, 0.14, 0.24, 0.10])  # leads that do not become deals


_SOURCE_MIX_CONVERTED = np.array([0.30, 0.26, 0.16, 0.12, 0.16])


_SOURCE_QUALIFIED = np.array([0.28, 0.5, 0.36, 0.2, 0.45])  # of leads that do not become deals


_LINK_WON, _LINK_OTHER = 0.85, 0.40  # share of deals that came from a lead


_ACTIVITY_RATE = np.array([7.0, 10.0, 1.1, 0.45])  # per working day, order of ACTIVITY_TYPES


_ACTIVITY_SKILL = np.array([0.22, 0.15, 0.25, 0.3])


_TARGET_METRICS = ("revenue", "deals_won", "qualified_leads")


_TARGET_SKILL_SHRINK = 0.5  # quotas follow territory more than skill: strong reps beat them


_TARGET_WIN_MIX = 1.04  # average effect of segment, repeat, season and leavers on the win rate (measured)


_CLOSE_LAG = np.array([0.10, 0.42, 0.33, 0.12, 0.03])  # months from creation to a won close


_FIRST_NAMES = (
    "Amara", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Nikhil", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tessa",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Aidan", "Bianca", "Chen", "Daria",
    "Emil", "Fatima", "Gustav", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nadia",
    "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Uma", "Victor", "Wanda", "Yara", "Zane",
    "Alma", "Bruno", "Clara", "Diego", "Esme", "Felix", "Greta", "Hugo", "Iris", "Joel",
)  # fmt: skip


_LAST_NAMES = (
    "Abbott", "Baptiste", "Castillo", "Dahl", "Eriksen", "Fontaine", "Garcia", "Hayes", "Ibsen",
    "Jovanovic", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero",
    "Rasmussen", "Sato", "Tanaka", "Ueda", "Varga", "Whitfield", "Xu", "Yilmaz", "Zimmer",
    "Alvarez", "Brennan", "Chopra", "Delgado", "Engstrom", "Ferreira", "Gallagher", "Horvat",
    "Iyer", "Jensen", "Kaplan", "Larsen", "Mendes", "Novak", "Oyelaran", "Pereira", "Rossi",
    "Schmidt", "Thornton", "Ulrich", "Vasquez", "Weber", "Yamada", "Zhou", "Arnold", "Becker",
    "Costa", "Dunn", "Ellis", "Fischer", "Grant", "Holm", "Ishikawa", "Keller",
)  # fmt: skip


_TAGS = (
    "closing", "negotiation", "discovery", "follow-up", "product-knowledge",
    "responsiveness", "prospecting", "qualification", "presentation",
)  # fmt: skip


_SKILL_TAGS = (("closing", "negotiation"), ("prospecting", "follow-up"), ("qualification", "discovery"))


_TAG_PHRASE = {
    "closing": "closing",
    "negotiation": "negotiation",
    "discovery": "discovery calls",
    "follow-up": "follow-up",
    "product-knowledge": "product knowledge",
    "responsiveness": "responsiveness",
    "prospecting": "prospecting",
    "qualification": "lead qualification",
    "presentation": "presentations",
}


_TEXTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("client", "good"): (
        "Very good {p} throughout the process.",
        "Appreciated the {p}; it made the decision easy.",
    ),
    ("client", "fair"): (
        "Fine overall, though the {p} could be sharper.",
        "Helpful, but the {p} was uneven.",
    ),
    ("client", "poor"): ("The {p} fell short of what we expected.", "We had to chase; the {p} needs work."),
    ("manager", "good"): (
        "Strong {p} this quarter; keep it up.",
        "Clear progress in {p}; a model for the team.",
    ),
    ("manager", "fair"): (
        "Solid quarter; the next step is better {p}.",
        "On track overall; keep working on {p}.",
    ),
    ("manager", "poor"): (
        "Needs to work on {p}; several deals stalled.",
        "{P}: still a gap; agreed a coaching plan.",
    ),
    ("peer", "good"): ("Always helpful with {p}.", "Shared great tips on {p} with the team."),
    ("peer", "fair"): ("Good teammate; could lean in more on {p}.", "Reliable, with room to grow in {p}."),
    ("peer", "poor"): ("Could use support on {p}.", "Often asks for help with {p}."),
}


MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


_NEVER = np.iinfo(np.int64).max // 4  # leave day of reps who stay


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _ids(prefix: str, numbers: Any, width: int, mask: BoolArray | None = None) -> Any:
    """Format integers as ``<prefix><zero-padded number>`` (null where ``mask``)."""
    arr = pa.array(np.asarray(numbers, dtype=np.int64), mask=mask)
    padded = pc.utf8_lpad(pc.cast(arr, pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, padded, "")


def _labels(values: Sequence[str | None], index: IntArray) -> Any:
    return pa.array(values, type=pa.string()).take(pa.array(index))


def _dates(days: IntArray, mask: BoolArray | None = None) -> Any:
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=mask)


def _calendar_month(days: IntArray) -> IntArray:
    """Calendar month 1..12 of each day number."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return np.asarray(months % 12 + 1, dtype=np.int64)


def _ramp(tenure_months: FloatArray, floor: float) -> FloatArray:
    """Share of full productivity after ``tenure_months``: ``floor`` at hire, 1 after the ramp."""
    ramped = floor + (1.0 - floor) * np.clip(tenure_months, 0.0, _RAMP_MONTHS) / _RAMP_MONTHS
    return np.asarray(ramped, dtype=np.float64)


@dataclass
class _RepModel:
    """The sales organisation and each rep's latent traits (one entry per rep)."""

    ids: list[str]
    first: list[str]
    last: list[str]
    email: list[str | None]
    team: IntArray
    hire: IntArray  # day numbers
    leave: IntArray  # _NEVER when still employed
    new_hire: BoolArray
    skill: FloatArray
    close: FloatArray  # sub-skills, roughly N(0, 1), correlated with skill
    prospect: FloatArray
    qualify: FloatArray
    win: FloatArray
    volume: FloatArray
    repeat: FloatArray
    lead_ratio: FloatArray
    qual_mult: FloatArray
    link_mult: FloatArray
    source_mix: FloatArray  # (reps, sources)
    strength: list[tuple[str, str]]
    weakness: list[tuple[str, str]]
    managers: list[tuple[str, str, str]]  # (id, first, last) per team


class Generator:
    """Holds the calendar, the rep model and the running state of one generation."""

    def __init__(self, *, seed: int, scale: float, end_month: str, months: int, n_reps: int) -> None:
        self.seed = seed
        self.scale = scale
        self.months = months
        end = np.datetime64(end_month, "M")
        self.start_m = end - (months - 1)
        self.first_month = str(self.start_m)
        self.start_day = int(self.start_m.astype("datetime64[D]").astype(np.int64))
        self.end_day = int((end + 1).astype("datetime64[D]").astype(np.int64)) - 1
        years = range(int(str(self.start_m)[:4]) - 1, int(end_month[:4]) + 2)
        self.holidays = np.array(
            [f"{y}-{md}" for y in years for md in ("01-01", "12-25", "12-26")], dtype="datetime64[D]"
        )
        self.reps = self._make_reps(n_reps)
        self.n = n_reps
        self.month_index = np.arange(-_WARMUP, months)
        self.lam = self._expected_deals(self.reps.volume)
        # exact row counts are drawn up front so that id widths are known before writing
        counts_rng = _rng(seed, 1)
        self.deal_counts = counts_rng.poisson(self.lam).astype(np.int64)
        self.lead_counts = counts_rng.poisson(self.lam * self.reps.lead_ratio[:, None]).astype(np.int64)
        n_deals = int(self.deal_counts.sum())
        self.width = {
            "deal": max(_ID_WIDTH["deal"], len(str(n_deals))),
            "lead": max(_ID_WIDTH["lead"], len(str(n_deals + int(self.lead_counts.sum())))),
            "account": max(_ID_WIDTH["account"], len(str(n_deals))),
        }
        # running state
        self.next_deal = 1
        self.next_lead = 1
        self.next_account = 1
        self.pool_rep = np.zeros(0, np.int64)  # customers (accounts with a won deal), sorted by rep
        self.pool_acct = np.zeros(0, np.int64)
        self.pool_seg = np.zeros(0, np.int64)
        self.pending: tuple[IntArray, IntArray, IntArray, IntArray] = (
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
        )  # won deals of new accounts not yet in the pool: rep, account, segment, close day
        self.held_leads: dict[str, Any] = {}

    # ----------------------------------------------------------------- calendar

    def month_bounds(self, mi: int) -> tuple[int, int]:
        """First and last day number of window month ``mi`` (0 = first month)."""
        m = self.start_m + mi
        first = int(m.astype("datetime64[D]").astype(np.int64))
        last = int((m + 1).astype("datetime64[D]").astype(np.int64)) - 1
        return first, last

    def working_days(self, mi: int) -> IntArray:
        first, last = self.month_bounds(mi)
        days = np.arange(first, last + 1, dtype=np.int64)
        mask = np.is_busday(days.astype("datetime64[D]"), holidays=self.holidays)
        return days[mask]

    def roll(self, days: IntArray, direction: Literal["forward", "backward"]) -> IntArray:
        rolled = np.busday_offset(days.astype("datetime64[D]"), 0, roll=direction, holidays=self.holidays)
        return np.asarray(rolled.astype(np.int64), dtype=np.int64)

    def active_span(self, wd: IntArray) -> tuple[IntArray, IntArray]:
        """Per rep, the slice ``[lo, hi)`` of the working days ``wd`` inside their tenure."""
        lo = np.searchsorted(wd, self.reps.hire, side="left").astype(np.int64)
        hi = np.searchsorted(wd, np.minimum(self.reps.leave, self.end_day), side="right").astype(np.int64)
        return lo, np.maximum(hi, lo)

    def pick_days(self, rng: np.random.Generator, wd: IntArray, rep: IntArray) -> IntArray:
        """A random working day inside each rep's tenure (the rep must have one this month)."""
        lo, hi = self.active_span(wd)
        span = hi - lo
        offset = np.floor(rng.random(rep.size) * span[rep]).astype(np.int64)
        return np.asarray(wd[lo[rep] + offset], dtype=np.int64)

    # ----------------------------------------------------------------- reps

    def _make_reps(self, n: int) -> _RepModel:
        rng = _rng(self.seed, 0)
        n_new = max(2, round(n * 12 / 44))  # about a quarter of the team hired in three years
        n_leave = 3 if n >= 40 else 2
        first_pool = rng.permutation(len(_FIRST_NAMES))
        last_pool = rng.permutation(len(_LAST_NAMES))
        if n + len(TEAMS) > min(len(_FIRST_NAMES), len(_LAST_NAMES)):
            # more people than names: pair names so that every full name stays unique
            pairs = rng.permutation(len(_FIRST_NAMES) * len(_LAST_NAMES))[: n + len(TEAMS)]
            first_idx, last_idx = pairs // len(_LAST_NAMES), pairs % len(_LAST_NAMES)
        else:
            first_idx, last_idx = first_pool[: n + len(TEAMS)], last_pool[: n + len(TEAMS)]
        firsts = [_FIRST_NAMES[i] for i in first_idx]
        lasts = [_LAST_NAMES[i] for i in last_idx]

        skill = rng.normal(0.0, 0.7, n)
        # roles: the last n_new reps (by id) are hired during the window
        new_hire = np.zeros(n, dtype=bool)
        new_hire[n - n_new :] = True
        tenured = np.flatnonzero(~new_hire)
        half = min(3, len(tenured) // 4)  # 3 clear strong and 3 clear weak performers (fewer in tiny teams)
        forced = rng.choice(tenured, size=2 * half, replace=False)
        skill[forced[:half]] = [2.0, 1.75, 1.5][:half]
        skill[forced[half:]] = [-2.0, -1.75, -1.5][:half]
        candidates = np.setdiff1d(tenured, forced)
        candidates = candidates[skill[candidates] < np.median(skill[candidates])]
        n_leave = min(n_leave, len(candidates))
        leavers = np.sort(rng.choice(candidates, size=n_leave, replace=False))

        hire = self.start_day - rng.integers(150, 3650, n)
        hi = self.months - 3 if self.months >= 20 else max(1, self.months // 2)
        lo = min(2, hi)
        hire_months = np.round(np.linspace(lo, hi, n_new)).astype(np.int64)
        for k, mi in enumerate(hire_months):
            first, last = self.month_bounds(int(mi))
            hire[n - n_new + k] = first + int(rng.integers(0, max(1, last - first - 3)))
        hire = self.roll(hire, "forward")
        order = np.lexsort((np.arange(n), hire))  # rep ids follow hire order
        order = np.concatenate([order[~new_hire[order]], order[new_hire[order]]])
        leave = np.full(n, _NEVER, dtype=np.int64)
        leave_lo = max(1, int(self.months * 0.5))
        for r in leavers:
            mi = int(rng.integers(leave_lo, max(leave_lo + 1, self.months - 1)))
            first, last = self.month_bounds(mi)
            leave[r] = first + int(rng.integers(5, last - first + 1))
        leave = np.where(leave == _NEVER, leave, self.roll(np.minimum(leave, self.end_day), "backward"))

        def sub_skill() -> FloatArray:
            return np.asarray(0.75 * skill + 0.6 * rng.normal(0.0, 1.0, n), dtype=np.float64)

        close, prospect, qualify = sub_skill(), sub_skill(), sub_skill()
        win = np.clip(0.265 + 0.06 * close, 0.17, 0.40)
        volume = np.exp(0.12 * prospect)
        repeat = np.clip(0.38 + 0.05 * skill, 0.25, 0.5)
        lead_ratio = rng.uniform(1.55, 2.1, n)
        qual_mult = np.exp(0.18 * qualify)
        link_mult = np.exp(0.12 * qualify)
        source_mix = rng.dirichlet(_SOURCE_MIX * 40, n)
        subs = np.stack([close, prospect, qualify], axis=1)
        strength = [_SKILL_TAGS[int(i)] for i in subs.argmax(axis=1)]
        weakness = [_SKILL_TAGS[int(i)] for i in subs.argmin(axis=1)]
        no_email = set(rng.choice(tenured, size=2, replace=False).tolist())

        o = order
        emails: list[str | None] = [None if int(i) in no_email else _email(firsts[i], lasts[i]) for i in o]
        team = np.asarray(rng.permutation(np.arange(n) % len(TEAMS))[o], dtype=np.int64)
        managers = [(f"M{k + 1:02d}", firsts[n + k], lasts[n + k]) for k in range(len(TEAMS))]
        return _RepModel(
            ids=[f"R{k + 1:03d}" for k in range(n)],
            first=[firsts[i] for i in o],
            last=[lasts[i] for i in o],
            email=emails,
            team=team,
            hire=hire[o],
            leave=leave[o],
            new_hire=new_hire[o],
            skill=skill[o],
            close=close[o],
            prospect=prospect[o],
            qualify=qualify[o],
            win=win[o],
            volume=volume[o],
            repeat=repeat[o],
            lead_ratio=lead_ratio[o],
            qual_mult=qual_mult[o],
            link_mult=link_mult[o],
            source_mix=source_mix[o],
            strength=[strength[i] for i in o],
            weakness=[weakness[i] for i in o],
            managers=managers,
        )

    def reps_table(self) -> dict[str, Any]:
        r = self.reps
        team = r.team
        mgr_id = [self.reps.managers[t][0] for t in team]
        mgr_email = [_email(*self.reps.managers[t][1:]) for t in team]
        team_names = [TEAMS[t] for t in team]
        return {
            "rep_id": pa.array(r.ids, pa.string()),
            "name": pa.array([f"{f} {la}" for f, la in zip(r.first, r.last, strict=True)], pa.string()),
            "email": pa.array(r.email, pa.string()),
            "team": pa.array(team_names, pa.string()),
            "region": pa.array(team_names, pa.string()),
            "manager_id": pa.array(mgr_id, pa.string()),
            "manager_email": pa.array(mgr_email, pa.string()),
            "hire_date": _dates(r.hire),
            "leave_date": _dates(np.where(r.leave == _NEVER, 0, r.leave), mask=r.leave == _NEVER),
            "locale": pa.nulls(len(r.ids), pa.string()),  # every demo rep reads the settings' locale
        }

    # ----------------------------------------------------------------- expected volumes

    def tenure_months(self, days: IntArray | FloatArray, rep: IntArray) -> FloatArray:
        return np.asarray((days - self.reps.hire[rep]) / 30.44, dtype=np.float64)

    def _monthly(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per rep and month (warm-up included): active share, tenure at mid-activity, leaving factor."""
        n, m = self.n, self.month_index.size
        active = np.zeros((n, m))
        tenure = np.zeros((n, m))
        leaving = np.ones((n, m))
        for j, mi in enumerate(self.month_index):
            wd = self.working_days(int(mi))
            lo, hi = self.active_span(wd)
            active[:, j] = (hi - lo) / wd.size
            mid = np.where(hi > lo, wd[np.minimum((lo + hi) // 2, wd.size - 1)], wd[0])
            tenure[:, j] = self.tenure_months(mid, np.arange(n))
            leaving[:, j] = np.where(self.reps.leave - mid < 60, 0.7, 1.0)
        return active, tenure, leaving

    def _expected_deals(self, volume: FloatArray) -> FloatArray:
        """Expected deals created per rep (rows) and month (columns, warm-up first)."""
        active, tenure, leaving = self._monthly()
        cal = (self.start_m + self.month_index).astype(np.int64) % 12
        years = self.month_index / 12.0
        base = _DEALS_PER_REP_MONTH * self.scale * _VOLUME_SEASON[cal] * (1 + _VOLUME_GROWTH) ** years
        lam = volume[:, None] * base[None, :] * active * leaving * _ramp(tenure, 0.35)
        return np.asarray(lam, dtype=np.float64)

    def segment_share(self, mi: int) -> FloatArray:
        share = _SEG_SHARE.copy()
        launch = self.months // 2
        if mi >= launch:
            share[_PUBLIC] = _PUBLIC_SHARE * min(1.0, (mi - launch + 1) / 6)
        return np.asarray(share / share.sum(), dtype=np.float64)

    def product_mix(self, mi: int) -> FloatArray:
        mix = _PRODUCT_MIX.copy()
        if mi < self.months // 3:
            mix[:, _CLOUD] = 0.0
        return np.asarray(mix / mix.sum(axis=1, keepdims=True), dtype=np.float64)

    # ----------------------------------------------------------------- deals

    def deals_chunk(self, mi: int) -> dict[str, Any]:
        """Generate the deals created in month ``mi`` (negative: warm-up) as numpy arrays."""
        rng = _rng(self.seed, 2, mi + 1000)
        r = self.reps
        j = mi + _WARMUP
        counts = self.deal_counts[:, j]
        first, _ = self.month_bounds(mi)
        self._absorb_customers(first)
        wd = self.working_days(mi)
        rep = np.repeat(np.arange(self.n, dtype=np.int64), counts)
        created = self.pick_days(rng, wd, rep)
        order = np.lexsort((rep, created))
        rep, created = rep[order], created[order]
        size = rep.size

        # account: an existing customer of the rep (repeat business) or a new account
        starts = np.searchsorted(self.pool_rep, np.arange(self.n), side="left")
        ends = np.searchsorted(self.pool_rep, np.arange(self.n), side="right")
        book = (ends - starts)[rep]
        repeat = (rng.random(size) < r.repeat[rep]) & (book > 0)
        pick = starts[rep] + np.floor(rng.random(size) * book).astype(np.int64)
        pick = np.where(repeat, pick, 0)
        n_new = int((~repeat).sum())
        account = np.empty(size, np.int64)
        segment = np.empty(size, np.int64)
        if self.pool_acct.size:
            account[repeat] = self.pool_acct[pick[repeat]]
            segment[repeat] = self.pool_seg[pick[repeat]]
        account[~repeat] = self.next_account + np.arange(n_new)
        self.next_account += n_new
        segment[~repeat] = _choose(rng, self.segment_share(mi), n_new)
        product = _choose_rows(rng, self.product_mix(mi)[segment])

        years = mi / 12.0
        amount = (
            _PRODUCT_MEDIAN[product]
            * _SEG_AMOUNT[segment]
            * (1 + _PRICE_GROWTH) ** years
            * np.where(repeat, _REPEAT_AMOUNT, 1.0)
            * np.exp(_PRODUCT_SIGMA[product] * rng.normal(0.0, 1.0, size))
        )
        amount = np.maximum(np.round(amount, -1), 10.0)

        cycle = _CYCLE_MEDIAN * _SEG_CYCLE[segment] * np.exp(_CYCLE_SIGMA * rng.normal(0.0, 1.0, size))
        cycle_days = np.clip(np.round(cycle), _CYCLE_MIN, _CYCLE_MAX).astype(np.int64)
        close = self.roll(created + cycle_days, "forward")
        tenure = self.tenure_months(created, rep)
        p_win = (
            r.win[rep]
            * _ramp(tenure, 0.6)
            * _WIN_SEASON[_calendar_month(close) - 1]
            * _SEG_WIN[segment]
            * np.where(repeat, _REPEAT_WIN, _NEW_WIN)
        )
        won = rng.random(size) < np.clip(p_win, 0.01, 0.9)
        lost_days = np.maximum(3, np.round(cycle_days * rng.uniform(0.3, 1.2, size))).astype(np.int64)
        close = np.where(won, close, self.roll(created + lost_days, "forward"))
        close = self._close_push(rng, created, close, won)

        stage = np.where(won, STAGES.index("won"), STAGES.index("lost")).astype(np.int64)
        leaves = r.leave[rep]
        quit_ = close > leaves  # the rep left first: the deal is lost on the last day
        stage[quit_] = STAGES.index("lost")
        close = np.where(quit_, leaves, close)
        is_open = close > self.end_day
        stage[is_open] = STAGES.index("open")
        won = stage == STAGES.index("won")

        keep = (close >= self.start_day) | is_open if mi < 0 else np.ones(size, dtype=bool)
        cost_share = np.clip(_PRODUCT_COST[product] + rng.normal(0.0, 0.04, size), 0.40, 0.75)
        units = 1.0 + rng.poisson(_PRODUCT_UNITS[product] * _SEG_UNITS[segment]).astype(np.float64)
        chunk = {
            "rep": rep,
            "account": account,
            "product": product,
            "segment": segment,
            "created": created,
            "close": close,
            "open": is_open,
            "stage": stage,
            "won": won,
            "repeat": repeat,
            "amount": amount,
            "cost": np.round(amount * cost_share, 2),
            "units": units,
        }
        chunk = {k: v[keep] for k, v in chunk.items()}
        kept = int(keep.sum())
        chunk["number"] = self.next_deal + np.arange(kept, dtype=np.int64)
        self.next_deal += kept
        new_won = chunk["won"] & ~chunk["repeat"]
        p_rep, p_acct, p_seg, p_close = self.pending
        self.pending = (
            np.concatenate([p_rep, chunk["rep"][new_won]]),
            np.concatenate([p_acct, chunk["account"][new_won]]),
            np.concatenate([p_seg, chunk["segment"][new_won]]),
            np.concatenate([p_close, chunk["close"][new_won]]),
        )
        return chunk

    def _close_push(self, rng: np.random.Generator, created: IntArray, close: IntArray, won: BoolArray) -> IntArray:
        """Pull some won deals forward to close before December or quarter end."""
        dt = close.astype("datetime64[D]")
        month = _calendar_month(close)
        day = (dt - dt.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
        month_start = dt.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        u = rng.random(close.size)
        back = rng.integers(1, 14, close.size)
        december = won & (month == 1) & (day <= 20) & (u < 0.35)
        quarter = won & np.isin(month, (4, 7, 10)) & (day <= 7) & (u < 0.25)
        pushed = self.roll(month_start - np.where(december, back, back % 5 + 1), "backward")
        move = (december | quarter) & (pushed - created >= _CYCLE_MIN)
        return np.asarray(np.where(move, pushed, close), dtype=np.int64)

    def _absorb_customers(self, before_day: int) -> None:
        """Add accounts whose first won deal closed before ``before_day`` to the reps' books."""
        rep, acct, seg, close = self.pending
        done = close < before_day
        if not done.any():
            return
        all_rep = np.concatenate([self.pool_rep, rep[done]])
        order = np.argsort(all_rep, kind="stable")
        self.pool_rep = all_rep[order]
        self.pool_acct = np.concatenate([self.pool_acct, acct[done]])[order]
        self.pool_seg = np.concatenate([self.pool_seg, seg[done]])[order]
        self.pending = (rep[~done], acct[~done], seg[~done], close[~done])

    def deals_table(self, chunk: Mapping[str, Any]) -> dict[str, Any]:
        open_ = chunk["open"]
        return {
            "deal_id": _ids("D", chunk["number"], self.width["deal"]),
            "rep_id": _labels(self.reps.ids, chunk["rep"]),
            "account_id": _ids("A", chunk["account"], self.width["account"]),
            "product": _labels(PRODUCTS, chunk["product"]),
            "segment": _labels(SEGMENTS, chunk["segment"]),
            "created_date": _dates(chunk["created"]),
            "close_date": _dates(np.where(open_, 0, chunk["close"]), mask=open_),
            "stage": _labels(STAGES, chunk["stage"]),
            "amount": pa.array(chunk["amount"], pa.float64()),
            "cost": pa.array(chunk["cost"], pa.float64()),
            "units": pa.array(chunk["units"], pa.float64()),
        }

    # ----------------------------------------------------------------- leads

    def leads_chunk(self, mi: int, deals: Mapping[str, Any]) -> dict[str, Any]:
        """Leads of month ``mi``: those behind this month's deals and those that went nowhere."""
        rng = _rng(self.seed, 3, mi + 1000)
        r = self.reps
        # leads that became one of this month's deals, a few days before it
        d_rep = deals["rep"]
        p_link = np.where(deals["won"], _LINK_WON, _LINK_OTHER) * r.link_mult[d_rep]
        linked = rng.random(d_rep.size) < np.clip(p_link, 0.0, 0.97)
        lag = np.minimum(rng.geometric(0.15, d_rep.size) - 1, 25)
        day = self.roll(deals["created"] - lag, "backward")
        day = np.where(day < r.hire[d_rep], deals["created"], day)
        linked &= day >= self.start_day
        conv_rep, conv_day = d_rep[linked], day[linked]
        conv_source = _choose(rng, _SOURCE_MIX_CONVERTED, conv_rep.size)
        conv_deal = deals["number"][linked]
        # leads that did not become a deal
        wd = self.working_days(mi)
        rep = np.repeat(np.arange(self.n, dtype=np.int64), self.lead_counts[:, mi + _WARMUP])
        lead_day = self.pick_days(rng, wd, rep)
        source = _choose_rows(rng, r.source_mix[rep])
        qualified = rng.random(rep.size) < np.clip(_SOURCE_QUALIFIED[source] * r.qual_mult[rep], 0.0, 0.95)
        return {
            "rep": np.concatenate([conv_rep, rep]),
            "day": np.concatenate([conv_day, lead_day]),
            "source": np.concatenate([conv_source, source]),
            "qualified": np.concatenate([np.ones(conv_rep.size, dtype=bool), qualified]),
            "deal": np.concatenate([conv_deal, np.zeros(rep.size, np.int64)]),
            "converted": np.concatenate([np.ones(conv_rep.size, dtype=bool), np.zeros(rep.size, dtype=bool)]),
        }

    def release_leads(self, new: Mapping[str, Any] | None, before_day: int | None) -> dict[str, Any] | None:
        """Hold leads back until no later month can add earlier ones; return those ready, sorted."""
        parts = [p for p in (self.held_leads, new) if p]
        if not parts:
            return None
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        ready = np.ones(merged["day"].size, bool) if before_day is None else merged["day"] < before_day
        self.held_leads = {k: v[~ready] for k, v in merged.items()}
        out = {k: v[ready] for k, v in merged.items()}
        order = np.lexsort((out["rep"], out["day"]))
        out = {k: v[order] for k, v in out.items()}
        out["number"] = self.next_lead + np.arange(out["day"].size, dtype=np.int64)
        self.next_lead += out["day"].size
        return out

    def leads_table(self, leads: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "lead_id": _ids("L", leads["number"], self.width["lead"]),
            "rep_id": _labels(self.reps.ids, leads["rep"]),
            "created_date": _dates(leads["day"]),
            "source": _labels(_LEAD_SOURCES, leads["source"]),
            "qualified": pa.array(leads["qualified"], pa.bool_()),
            "converted_deal_id": _ids("D", leads["deal"], self.width["deal"], mask=~leads["converted"]),
        }

    # ----------------------------------------------------------------- activities

    def activities_table(self, mi: int) -> dict[str, Any]:
        """Calls, emails, meetings and demos per rep and working day of month ``mi``."""
        rng = _rng(self.seed, 4, mi + 1000)
        r = self.reps
        wd = self.working_days(mi)
        lo, hi = self.active_span(wd)
        pos = np.arange(wd.size)
        active = (pos[None, :] >= lo[:, None]) & (pos[None, :] < hi[:, None])
        cal = int(_calendar_month(wd[:1])[0]) - 1
        active &= rng.random(active.shape) >= _VACATION[cal]
        tenure = (wd[None, :] - r.hire[:, None]) / 30.44
        ramp = 0.6 + 0.4 * np.clip(tenure / 3.0, 0.0, 1.0)
        rate = _ACTIVITY_RATE[None, :] * np.exp(_ACTIVITY_SKILL[None, :] * r.prospect[:, None])
        lam = rate[:, None, :] * (ramp * active * _ACTIVITY_SEASON[cal])[:, :, None]  # rep, day, type
        counts = rng.poisson(lam.transpose(1, 0, 2)).ravel()  # day, rep, type
        day_idx, rep_idx, type_idx = np.unravel_index(np.arange(counts.size), (wd.size, self.n, 4))
        rep = np.repeat(rep_idx.astype(np.int64), counts)
        return {
            "rep_id": _labels(r.ids, rep),
            "date": _dates(np.repeat(wd[day_idx], counts)),
            "type": _labels(ACTIVITY_TYPES, np.repeat(type_idx.astype(np.int64), counts)),
        }

    # ----------------------------------------------------------------- targets

    def targets_table(self) -> dict[str, Any]:
        """Monthly revenue, deals-won and qualified-lead quotas per rep, ramped for new hires."""
        rng = _rng(self.seed, 5)
        r = self.reps
        shrink = _TARGET_SKILL_SHRINK
        lam = self._expected_deals(np.exp(0.12 * shrink * r.prospect))
        _, tenure, _ = self._monthly()
        win = r.win.mean() + shrink * (r.win - r.win.mean())
        p_won = win[:, None] * _ramp(tenure, 0.6) * _TARGET_WIN_MIX
        won = lam * p_won
        mean_amount = np.array([self._mean_amount(int(mi)) for mi in self.month_index])
        value = won * mean_amount[None, :]
        cal = (self.start_m + self.month_index).astype(np.int64) % 12
        season = _WIN_SEASON[cal] / _WIN_SEASON.mean()
        rev = _lagged(value) * season[None, :]
        wins = _lagged(won) * season[None, :]
        q_share = _SOURCE_QUALIFIED @ _SOURCE_MIX
        conv = (_LINK_WON * r.win + _LINK_OTHER * (1 - r.win)) * r.link_mult
        qual = lam * (conv + r.lead_ratio * q_share * r.qual_mult)[:, None]

        active, _, _ = self._monthly()
        w = slice(_WARMUP, None)
        rev, wins, qual, active = rev[:, w], wins[:, w], qual[:, w], active[:, w]
        rows = np.argwhere((active > 0).T)  # (month, rep) pairs, month-major
        mi, rep = rows[:, 0], rows[:, 1]
        k = rows.shape[0]
        uplift = rng.uniform(1.05, 1.15, k)
        values = np.stack(
            [
                np.maximum(np.round(rev[rep, mi] * uplift, -2), 1000.0),
                np.maximum(np.round(wins[rep, mi] * uplift), 1.0),
                np.maximum(np.round(qual[rep, mi] * rng.uniform(1.0, 1.1, k)), 1.0),
            ],
            axis=1,
        ).ravel()
        periods = [str(self.start_m + m) for m in range(self.months)]
        rep3 = np.repeat(rep, 3)
        return {
            "rep_id": _labels(r.ids, rep3),
            "team": pa.nulls(3 * k, pa.string()),
            "period": _labels(periods, np.repeat(mi, 3)),
            "metric": _labels(_TARGET_METRICS, np.tile(np.arange(3), k)),
            "target": pa.array(values, pa.float64()),
        }

    def _mean_amount(self, mi: int) -> float:
        share = self.segment_share(mi) * _SEG_WIN  # won deals lean towards segments that win more
        share = share / share.sum()
        mix = self.product_mix(mi)
        lognormal_mean = _PRODUCT_MEDIAN * np.exp(_PRODUCT_SIGMA**2 / 2)
        per_segment = (mix * lognormal_mean[None, :]).sum(axis=1) * _SEG_AMOUNT
        repeat_mix = 0.45 * _REPEAT_AMOUNT + 0.55  # about 45% of won deals are repeat business
        return float((share * per_segment).sum() * repeat_mix * (1 + _PRICE_GROWTH) ** (mi / 12.0))

    # ----------------------------------------------------------------- feedback

    def feedback_table(self) -> dict[str, Any]:
        """A few scored, tagged comments per rep and quarter from clients, managers and peers."""
        rng = _rng(self.seed, 6)
        r = self.reps
        rep_l: list[int] = []
        day_l: list[int] = []
        src_l: list[int] = []
        quarter_months: dict[int, list[int]] = {}
        for mi in range(self.months):
            q = int((self.start_m + mi).astype(np.int64)) // 3
            quarter_months.setdefault(q, []).append(mi)
        for months in quarter_months.values():
            days = np.concatenate([self.working_days(mi) for mi in months])
            last_month_days = self.working_days(months[-1])
            for who in range(self.n):
                span = days[(days >= r.hire[who]) & (days <= r.leave[who])]
                if span.size == 0:
                    continue
                n_client = int(rng.poisson(1.2))
                n_peer = int(rng.random() < 0.6)
                late = last_month_days[(last_month_days >= r.hire[who]) & (last_month_days <= r.leave[who])]
                picks = [(FEEDBACK_SOURCES.index("manager"), late if late.size else span)]
                picks += [(FEEDBACK_SOURCES.index("client"), span)] * n_client
                picks += [(FEEDBACK_SOURCES.index("peer"), span)] * n_peer
                for source, pool in picks:
                    rep_l.append(who)
                    day_l.append(int(pool[rng.integers(0, pool.size)]))
                    src_l.append(source)
        rep = np.array(rep_l, dtype=np.int64)
        day = np.array(day_l, dtype=np.int64)
        src = np.array(src_l, dtype=np.int64)
        order = np.lexsort((src, rep, day))
        rep, day, src = rep[order], day[order], src[order]
        tenure = self.tenure_months(day, rep)
        offset = np.array([0.1, -0.1, 0.05])[src]
        mean = 3.5 + 0.55 * r.skill[rep] + offset - np.where(tenure < 4, 0.5, 0.0)
        score = np.clip(np.round(mean + rng.normal(0.0, 0.6, rep.size)), 1, 5)
        tags: list[str] = []
        texts: list[str] = []
        for i in range(rep.size):
            tag_list = self._feedback_tags(rng, int(rep[i]), float(score[i]), float(tenure[i]))
            tags.append(";".join(tag_list))
            mood = "good" if score[i] >= 4 else ("fair" if score[i] == 3 else "poor")
            options = _TEXTS[(FEEDBACK_SOURCES[int(src[i])], mood)]
            phrase = _TAG_PHRASE[tag_list[0]]
            text = options[int(rng.integers(0, len(options)))]
            texts.append(text.format(p=phrase, P=phrase[:1].upper() + phrase[1:]))
        return {
            "rep_id": _labels(r.ids, rep),
            "date": _dates(day),
            "source": _labels(FEEDBACK_SOURCES, src),
            "score": pa.array(score.astype(np.float64), pa.float64()),
            "tags": pa.array(tags, pa.string()),
            "text": pa.array(texts, pa.string()),
        }

    def _feedback_tags(self, rng: np.random.Generator, rep: int, score: float, tenure: float) -> list[str]:
        if score <= 3:
            if tenure < 4 and rng.random() < 0.5:
                first = "product-knowledge"
            elif rng.random() < 0.75:
                first = self.reps.weakness[rep][int(rng.integers(0, 2))]
            else:
                first = _TAGS[int(rng.integers(0, len(_TAGS)))]
        elif rng.random() < 0.6:
            first = self.reps.strength[rep][int(rng.integers(0, 2))]
        else:
            first = _TAGS[int(rng.integers(0, len(_TAGS)))]
        tags = [first]
        if rng.random() < 0.4:
            second = _TAGS[int(rng.integers(0, len(_TAGS)))]
            if second != first:
                tags.append(second)
        return tags

    # ----------------------------------------------------------------- driver

    def run(self, folder: Path, fmt: Format, progress: Callable[[str], None]) -> dict[str, int]:
        sinks = {name: Sink(folder / f"{name}.{fmt}", name, fmt) for name in DEMO_TABLES}
        try:
            sinks["reps"].write(self.reps_table())
            total = self.month_index.size
            for step, mi in enumerate(self.month_index.tolist(), start=1):
                deals = self.deals_chunk(mi)
                n_deals = sinks["deals"].write(self.deals_table(deals))
                label = str(self.start_m + mi)
                if mi < 0:
                    progress(f"{label} (pipeline carried in): {n_deals:,} deals ({step}/{total})")
                    continue
                first, _ = self.month_bounds(mi)
                ready = self.release_leads(self.leads_chunk(mi, deals), first)
                n_leads = sinks["leads"].write(self.leads_table(ready)) if ready else 0
                n_acts = sinks["activities"].write(self.activities_table(mi))
                counts = f"{n_deals:,} deals, {n_leads:,} leads, {n_acts:,} activities"
                progress(f"{label}: {counts} ({step}/{total})")
            rest = self.release_leads(None, None)
            if rest:
                sinks["leads"].write(self.leads_table(rest))
            sinks["targets"].write(self.targets_table())
            sinks["feedback"].write(self.feedback_table())
            progress("targets and feedback written")
        finally:
            for sink in sinks.values():
                sink.close()
        return {name: sink.rows for name, sink in sinks.items()}


def _email(first: str, last: str) -> str:
    return f"{first.lower()}.{last.lower()}@example.com"


def _choose(rng: np.random.Generator, p: FloatArray, size: int) -> IntArray:
    """Draw ``size`` category indices with probabilities ``p``."""
    cum = np.cumsum(p)
    idx = np.searchsorted(cum / cum[-1], rng.random(size), side="right")
    return np.asarray(np.minimum(idx, p.size - 1), dtype=np.int64)


def _choose_rows(rng: np.random.Generator, p: FloatArray) -> IntArray:
    """Draw one category index per row of the probability matrix ``p``."""
    cum = np.cumsum(p, axis=1)
    u = rng.random((p.shape[0], 1)) * cum[:, -1:]
    idx = (u >= cum).sum(axis=1)
    return np.asarray(np.minimum(idx, p.shape[1] - 1), dtype=np.int64)


def _lagged(values: FloatArray) -> FloatArray:
    """Spread monthly created values over the months in which they close."""
    out = np.zeros_like(values)
    for lag, weight in enumerate(_CLOSE_LAG):
        out[:, lag:] += weight * values[:, : values.shape[1] - lag]
    return out
