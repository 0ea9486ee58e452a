"""The suite's own rules: under CI=true nothing skips (a missing Chromium, poppler or ../shared fails; a skip
marker fails at setup, reported as an error)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.mark.parametrize(("ci", "outcome"), [("true", {"failed": 1, "errors": 1}), ("", {"skipped": 2})])
def test_a_skip_fails_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: dict[str, int]
) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(
        """
        import pytest

        def test_needs_chromium():
            pytest.skip("Debian chromium is not installed")

        @pytest.mark.skipif(True, reason="the shared data sets are missing")
        def test_needs_shared():
            pass

        @pytest.mark.xfail(reason="known")
        def test_expected_failure():
            assert False
        """
    )
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:cov")
    result.assert_outcomes(**outcome, xfailed=1)
    if ci:
        result.stdout.fnmatch_lines(["*would be skipped under CI=true*Debian chromium is not installed*"])
