"""The run manifest: ``build/reports/<period>/manifest.json``.

One entry per report with its parameters (secrets never included), the template's
hash, the data fingerprint, the inputs hash that decides whether a re-run can skip
it, status (ok / failed / skipped), error, timings and output paths (relative to
the period folder). The index page and the mailer read it; it is written
atomically after every run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salesreports.errors import ConfigError
from salesreports.paths import atomic_write_text

__all__ = ["Manifest", "load_manifest"]

FILE = "manifest.json"


@dataclass
class Manifest:
    """All reports of one period."""

    period: str
    period_title: str = ""
    company: str = ""
    generated_at: str = ""
    data_fingerprint: str = ""
    source: str = ""
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def entry(self, key: str) -> dict[str, Any] | None:
        """The entry of a report key (``rep/R001``, ``team/North``), if any."""
        return self.reports.get(key)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (reports as a list, sorted: teams first, then reps by id)."""
        ordered = sorted(self.reports.values(), key=lambda r: (r.get("kind") != "team", str(r.get("id"))))
        return {
            "period": self.period,
            "period_title": self.period_title,
            "company": self.company,
            "generated_at": self.generated_at,
            "data_fingerprint": self.data_fingerprint,
            "source": self.source,
            "runs": self.runs[-20:],
            "reports": ordered,
        }

    def save(self, folder: Path) -> Path:
        """Write ``manifest.json`` atomically into ``folder``."""
        self.generated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return atomic_write_text(folder / FILE, json.dumps(self.to_dict(), indent=1, default=str, allow_nan=False))

    def update(self, entries: Iterable[dict[str, Any]]) -> None:
        """Add or replace entries by their key."""
        for e in entries:
            self.reports[str(e["key"])] = e


def load_manifest(folder: Path, period: str) -> Manifest:
    """Read a period's manifest, or an empty one when there is none yet.

    Raises
    ------
    ConfigError
        The file exists but is not a manifest (the message says to delete or restore it).
    """
    path = folder / FILE
    if not path.exists():
        return Manifest(period)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        reports = {str(r["key"]): r for r in raw.get("reports", [])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = f"{path}: not a valid run manifest ({exc}). Fix: delete it (the next run rebuilds every report)."
        raise ConfigError(msg, file=str(path)) from None
    return Manifest(
        period=str(raw.get("period", period)),
        period_title=str(raw.get("period_title", "")),
        company=str(raw.get("company", "")),
        generated_at=str(raw.get("generated_at", "")),
        data_fingerprint=str(raw.get("data_fingerprint", "")),
        source=str(raw.get("source", "")),
        reports=reports,
        runs=list(raw.get("runs", [])),
    )
