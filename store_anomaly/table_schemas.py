"""Declaring warehouse tables: `TableSchema`s whose column types are MySQL types.

An asset's `dagster/column_schema` is at once the table's DDL (the IO manager creates the table from it) and
its documentation in the UI; `polars_schema` is how such a table loads back into polars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
from dagster import TableColumn, TableColumnConstraints, TableSchema


def table_schema(*columns: tuple[str, str, str] | tuple[str, str, str, bool]) -> TableSchema:
    """A `TableSchema` from (name, MySQL type, description[, nullable]) tuples: the warehouse table's DDL and
    its documentation in the UI at once."""
    return TableSchema(
        columns=[
            TableColumn(
                name=spec[0],
                type=spec[1],
                description=spec[2],
                constraints=TableColumnConstraints(nullable=spec[3] if len(spec) > 3 else True),
            )
            for spec in columns
        ]
    )


_MYSQL_TYPE_OF_POLARS = {
    pl.Date(): "DATE",
    pl.Datetime("us"): "DATETIME(6)",
    pl.Float64(): "DOUBLE",
    pl.Int64(): "BIGINT",
    pl.Boolean(): "BOOLEAN",
}


def table_schema_from_polars(
    schema: Mapping[str, pl.DataType],
    key: Sequence[str],
    descriptions: Mapping[str, str],
    string_types: Mapping[str, str],
) -> TableSchema:
    """A `TableSchema` for a frame schema: key columns NOT NULL, strings `VARCHAR(64)` unless `string_types`
    says otherwise (e.g. TEXT for prose)."""
    return table_schema(
        *(
            (
                name,
                string_types.get(name, "VARCHAR(64)") if dtype == pl.String() else _MYSQL_TYPE_OF_POLARS[dtype],
                descriptions.get(name, name.replace("_", " ")),
                name not in key,
            )
            for name, dtype in schema.items()
        )
    )


def polars_dtype_for_mysql_type(mysql_type: str) -> pl.DataType:
    """The polars dtype a warehouse column of this declared MySQL type loads as."""
    base = mysql_type.strip().upper().split("(")[0].split()[0]
    if base in ("TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT"):
        return pl.Boolean() if mysql_type.strip().upper() == "TINYINT(1)" else pl.Int64()
    if base in ("BOOLEAN", "BOOL"):
        return pl.Boolean()
    if base in ("DOUBLE", "FLOAT", "DECIMAL", "NUMERIC", "REAL"):
        return pl.Float64()
    if base == "DATE":
        return pl.Date()
    if base in ("DATETIME", "TIMESTAMP"):
        return pl.Datetime("us")
    return pl.String()


def polars_schema(columns: Sequence[TableColumn]) -> dict[str, pl.DataType]:
    return {column.name: polars_dtype_for_mysql_type(column.type) for column in columns}
