"""A real S3 object store on 127.0.0.1 for the tests: moto's server mode (``moto_server``) as a subprocess.

:func:`moto_s3` starts it on a free port in its own folder, waits until it answers and stops it at the end;
:func:`s3_environment` is what a user sets for an S3-compatible store (botocore, hence s3fs, reads
``AWS_ENDPOINT_URL``): the fixture ``s3`` (conftest) puts it into the test's environment, which the dask
workers a test starts afterwards inherit.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

MOTO = str(Path(sys.executable).parent / "moto_server")


@contextlib.contextmanager
def moto_s3(folder: Path, timeout: float = 60) -> Iterator[str]:
    """Run ``moto_server`` on 127.0.0.1 (a port the system picks); its endpoint ``http://127.0.0.1:PORT``.

    Started in ``folder`` (its log is ``folder/moto.log``): never in a folder whose ``*.py`` files would
    shadow the standard library's modules.
    """
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", "0"], cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    try:
        endpoint = _wait_for(proc, log, timeout)
        yield endpoint
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_for(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    endpoint = ""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited ({proc.returncode}):\n{log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"moto_server did not answer within {timeout:g} s:\n{log.read_text(errors='replace')}")
        if not endpoint:
            found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            endpoint = found[1] if found else ""
        if endpoint:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as answer:
                if answer.status == 200:
                    return endpoint
        time.sleep(0.1)


def s3_environment(endpoint: str) -> dict[str, str]:
    """The environment of a client (and its workers) using the S3 store at ``endpoint``, with fake keys."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
