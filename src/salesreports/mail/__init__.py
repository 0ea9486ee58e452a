"""The delivery layer: scorecards (and team and company summaries) by email, exactly once.

``recipients`` decides which reports go out and to whom (addresses checked against header injection);
``message`` builds one mail-safe message (inlined CSS, PNG charts by Content-ID, the PDF attached);
``send`` runs the dry run or the SMTP send loop; ``delivery`` talks SMTP with retries and backoff;
``ledger`` records every step so a crash never loses or duplicates a message. May import ``report``'s
contexts, views and the vl-convert helpers, ``run.manifest`` and the top-level modules; never ``data``.
"""

from __future__ import annotations

from salesreports.lazy import exports

_MODULES = {
    "salesreports.mail.recipients": (
        "AUDIENCES",
        "Candidate",
        "Recipient",
        "Selection",
        "check_address",
        "check_audience",
        "default_period",
        "select_reports",
    ),
    "salesreports.mail.message": (
        "CHART_MIME",
        "HTML_BUDGET",
        "MAX_GOALS",
        "BuiltMail",
        "build_message",
        "chart_png",
        "message_id",
        "notebook_charts",
    ),
    "salesreports.mail.send": ("MailRow", "SendSummary", "ledger_rows", "send_reports"),
}
__getattr__, __dir__, __all__ = exports(
    __name__, {name: module for module, names in _MODULES.items() for name in names}
)
