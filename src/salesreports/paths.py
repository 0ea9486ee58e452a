"""Safe, collision-free file names for reps and teams, and atomic file writes.

Rep ids and team names come from CRM data and may be anything: ``../../etc/passwd``,
``CON``, ``a/b``, empty, with newlines. :func:`slug` maps them to a name that never
leaves its folder, is valid on every operating system, and never collides with another
value's name *case-sensitively*: when the cleaned name differs from the id, a short hash of
the id is appended, so two ids that clean to the same text still get two names.

One rule for every file named after data values that share a folder: :func:`unique_names`
(and :func:`folder_names`, the period's report folders, built on it) makes the names unique
even on case-insensitive file systems (``R1`` and ``r1``), never a team folder (a rep with
the id ``team-North``) and never a file the run writes beside them (``index.html``,
``manifest.json``). The outbox's ``.eml`` files and the email attachments are named after the
report's folder; the charts of one email by :func:`unique_names`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "folder_names", "inside", "slug", "unique_names"]

# files a run writes into a period folder, beside the report folders
RESERVED_FILES = ("index.html", "manifest.json")

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(identifier: str, max_len: int = 60) -> str:
    """A file-system-safe, collision-free name for ``identifier``.

    Examples
    --------
    >>> slug("R007")
    'R007'
    >>> slug("../../etc/passwd")  # doctest: +ELLIPSIS
    'etc_passwd-...'
    """
    text = str(identifier)
    clean = _UNSAFE.sub("_", text).strip("._-")[:max_len] or "id"
    if clean.split(".")[0].upper() in _RESERVED:
        clean = f"_{clean}"
    if clean != text:
        clean = f"{clean}-{_digest(text)}"
    return clean


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def unique_names(
    items: Iterable[tuple[str, str]],
    *,
    prefixes: Mapping[str, str] | None = None,
    reserved: Iterable[str] = (),
    max_len: int = 60,
) -> dict[tuple[str, str], str]:
    """File names for values of the data that share a folder: the one naming rule of the package.

    Each ``(kind, value)`` gets its kind's prefix + :func:`slug` of the value. Names that would clash when
    case is ignored (``R1`` / ``r1``: one file on macOS and Windows), or that are one of ``reserved``, get a
    short hash of their kind and value appended, so no two items share a name on any file system. Pass
    every item that can share the folder, so that an item keeps its name from run to run.

    Examples
    --------
    >>> names = unique_names([("rep", "A_B_C"), ("rep", "a_b_c")])
    >>> names[("rep", "A_B_C")].casefold() != names[("rep", "a_b_c")].casefold()
    True
    """
    prefix = prefixes or {}
    named = [(kind, str(ident), f"{prefix.get(kind, '')}{slug(str(ident), max_len)}") for kind, ident in items]
    seen = Counter(name.casefold() for _, _, name in named)
    taken = {f.casefold() for f in reserved}
    out: dict[tuple[str, str], str] = {}
    for kind, ident, name in named:
        if seen[name.casefold()] > 1 or name.casefold() in taken:
            name = f"{name}-{_digest(f'{kind}/{ident}')}"
        out[(kind, ident)] = name
    return out


def folder_names(reps: Iterable[str], teams: Iterable[str]) -> dict[tuple[str, str], str]:
    """The folder of every report of a period, keyed by ``("rep", id)`` and ``("team", name)``.

    Reps get :func:`slug` of their id, teams ``team-`` + slug, by :func:`unique_names`: names that would
    clash when case is ignored (``R1`` / ``r1``; a rep ``team-North`` / the team North) or that are a file
    the run writes (:data:`RESERVED_FILES`) get a short hash of their kind and id appended, so no two
    reports share a folder. Pass every rep and team of the data set (not just those of one run), so that a
    report keeps its folder from run to run. The outbox names a report's ``.eml`` file and attachment
    after this folder too.

    Examples
    --------
    >>> names = folder_names(["R1", "r1", "team-North"], ["North"])
    >>> names[("rep", "R1")] != names[("rep", "r1")]
    True
    >>> names[("rep", "team-North")] != names[("team", "North")]
    True
    """
    items = [("team", str(t)) for t in teams] + [("rep", str(r)) for r in reps]
    return unique_names(items, prefixes={"team": "team-"}, reserved=RESERVED_FILES)


def inside(root: Path, *parts: str) -> Path:
    """``root / parts``, refusing any result outside ``root`` (defence in depth behind :func:`slug`)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        msg = f"refusing to write outside {base}: {path}"
        raise ValueError(msg)
    return path


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to a temp file beside ``path``, then rename it into place.

    A reader sees the old content or the new, never part of it. ``durable``: the data is on disk (``fsync``)
    before the rename, so it survives a power cut; without it (files made again whenever they are found
    unreadable or different, such as contexts) the write costs no wait for the disk.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
