"""The KPI and data-quality catalog is the one list every stage reads."""

from store_anomaly.kpis.assets import STORE_DAILY_METRICS_TABLE
from store_anomaly.kpis.catalog import (
    DQ_COLUMNS,
    DQ_EXCLUDED_TOTAL,
    KPI_COLUMNS,
    KPIS,
    dq_counter_columns,
    format_value,
    kpi_label,
)
from store_anomaly.spc.config import SpcConfig


def test_the_warehouse_table_declares_every_catalog_column_with_its_description():
    declared = {column.name: column for column in STORE_DAILY_METRICS_TABLE.columns}
    for kpi in KPIS:
        assert declared[kpi.column].type == kpi.mysql_type
        assert declared[kpi.column].description == kpi.description
        assert declared[kpi.column].constraints.nullable == kpi.nullable
    assert [name for name in declared if name.startswith("dq_")] == [*DQ_COLUMNS, DQ_EXCLUDED_TOTAL.column]


def test_spc_scores_every_kpi_with_its_catalog_model():
    config = SpcConfig.default()
    assert config.metrics == KPI_COLUMNS
    assert all(config.metric_specs[kpi.column] == kpi.spc for kpi in KPIS)


def test_texts_take_labels_and_formats_from_the_catalog():
    assert kpi_label("avg_production_seconds") == "Drink production time"
    assert kpi_label("shift_count") == "Shift count"
    assert format_value("revenue", 3050.4) == "$3,050"
    assert format_value("aov", 5.256) == "$5.26"
    assert format_value("staff_hours", 41.25) == "41.2h"
    assert format_value("order_count", 412.0) == "412"
    assert format_value("expired_qty", 2.5) == "2.50"
    assert format_value("revenue", None) == "n/a"


def test_dq_counters_are_named_by_the_catalog_never_guessed():
    columns = ["order_count", "dq_open_shifts", "shift_count", "dq_excluded_rows", "dq_null_pay_money"]
    assert dq_counter_columns(columns) == ["dq_open_shifts", "dq_null_pay_money"]
