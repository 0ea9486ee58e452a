"""The demo tables on disk: Arrow schemas from the canonical model, streamed CSV/Parquet writers, and an
atomic publish of the finished folder (a failed run never leaves half a data set).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from salesreports.data.schema import TABLES
from salesreports.errors import ConfigError

__all__ = ["DEMO_TABLES", "Sink", "check_out_dir", "publish"]

DEMO_TABLES: tuple[str, ...] = ("reps", "deals", "leads", "activities", "targets", "feedback")


Format = Literal["csv", "parquet"]


def check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        msg = f"{out_dir}: exists and is not a directory; choose a directory for the demo data."
        raise ConfigError(msg, file=str(out_dir))
    if not out_dir.is_dir():
        return
    ours = {f"{name}.{ext}" for name in DEMO_TABLES for ext in ("csv", "parquet")}
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f", … ({len(foreign)} in all)" if len(foreign) > 5 else "")
        msg = (
            f"{out_dir}: holds files that are not demo tables ({shown}); the demo generator replaces the "
            "whole directory. Choose a new or empty directory."
        )
        raise ConfigError(msg, file=str(out_dir))


def publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished data set ``tmp`` to ``out_dir``, replacing an earlier one."""
    if not out_dir.exists():
        tmp.replace(out_dir)
        return
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    out_dir.replace(old)
    tmp.replace(out_dir)
    shutil.rmtree(old, ignore_errors=True)


_ARROW_TYPES = {"str": "string", "date": "date32", "float": "float64", "int": "int64", "bool": "bool_"}


def _arrow_schema(table: str) -> Any:
    cols = TABLES[table].columns
    return pa.schema([pa.field(c.name, getattr(pa, _ARROW_TYPES[c.kind])()) for c in cols])


class Sink:
    """Stream one table to a CSV or Parquet file, in chunks."""

    _ROW_GROUP = 262_144

    def __init__(self, path: Path, table: str, fmt: Format) -> None:
        self.table = table
        self.schema = _arrow_schema(table)
        self.fmt = fmt
        self.rows = 0
        self._pending: list[Any] = []
        self._pending_rows = 0
        if fmt == "csv":
            options = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
            self._writer: Any = pa_csv.CSVWriter(str(path), self.schema, write_options=options)
        else:
            self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, columns: Mapping[str, Any]) -> int:
        """Append rows given as one array per column; return the number of rows."""
        arrays = [columns[name] for name in TABLES[self.table].names]
        batch = pa.Table.from_arrays(arrays, schema=self.schema)
        n = int(batch.num_rows)
        if n == 0:
            return 0
        self.rows += n
        if self.fmt == "csv":
            self._writer.write_table(batch)
            return n
        self._pending.append(batch)
        self._pending_rows += n
        if self._pending_rows >= self._ROW_GROUP:
            self._flush()
        return n

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._ROW_GROUP)
        self._pending = []
        self._pending_rows = 0

    def close(self) -> None:
        """Write what is buffered and close the file."""
        if self.fmt == "parquet":
            self._flush()
        self._writer.close()
