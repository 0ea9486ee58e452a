"""run/jobs: the executed notebook records its context relative to the report's folder, written as papermill
writes a Python string (checked against papermill's own translator)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from papermill.translators import PythonTranslator

from salesreports.run.jobs import _python_str


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_strings_are_written_as_papermill_writes_them(value: str) -> None:
    assert _python_str(value) == PythonTranslator.translate_str(value)


def test_paths_with_quotes_backslashes_and_accents() -> None:
    assert _python_str('/tmp/a "b"\\é.json') == '"/tmp/a \\"b\\"\\\\\\xe9.json"'
