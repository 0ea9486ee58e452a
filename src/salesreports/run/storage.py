"""Where reports are published: a path, or an fsspec URL (``--output-url s3://bucket/reports``) with the
output folder's layout (``2026-10/R001/scorecard.pdf``, ``2026-10/manifest.json``, ``2026-10/index.html``).

Every function takes a *destination*: a local path, or a URL that fsspec opens (``s3://``, ``gcs://``,
``file://``, ...). The filesystem package of a URL's scheme (``s3fs``, ``gcsfs``) is checked before a run
by :func:`check_url`, whose message names the pip command.

``s3://`` takes its credentials and endpoint from the usual AWS settings, on the client and on every
worker: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (or ``AWS_PROFILE``, an instance role),
``AWS_DEFAULT_REGION``, and for an S3-compatible store (MinIO, Ceph, a test server) ``AWS_ENDPOINT_URL``
(or ``AWS_ENDPOINT_URL_S3``, or ``endpoint_url`` in ``~/.aws/config``), which botocore reads for s3fs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from salesreports.errors import ConfigError

__all__ = [
    "check_url",
    "exists",
    "fetch",
    "folders_with",
    "is_url",
    "pull",
    "push",
    "put",
    "read_bytes",
    "remove",
    "remove_empty_folder",
    "write_bytes",
]


def is_url(destination: str) -> bool:
    """Whether ``destination`` is a URL (``scheme://...``) rather than a path."""
    return "://" in destination


def _fsspec() -> Any:
    return importlib.import_module("fsspec")  # untyped; a dependency of dask


def _fs(url: str) -> tuple[Any, str]:
    fs, path = _fsspec().core.url_to_fs(url)
    # fsspec reuses one filesystem per process, with its listings cached (s3fs): what the workers wrote
    # since (other processes, other machines) would be missing from them
    fs.invalidate_cache()
    return fs, str(path)


def check_url(url: str) -> None:
    """Raise ConfigError when this machine lacks the filesystem package of ``url``'s scheme.

    Raises
    ------
    ConfigError
        The scheme is unknown to fsspec, or its package is not installed (``pip install s3fs`` for ``s3://``).
    """
    fsspec = _fsspec()
    scheme = url.split("://", 1)[0] if is_url(url) else "file"
    try:
        fsspec.get_filesystem_class(scheme)
    except ImportError as exc:
        # fsspec's messages: "Install s3fs to access S3", 'SFTPFileSystem requires "paramiko" to be installed'
        match = re.search(r"(?:[Ii]nstall|requires) (?:the )?['`\"]?([A-Za-z0-9_.\-\[\]]+)", str(exc))
        package = match[1] if match else f"the fsspec filesystem for {scheme}://"
        msg = (
            f"--output-url {url}: {scheme}:// needs the package {package}, which is not installed. Fix: "
            f"pip install {package} (here and on every worker). Nothing was run."
        )
        raise ConfigError(msg, url=url) from None
    except ValueError:
        msg = f"--output-url {url}: fsspec knows no filesystem for {scheme}://. Fix: use s3://, gcs://, file://, ..."
        raise ConfigError(msg, url=url) from None


def read_bytes(destination: str) -> bytes:
    """The content of a file; FileNotFoundError when there is none."""
    if not is_url(destination):
        return Path(destination).read_bytes()
    fs, path = _fs(destination)
    data: bytes = fs.cat_file(path)
    return data


def exists(destination: str) -> bool:
    """Whether a file is there."""
    if not is_url(destination):
        return Path(destination).is_file()
    fs, path = _fs(destination)
    return bool(fs.isfile(path))


def remove(destination: str) -> None:
    """Remove a file if it is there."""
    if not is_url(destination):
        Path(destination).unlink(missing_ok=True)
        return
    fs, path = _fs(destination)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


def write_bytes(destination: str, data: bytes) -> None:
    """Write a small file (its folder made as needed)."""
    if is_url(destination):
        fs, path = _fs(destination)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, data)
        return
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    Path(destination).write_bytes(data)


def remove_empty_folder(destination: str) -> None:
    """Remove a folder if it is empty (object stores have no empty folders)."""
    with contextlib.suppress(OSError):
        if not is_url(destination):
            Path(destination).rmdir()
            return
        fs, path = _fs(destination)
        if fs.isdir(path) and not fs.ls(path):
            fs.rmdir(path)


def put(source: Path, destination: str) -> None:
    """Copy a local file to a path (atomically: a temporary name beside it, then a rename) or a URL."""
    if is_url(destination):
        fs, path = _fs(destination)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(source), path)
        return
    target = Path(destination)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.upload")
    try:
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(url: str, target: Path) -> bool:
    """Copy the file at ``url`` to ``target`` (replacing it); False, and ``target`` removed, when there is none."""
    try:
        data = read_bytes(url)
    except FileNotFoundError:
        target.unlink(missing_ok=True)
        return False
    from salesreports.paths import atomic_write_bytes

    atomic_write_bytes(target, data)
    return True


def push(folder: Path, url: str, files: Iterable[Path]) -> int:
    """Copy ``files`` (under ``folder``) to the same places under ``url``; how many."""
    count = 0
    for file in files:
        put(file, f"{url.rstrip('/')}/{file.relative_to(folder).as_posix()}")
        count += 1
    return count


def pull(url: str, folder: Path) -> list[Path]:
    """Copy every file under ``url`` into ``folder`` (same layout); the files written.

    Raises
    ------
    ConfigError
        Nothing is there.
    """
    fs, base = _fs(url)
    base = base.rstrip("/")
    found = [str(p) for p in fs.find(base)] if fs.isdir(base) else []
    if not found:
        msg = f"{url}: no reports there. Fix: check --output-url and --period, or run the reports first."
        raise ConfigError(msg, url=url)
    written = []
    for remote in found:
        target = folder / remote[len(base) :].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(remote, str(target))
        written.append(target)
    return written


def folders_with(url: str, name: str) -> list[str]:
    """The names of the folders directly under ``url`` holding a file ``name``, sorted (``["2026-09", "2026-10"]``)."""
    fs, base = _fs(url)
    base = base.rstrip("/")
    if not fs.isdir(base):
        return []
    folders = [str(p).rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(base, detail=False)]
    return sorted(f for f in folders if fs.isfile(f"{base}/{f}/{name}"))
