"""Dispatch ``python -m salesreports.bench <name>`` to the benchmark modules."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "kpis": "salesreports.bench.kpis",
    "reports": "salesreports.bench.reports",
    "preview": "salesreports.bench.preview",
}


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark by name; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in BENCHES:
        print(f"usage: python -m salesreports.bench {{{'|'.join(BENCHES)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHES[args[0]])
    return int(module.main(args[1:]))


if __name__ == "__main__":
    sys.exit(main())
