"""Safe, collision-free file names for reps and teams, and atomic file writes.

Rep ids and team names come from CRM data and may be anything: ``../../etc/passwd``,
``CON``, ``a/b``, empty, with newlines. :func:`slug` maps them to a name that never
leaves its folder, is valid on every operating system, and never collides: when
the cleaned name differs from the id, a short hash of the id is appended, so two
ids that clean to the same text still get two folders.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "inside", "slug"]

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
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        clean = f"{clean}-{digest}"
    return clean


def inside(root: Path, *parts: str) -> Path:
    """``root / parts``, refusing any result outside ``root`` (defence in depth behind :func:`slug`)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        msg = f"refusing to write outside {base}: {path}"
        raise ValueError(msg)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temp file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
