"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

:func:`postgres_server` makes a new cluster in its own folder, starts it on a Unix socket in that folder
and on 127.0.0.1 (a free port), waits until it accepts connections, and at the end stops it
(``pg_ctl stop -m immediate``) and removes the folder, also when the tests fail. Connections over TCP
need a password (``scram-sha-256``), so a wrong password is refused for real; the Unix socket trusts
local users (the tests' setup). Every statement is logged (``log_statement=all``) to :attr:`PgServer.log`,
so a test can check what the server was asked.

``initdb`` and ``postgres`` refuse to run as root: as root both run as the ``postgres`` system user
(which Debian's ``postgresql`` package creates) through ``runuser``, in a folder that user owns.
On Debian the server's programs are under ``/usr/lib/postgresql/<version>/bin``, not on ``PATH``:
:func:`find_bindir` looks there (the newest version), then on ``PATH``; ``PG_BINDIR`` overrides both.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ADMIN = "admin"
ADMIN_PASSWORD = "admin-pw"  # a test cluster on 127.0.0.1 that lives for one test session
MISSING = "PostgreSQL's server programs (initdb, pg_ctl) are missing: run `make sysdeps` (Debian package postgresql)"


@dataclass(frozen=True)
class PgServer:
    """A running test cluster: its socket folder, TCP port, log file and the superuser's connection data."""

    folder: Path
    port: int
    log: Path
    host: str = "127.0.0.1"

    @property
    def socket_dir(self) -> str:
        return str(self.folder)

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string for the superuser over the Unix socket (trusted)."""
        return f"host={self.folder} port={self.port} user={ADMIN} dbname={dbname}"

    def url(self, user: str, password: str, dbname: str) -> str:
        """A SQLAlchemy URL over TCP (password checked) for ``user``."""
        from urllib.parse import quote

        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{dbname}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None when PostgreSQL is not installed."""
    override = os.environ.get("PG_BINDIR")
    if override:
        return Path(override) if (Path(override) / "initdb").is_file() else None

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.parent.parent.name))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version, reverse=True)
    for initdb in found:
        if (initdb.parent / "pg_ctl").is_file() and (initdb.parent / "postgres").is_file():
            return initdb.parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """``initdb`` and ``postgres`` do not run as root: as root, run them as the ``postgres`` system user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{tail}")


@contextlib.contextmanager
def postgres_server(bindir: Path) -> Iterator[PgServer]:
    """Create, start and finally stop and remove a PostgreSQL cluster (see the module docstring).

    The folder is made directly under /tmp (not under pytest's folder or a long ``TMPDIR``, which the
    postgres user may not enter), with a short path: a Unix socket's path is limited to about 100 bytes.
    """
    short = Path("/tmp")  # short, and every user (the postgres user too) can enter it
    folder = Path(tempfile.mkdtemp(prefix="sr-pg-", dir=short if short.is_dir() else None))
    data = folder / "data"
    log = folder / "server.log"
    started = False
    try:
        pwfile = folder / "pw"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                msg = f"as root, the server runs as the system user 'postgres', which does not exist. {MISSING}"
                raise RuntimeError(msg) from None
            for path in (folder, pwfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                ADMIN,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb",
        )
        port = _free_port()
        options = (
            f"-k {folder} -h 127.0.0.1 -p {port} -F -c log_statement=all -c timezone=UTC "
            "-c shared_buffers=16MB -c max_connections=20 -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
            "pg_ctl start",
            log,
        )
        started = True
        yield PgServer(folder, port, log)
    finally:
        if started:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], "pg_ctl stop")
        shutil.rmtree(folder, ignore_errors=True)
