"""The five source schemas of the source contract, as DDL and as the columns the platform reads.

The DDL creates demo and test sources; production sources carry more columns and the platform reads only
`REQUIRED_COLUMNS`, by name, which is also what the fail-fast check verifies.
"""

from __future__ import annotations

SOURCE_DDL: dict[str, list[str]] = {
    "opshop": [
        """CREATE TABLE t_shop (
            id BIGINT PRIMARY KEY,
            shop_no VARCHAR(16) NOT NULL UNIQUE,
            shop_name VARCHAR(128) NOT NULL,
            status TINYINT NOT NULL,
            shop_type TINYINT NOT NULL DEFAULT 1,
            time_zone VARCHAR(64) NOT NULL DEFAULT 'America/New_York',
            open_date DATE NULL) ENGINE=InnoDB""",
        """CREATE TABLE t_shop_dept (
            dept_id BIGINT PRIMARY KEY,
            shop_no VARCHAR(16) NOT NULL UNIQUE) ENGINE=InnoDB""",
    ],
    "sales_order": [
        """CREATE TABLE t_trade (
            id BIGINT PRIMARY KEY,
            trade_no VARCHAR(32) NOT NULL UNIQUE,
            dept_id BIGINT NOT NULL,
            pay_money DECIMAL(12,4) NULL,
            trade_status TINYINT NOT NULL,
            create_time DATETIME NOT NULL,
            KEY (create_time), KEY (dept_id, create_time)) ENGINE=InnoDB""",
        """CREATE TABLE t_trade_item (
            id BIGINT PRIMARY KEY, trade_id BIGINT NOT NULL, spu_id BIGINT NOT NULL,
            quantity INT NOT NULL, KEY (trade_id)) ENGINE=InnoDB""",
    ],
    "opproduction": [
        """CREATE TABLE t_production_order (
            id BIGINT PRIMARY KEY, dept_id BIGINT NOT NULL, trade_no VARCHAR(32) NULL,
            item_count INT NOT NULL, start_time DATETIME NOT NULL, finish_time DATETIME NULL,
            KEY (start_time)) ENGINE=InnoDB""",
    ],
    "opqualitycontrol": [
        """CREATE TABLE t_task_form (
            id BIGINT PRIMARY KEY, dept_id BIGINT NOT NULL, task_time DATETIME NOT NULL,
            score DECIMAL(5,2) NULL, KEY (task_time)) ENGINE=InnoDB""",
        """CREATE TABLE t_expiry_management (
            id BIGINT PRIMARY KEY, dept_id BIGINT NOT NULL, record_time DATETIME NOT NULL,
            expired_qty INT NOT NULL, KEY (record_time)) ENGINE=InnoDB""",
    ],
    "opempefficiency": [
        """CREATE TABLE t_attendance (
            id BIGINT PRIMARY KEY, dept_id BIGINT NOT NULL, employee_id BIGINT NOT NULL,
            clock_in DATETIME NOT NULL, clock_out DATETIME NULL, KEY (clock_in)) ENGINE=InnoDB""",
    ],
}

# The only columns the platform reads, per source and table.
REQUIRED_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "opshop": {
        "t_shop": ("id", "shop_no", "shop_name", "status", "shop_type", "time_zone", "open_date"),
        "t_shop_dept": ("dept_id", "shop_no"),
    },
    "sales_order": {
        "t_trade": ("id", "dept_id", "pay_money", "trade_status", "create_time"),
        "t_trade_item": ("trade_id", "quantity"),
    },
    "opproduction": {
        "t_production_order": ("id", "dept_id", "start_time", "finish_time"),
    },
    "opqualitycontrol": {
        "t_task_form": ("id", "dept_id", "task_time", "score"),
        "t_expiry_management": ("id", "dept_id", "record_time", "expired_qty"),
    },
    "opempefficiency": {
        "t_attendance": ("id", "dept_id", "employee_id", "clock_in", "clock_out"),
    },
}


# What kind of value each column the platform reads must hold, by column name (information_schema DATA_TYPE):
# a wider or narrower type of the same kind reads the same (DECIMAL(20,4) for DECIMAL(12,4), VARCHAR(300), a
# TIMESTAMP, which a UTC session reads as UTC); another kind does not: text summed as an amount is 0 for 'N/A'.
COLUMN_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "text": ("text", frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum"})),
    "time": ("a date and time", frozenset({"datetime", "timestamp"})),
    "date": ("a date", frozenset({"date", "datetime", "timestamp"})),
    "number": (
        "a number",
        frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "float", "double"}),
    ),
}
_TIME_COLUMNS = ("create_time", "start_time", "finish_time", "task_time", "record_time", "clock_in", "clock_out")
COLUMN_KIND: dict[str, str] = {
    **dict.fromkeys(("shop_no", "shop_name", "time_zone"), "text"),
    **dict.fromkeys(_TIME_COLUMNS, "time"),
    "open_date": "date",
}


def column_kind(column: str) -> str:
    """The kind of value a contract column holds: "text", "time", "date" or (every other) "number"."""
    return COLUMN_KIND.get(column, "number")


def table_name_of(ddl: str) -> str:
    """The table name of one CREATE TABLE statement."""
    return ddl.split("CREATE TABLE", 1)[1].split("(", 1)[0].strip().strip("`")


def create_source_tables(connection, source: str, *, drop_existing: bool = False) -> None:
    """Creates the contract tables of `source` on an open pymysql connection."""
    with connection.cursor() as cursor:
        for ddl in SOURCE_DDL[source]:
            if drop_existing:
                cursor.execute(f"DROP TABLE IF EXISTS `{table_name_of(ddl)}`")
            cursor.execute(ddl)
    connection.commit()
