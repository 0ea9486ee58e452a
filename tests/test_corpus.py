"""The broken-input corpus (tests/corpus/): every case through the real CLI.

Each case must fail with its exit code and a one-paragraph message naming the file, the column/row or key,
and the fix; never with a traceback; and must leave everything as it was (no output folder, no file
changed). See tests/corpus/README.md for the format of a case.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT
from salesreports.cli import app

CORPUS = ROOT / "tests" / "corpus"
BASE = CORPUS / "_base"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))
KEYS = {"command", "exit", "contains", "why", "config", "remove", "encode", "bom", "bytes", "env"}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def prepare(case: str, folder: Path) -> dict[str, Any]:
    """Lay the case over the base in ``folder``; return its expectations."""
    source = CORPUS / case
    expect: dict[str, Any] = yaml.safe_load((source / "expect.yaml").read_text(encoding="utf-8"))
    assert set(expect) <= KEYS, f"{case}: unknown keys {set(expect) - KEYS}"
    shutil.copytree(BASE, folder)
    for path in source.iterdir():
        if path.name != "expect.yaml":  # "x.ipynb.in" becomes "x.ipynb" (linters skip the broken notebooks)
            shutil.copy(path, folder / path.name.removesuffix(".in"))
    for name in expect.get("remove", []):
        (folder / name).unlink()
    config = folder / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("{ROOT}", str(ROOT)), encoding="utf-8")
    if expect.get("config"):
        merged = _merge(yaml.safe_load(config.read_text(encoding="utf-8")), expect["config"])
        config.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    for name, encoding in (expect.get("encode") or {}).items():
        path = folder / name
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    for name in expect.get("bom", []):
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    for name, data in (expect.get("bytes") or {}).items():
        (folder / name).write_bytes(base64.b64decode(data))
    return expect


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    commands = {yaml.safe_load((CORPUS / c / "expect.yaml").read_text(encoding="utf-8"))["command"][0] for c in CASES}
    assert commands == {"validate", "run", "goals", "check"}


@pytest.mark.parametrize("case", CASES)
def test_broken_input(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / case
    expect = prepare(case, folder)
    monkeypatch.chdir(folder)
    for name in ("SALESREPORTS_SMTP_PASSWORD", "DB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    before = snapshot(folder)
    command = [str(w) for w in expect["command"]]
    args = [*command[: 2 if command[0] == "goals" else 1], "--params", str(folder / "config.yaml")]
    args += command[2 if command[0] == "goals" else 1 :]
    result = CliRunner().invoke(app, args, env={k: str(v) for k, v in (expect.get("env") or {}).items()})
    output = result.output
    assert result.exit_code == expect["exit"], f"{case}: exit {result.exit_code}\n{output}"
    assert isinstance(result.exception, SystemExit), f"{case}: {result.exception!r}\n{output}"
    assert "Traceback" not in output
    flat = " ".join(output.split())
    for text in expect["contains"]:
        assert " ".join(str(text).split()) in flat, f"{case}: {text!r} not in:\n{output}"
    assert "Fix" in output or "fix" in output, f"{case}: the message gives no fix:\n{output}"
    assert snapshot(folder) == before, f"{case}: files were written or changed"
    assert not (folder / "out").exists() and not (folder / "outbox").exists()
