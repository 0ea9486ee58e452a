"""Contexts of previews, kept while nothing they are built from changes.

A preview (``salesreports preview``, ``salesreports check``, a template run in JupyterLab) needs one report's
context, and building it loads and validates the whole data set, computes every KPI and the team benchmarks:
seconds on a real export, for a context that stays the same as long as its inputs do. So each context built
for a preview is kept under ``build/preview/.contexts/<key>/`` and reused while the key is unchanged. The key
hashes the report (kind, id, period as asked), the salesreports version, and the path, size and modification
time (no file is read) of: the settings file, the goals and coaching files, the source file and every file in
its data folder, the KPI declarations, and the package's own code and templates. A source that is a database
(``kind: sql``) is never cached: its changes cannot be seen from files. At most :data:`KEEP` contexts are kept.

The batch never uses this cache: ``salesreports run`` builds every context from the data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from salesreports import __version__
from salesreports.errors import SalesReportsError
from salesreports.params import Config
from salesreports.paths import atomic_write_bytes, atomic_write_text

__all__ = ["KEEP", "cache_folder", "context_key", "copy_kept", "keep", "kept_notes", "lookup"]

KEEP = 16
_PACKAGE = Path(__file__).resolve().parents[1]


def cache_folder(config: Config) -> Path:
    """``.contexts/`` in the preview folder (``build/preview/.contexts``)."""
    return config.output_path.parent / "preview" / ".contexts"


def _stamp(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return f"{path}|-"
    return f"{path}|{info.st_size}|{info.st_mtime_ns}"


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


def _package_files() -> Iterable[Path]:
    for pattern in ("*.py", "*.yaml", "*.j2", "*.css", "*.js"):
        yield from sorted(_PACKAGE.rglob(pattern))


def context_key(config: Config, kind: str, ident: str, period: str | None, use: str = "preview") -> str | None:
    """The cache key of a report's context for ``use`` (``preview`` or ``lab``: they keep different notes), or
    ``None`` when its inputs cannot be seen from files."""
    from salesreports.data.mapping import load_source
    from salesreports.metrics.kpis import kpi_file

    try:
        spec = load_source(config.source_path)
    except SalesReportsError:
        return None  # the build reports the problem
    if spec.kind == "sql":
        return None
    inputs: list[Path | None] = [Path(config.path) if config.path else None, config.source_path, kpi_file()]
    inputs += [config.resolve(name) for name in (config.goals, config.coaching) if name]
    inputs += _files(spec.root())
    if spec.kind == "duckdb" and spec.database:
        inputs.append(spec.root() / spec.database)
    lines = [use, kind, ident, period or "(latest)", __version__]
    lines += [_stamp(p) for p in inputs if p is not None]
    lines += [_stamp(p) for p in _package_files()]
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def lookup(config: Config, key: str | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The kept context and its notes (e.g. its period label and folder name) for ``key``, if any."""
    from salesreports.report.contexts import read_context

    if key is None:
        return None
    folder = cache_folder(config) / key
    try:
        notes = json.loads((folder / "notes.json").read_text(encoding="utf-8"))
        context = read_context(folder / "context.json")
    except (OSError, ValueError, SalesReportsError):
        return None
    return context, notes


def kept_notes(config: Config, key: str | None) -> dict[str, Any] | None:
    """The notes kept with the context for ``key`` (its period label and folder name), if one is kept."""
    if key is None:
        return None
    try:
        notes = json.loads((cache_folder(config) / key / "notes.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return notes if isinstance(notes, dict) else None


def copy_kept(config: Config, key: str | None, folder: Path) -> bool:
    """Copy the kept context's files for ``key`` (``context.json`` and its tables) into ``folder``.

    What a preview does with a kept context: the files are copied as they are, so the previewing process
    never loads pandas or pyarrow to read and write them again. False when nothing complete is kept.
    """
    if key is None:
        return False
    kept = cache_folder(config) / key
    try:
        body = json.loads((kept / "context.json").read_text(encoding="utf-8"))
        names = [str(n) for n in (body.get("tables") or {}).values()]
        if any(Path(n).name != n or not (kept / n).is_file() for n in names):
            return False
        for name in [*names, "context.json"]:  # context.json last: it names the tables
            atomic_write_bytes(folder / name, (kept / name).read_bytes())
    except (OSError, ValueError, AttributeError):
        return False
    return True


def keep(config: Config, key: str | None, context: Mapping[str, Any], notes: Mapping[str, Any]) -> None:
    """Keep ``context`` (with ``notes``) under ``key``; forget the oldest beyond :data:`KEEP`."""
    from salesreports.report.contexts import write_context

    if key is None:
        return
    root = cache_folder(config)
    folder = root / key
    write_context(context, folder / "context.json")
    atomic_write_text(folder / "notes.json", json.dumps(dict(notes), ensure_ascii=False))  # written last: complete
    kept = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in kept[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
