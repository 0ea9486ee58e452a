"""``salesreports init DIR``: a company's own settings folder, optionally with a mapping guessed from its exports.

The folder holds ``config.yaml`` (company, currency, source, output folders), ``sources/<name>.yaml``,
``goals.yaml`` (no goals yet, with commented examples: the demo's goals are never copied) and
``coaching.yaml`` (the default coaching rules). Nothing is overwritten. With export files, the source file is
guessed by :func:`salesreports.data.infer.infer_source`, then loaded and validated, and :func:`describe`
says what the reports will show and what to fix next.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from salesreports.data.loading import Dataset
from salesreports.errors import ConfigError, Issue

__all__ = ["Scaffold", "describe", "scaffold"]

_GOALS = """\
# SMART goals of {company}: none yet. Add them when the data validates; `salesreports goals check` checks them.
# Owners are rep ids of your data (or a team name, or company), metrics come from `salesreports kpis`.
#
# goals:
#   - id: q1-revenue
#     owner: company                 # a rep id, a team name or company
#     metric: revenue
#     target: 500000                 # or 25%, {{change: +20%}}, {{value: 25%, from: 15%}}
#     start: 2026-01
#     deadline: 2026-Q1
#     objective: Fund the second sales team.
#   - id: conversion-h2
#     owner: company
#     metric: win_rate
#     per: quarter
#     target: {{points: +5%}}
#     start: 2026-07
#     deadline: 2026-12
#     objective: Win more of the deals we already work on.
goals: []
"""

_SOURCE = """\
# The CRM data of {company}: where each table lives and how its columns map (docs/mapping.md lists every key).
# `salesreports init --from-export EXPORT_FOLDER` writes this file for you from the CRM's export files.
name: {name}
base_dir: .                       # file paths below are relative to this folder
tables:
  deals:
    file: deals.csv               # the CRM's deals / opportunities export (CSV or .xlsx)
    columns:                      # canonical name: the export's column
      deal_id: Id
      rep_id: Owner
      account_id: Account
      created_date: Created Date
      close_date: Close Date
      stage: Stage
      amount: Amount
    values:
      stage: {{Closed Won: won, Closed Lost: lost}}   # anything else must map to open, won or lost
"""


@dataclass
class Scaffold:
    """What ``init`` wrote.

    Attributes
    ----------
    folder : the settings folder
    files : the files written, in order
    config : the settings file
    source : the source file
    notes : what the mapping guess could not recognise
    mapped : per canonical table, what the guessed mapping gives each column, in words
    todo : what the analyst must add by hand to the source file, naming the table and column
    """

    folder: Path
    files: list[Path] = field(default_factory=list)
    config: Path = Path()
    source: Path = Path()
    notes: list[str] = field(default_factory=list)
    mapped: dict[str, list[str]] = field(default_factory=dict)
    todo: list[str] = field(default_factory=list)


def _config_text(company: str, currency: str, locale: str, source: str, templates: Path, folder: Path) -> str:
    import json

    rel = Path(os.path.relpath(templates.resolve(), folder.resolve()))  # relative to the settings folder
    return (
        f"# Settings of {company}. Relative paths are relative to this folder.\n"
        "# Merge order: these values < SALESREPORTS_<SECTION>__<KEY> environment variables < command-line flags.\n"
        f"company: {json.dumps(company, ensure_ascii=False)}\n"
        f"{f'locale: {locale}':<37}# how numbers, amounts and dates are written (CLDR)\n"
        f"{f'currency: {currency}':<37}# ISO 4217 code of amounts\n"
        f"source: sources/{source}.yaml      # where the CRM data lives and how its columns map\n"
        "output_dir: build/reports           # build/reports/<period>/index.html and one folder per report\n"
        "outbox_dir: build/outbox            # dry-run emails (.eml)\n"
        "templates:\n"
        f"  rep: {json.dumps(str(rel / 'rep_scorecard.ipynb'))}\n"
        f"  team: {json.dumps(str(rel / 'team_summary.ipynb'))}\n"
        "goals: goals.yaml                   # no goals yet: add your own\n"
        "coaching: coaching.yaml             # coaching rules and incentive tiers (the defaults)\n"
    )


def _currency_and_locale(currency: str, locale: str) -> tuple[str, str]:
    """The ISO code (an old symbol's code) and the CLDR locale id; ConfigError naming the option if unknown."""
    from salesreports.params import LEGACY_CURRENCY_SYMBOLS, check_currency, check_locale

    try:
        code = check_currency(LEGACY_CURRENCY_SYMBOLS.get(currency.strip(), currency))
    except ValueError as exc:
        raise ConfigError(f"--currency: {exc}", key="currency") from None
    try:
        return code, check_locale(locale)
    except ValueError as exc:
        raise ConfigError(f"--locale: {exc}", key="locale") from None


def scaffold(
    folder: Path,
    *,
    company: str = "Your company",
    currency: str = "USD",
    locale: str = "en_US",
    source: str = "crm",
    exports: Sequence[Path] = (),
    templates: Path | None = None,
) -> Scaffold:
    """Write a company's settings folder.

    Parameters
    ----------
    folder : where to write (created; it must not hold any of the files yet)
    company : shown on every report
    currency, locale : an ISO 4217 code (an old symbol such as ``$`` is written as its code) and a CLDR locale:
        how amounts, numbers and dates are written
    source : the source's name (``sources/<source>.yaml``)
    exports : CSV or Excel export files (or folders): the source mapping is guessed from them
    templates : the folder of the notebook templates (default: ``reports/`` of the current directory)

    Returns
    -------
    Scaffold

    Raises
    ------
    ConfigError
        A file to write exists already (nothing is overwritten), the source name is not a plain name, or the
        currency or locale is unknown (with close matches).
    DataLoadError
        An export cannot be read or holds no deals.
    """
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]+", source):
        msg = f"the source name '{source}' must be letters, digits, '-' or '_'. Fix: pass e.g. --source-name crm."
        raise ConfigError(msg, key="source")
    targets = {
        "config": folder / "config.yaml",
        "source": folder / "sources" / f"{source}.yaml",
        "goals": folder / "goals.yaml",
        "coaching": folder / "coaching.yaml",
    }
    currency, locale = _currency_and_locale(currency, locale)
    existing = [p for p in targets.values() if p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    if existing:
        msg = (
            f"{existing[0]}: exists already, and init never overwrites a file"
            f"{f' ({len(existing)} of its files exist)' if len(existing) > 1 else ''}. "
            "Fix: choose a new folder, or delete the files you want written again."
        )
        raise ConfigError(msg, file=str(existing[0]))
    out = Scaffold(folder=folder, config=targets["config"], source=targets["source"])
    if exports:
        from salesreports.data.infer import infer_source

        guess = infer_source(list(exports), base_dir=targets["source"].parent, name=source)
        source_text = guess.to_yaml()
        out.notes, out.mapped, out.todo = list(guess.notes), guess.mapped(), list(guess.todo)
    else:
        source_text = _SOURCE.format(company=company, name=source)
    coaching = resources.files("salesreports.metrics").joinpath("coaching_defaults.yaml").read_text(encoding="utf-8")
    texts = {
        "config": _config_text(company, currency, locale, source, templates or Path.cwd() / "reports", folder),
        "source": source_text,
        "goals": _GOALS.format(company=company),
        "coaching": coaching,
    }
    for key, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as fh:  # "x": never overwrite, even in a race
            fh.write(texts[key])
        out.files.append(path)
    return out


def describe(data: Dataset, issues: Sequence[Issue]) -> tuple[list[str], list[str], list[str]]:
    """What the reports of a data set will show (the pages' own rule: :mod:`salesreports.metrics.capabilities`).

    Returns
    -------
    (shown, missing, next_fixes)
        KPI labels the data supports; "KPI (why not)" for the others; the first errors to fix (or the first
        warnings when there is no error), as text.
    """
    from salesreports.metrics.capabilities import capabilities
    from salesreports.metrics.kpis import registry

    caps = capabilities(data)
    shown = [k.label for k in registry() if caps.supports(k.name)]
    missing = [f"{k.label} ({caps.unsupported[k.name]})" for k in registry() if not caps.supports(k.name)]
    errors = [str(i) for i in issues if i.severity == "error"]
    fixes = errors[:3] or [str(i) for i in issues if i.severity == "warning"][:3]
    return shown, missing, fixes
