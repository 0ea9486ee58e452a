"""Source files: where each canonical table lives and how its columns map.

A source file (``params/sources/*.yaml``) names, per canonical table, the file,
database table or query it comes from, plus the mapping from the CRM's own
columns: renames, value maps, date formats, derived columns (DuckDB SQL
expressions, optionally over aggregates joined from a second file), constant
defaults and a row filter. Applying a mapping never drops a row silently.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salesreports.errors import ConfigError, close_matches
from salesreports.schema import TABLES

__all__ = ["Join", "SourceSpec", "TableSpec", "load_source"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Join(_Strict):
    """Aggregates joined from a second file, e.g. order lines summed per order."""

    file: str = Field(description="CSV or Parquet file, relative to base_dir")
    on: str | dict[str, str] = Field(description="shared key column, or {main_column: joined_column}")
    aggregate: dict[str, str] = Field(description="new column -> SQL aggregate over the joined file")
    encoding: str = "utf-8"
    delimiter: str = ","


class TableSpec(_Strict):
    """Where one canonical table comes from and how its columns map."""

    file: str | None = None
    table: str | None = None
    query: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    ragged: Literal["error", "keep_first", "skip"] = "error"
    null_values: list[str] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    derive: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)
    date_format: str | None = None
    dates: dict[str, str] = Field(default_factory=dict)
    join: list[Join] = Field(default_factory=list)
    where: str | None = None


class SourceSpec(_Strict):
    """A data source: its kind, location and the tables it provides."""

    name: str
    description: str = ""
    kind: Literal["files", "duckdb", "sql"] = "files"
    base_dir: str = "."
    database: str | None = None
    url: str | None = None
    null_values: list[str] = Field(default_factory=lambda: [""])
    tables: dict[str, TableSpec]
    path: str = Field(default="", exclude=True)

    @field_validator("tables")
    @classmethod
    def _known_tables(cls, value: dict[str, TableSpec]) -> dict[str, TableSpec]:
        for name in value:
            if name not in TABLES:
                msg = f"unknown table '{name}'.{close_matches(name, TABLES)} Known: {', '.join(TABLES)}"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _columns_known(self) -> SourceSpec:
        for tname, spec in self.tables.items():
            canon = TABLES[tname].names
            for section in ("columns", "derive", "defaults", "values", "dates"):
                for col in getattr(spec, section):
                    if col not in canon:
                        hint = close_matches(col, canon)
                        msg = (
                            f"tables.{tname}.{section}: '{col}' is not a column of the canonical "
                            f"'{tname}' table.{hint} Its columns: {', '.join(canon)}"
                        )
                        raise ValueError(msg)
            if self.kind == "files" and not spec.file:
                msg = f"tables.{tname}: needs `file:` (a CSV or Parquet file) for a source of kind 'files'"
                raise ValueError(msg)
        if self.kind == "duckdb" and not self.database:
            raise ValueError("a source of kind 'duckdb' needs `database:` (the .duckdb file)")
        if self.kind == "sql" and not self.url:
            raise ValueError("a source of kind 'sql' needs `url:` (a SQLAlchemy URL; use ${ENV_VAR} for passwords)")
        return self

    def root(self) -> Path:
        """The folder data paths are relative to."""
        here = Path(self.path).parent if self.path else Path.cwd()
        return (here / self.base_dir).resolve()

    def resolved_url(self) -> str:
        """The SQL URL with ``${VAR}`` replaced from the environment (secrets stay out of files)."""
        url = self.url or ""

        def sub(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in os.environ:
                msg = (
                    f"{self.path}: the database URL uses ${{{var}}}, but the environment variable "
                    f"{var} is not set. Fix: export {var}=... before running."
                )
                raise ConfigError(msg, file=self.path, key="url")
            return os.environ[var]

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, url)


def load_source(path: Path) -> SourceSpec:
    """Read and check a source file.

    Raises
    ------
    ConfigError
        Unknown keys, tables or columns (with close matches), missing locations, invalid YAML.
    """
    from salesreports.yamlio import load_model, read_yaml

    data = read_yaml(path)
    if not isinstance(data, dict):
        msg = f"{path}: expected a mapping with `name:` and `tables:`. Fix: see params/sources/demo.yaml."
        raise ConfigError(msg, file=str(path))
    data = {**data, "path": str(path)}
    return load_model(path, SourceSpec, data)
