"""Acknowledgement input, new-normal baseline resets, label counts per rule, and the alert listing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from store_anomaly.alerts import (
    AckError,
    format_alerts,
    rule_feedback_counts,
    select_alerts,
    validate_ack,
)
from store_anomaly.alerts.config import ALERT_SCHEMA
from store_anomaly.alerts.listing import headline, open_alerts_markdown
from store_anomaly.alerts.state import current_alert_state, record_ack
from store_anomaly.spc.resets import baseline_resets_from_alerts, load_baseline_resets
from store_anomaly_tests.alerts.synthetic import flag, flags_frame
from store_anomaly_tests.warehouse_rows import store_alerts, warehouse_at

IDS = ["A-0000000001", "A-0000000002", "A-0000000003"]


def _alerts() -> pl.DataFrame:
    rows = [
        {
            "alert_id": IDS[0],
            "shop_no": "US00001",
            "metric_name": "revenue",
            "severity": "CRITICAL",
            "opened_on": date(2025, 10, 20),
            "last_seen_on": date(2025, 11, 10),
            "status": "open",
            "description": "Revenue (revenue) at US00001 is down 18% since about 2025-10-06. More.",
            "metric_names": "revenue,order_count",
            "change_started_on": date(2025, 10, 6),
            "rules": "beyond_3_sigma,run_of_8",
            "acknowledged": False,
        },
        {
            "alert_id": IDS[1],
            "shop_no": "US00002",
            "metric_name": "avg_production_seconds",
            "severity": "WARNING",
            "opened_on": date(2025, 9, 1),
            "last_seen_on": date(2025, 9, 3),
            "status": "resolved",
            "description": "Slower.",
            "metric_names": "avg_production_seconds",
            "rules": "run_of_8",
            "acknowledged": False,
        },
        {
            "alert_id": IDS[2],
            "shop_no": "US00001",
            "metric_name": "staff_hours",
            "severity": "WARNING",
            "opened_on": date(2025, 11, 1),
            "last_seen_on": date(2025, 11, 2),
            "status": "resolved",
            "description": "Hours.",
            "metric_names": None,
            "rules": "beyond_3_sigma",
            "acknowledged": False,
        },
    ]
    frame = pl.DataFrame(rows, schema={k: v for k, v in ALERT_SCHEMA.items() if k in rows[0]})
    for name, dtype in ALERT_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(list(ALERT_SCHEMA))


@pytest.mark.parametrize(
    ("alert_id", "by", "label", "message"),
    [
        ("", "maria", None, "an alert id is required"),
        ("42", "maria", None, "is not an alert id"),
        ("A-00000000ff", "maria", None, "no alert with id A-00000000ff"),
        (IDS[0], "  ", None, "--by NAME is required"),
        (IDS[0], None, None, "--by NAME is required"),
        (IDS[0], "maria", "maybe", "unknown label 'maybe': use one of confirmed, expected, false-alarm, new-normal"),
        (IDS[0], "x" * 65, None, "--by is too long"),
    ],
)
def test_bad_ack_input_gives_a_clear_error(alert_id, by, label, message):
    with pytest.raises(AckError, match=message):
        validate_ack(alert_id, by, label, alerts=_alerts())


def test_valid_ack_is_trimmed_and_label_normalized():
    ack = validate_ack(f" {IDS[0]} ", " maria ", "False_Alarm", "  ", alerts=_alerts())
    assert (ack.alert_id, ack.by, ack.label, ack.note) == (IDS[0], "maria", "false-alarm", None)


def _labelled(alerts: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """The alerts with these acknowledgement labels, as the alert state shows them after `store-anomaly ack`."""
    return alerts.with_columns(
        ack_label=pl.col("alert_id").replace_strict(labels, default=None, return_dtype=pl.String),
        acknowledged=pl.col("alert_id").is_in(list(labels)),
    )


def _ack(url: str, alert_id: str, by: str, label: str | None = None, note: str | None = None, **kwargs) -> None:
    """What `store-anomaly ack` does: validate against the current alerts, then log the acknowledgement."""
    with warehouse_at(url).connect() as connection:
        ack = validate_ack(alert_id, by, label, note, alerts=current_alert_state(connection))
        record_ack(connection, ack, **kwargs)


@pytest.mark.mysql
def test_an_ack_sets_one_alert_and_a_re_ack_keeps_label_and_note(fresh_database):
    store_alerts(fresh_database, _alerts())
    _ack(fresh_database, IDS[0], "maria", "confirmed", "staff shortage", now=datetime(2025, 11, 20, 10, 0, tzinfo=UTC))
    with warehouse_at(fresh_database).connect() as connection:
        acked = current_alert_state(connection)
    row = acked.filter(pl.col("alert_id") == IDS[0]).row(0, named=True)
    assert row["acknowledged"] and row["acknowledged_by"] == "maria" and row["ack_label"] == "confirmed"
    assert row["acknowledged_at"] == datetime(2025, 11, 20, 10, 0) and row["ack_note"] == "staff shortage"
    assert acked["acknowledged"].sum() == 1
    _ack(fresh_database, IDS[0], "li", now=datetime(2025, 11, 21, tzinfo=UTC))
    with warehouse_at(fresh_database).connect() as connection:
        again = current_alert_state(connection)
    row = again.filter(pl.col("alert_id") == IDS[0]).row(0, named=True)
    assert (row["acknowledged_by"], row["ack_label"], row["ack_note"]) == ("li", "confirmed", "staff shortage")
    with pytest.raises(AckError):
        _ack(fresh_database, "A-00000000aa", "maria")


@pytest.mark.mysql
def test_new_normal_resets_every_metric_of_the_episode_from_the_change_start(fresh_database):
    store_alerts(fresh_database, _alerts())
    with warehouse_at(fresh_database).connect() as connection:
        assert load_baseline_resets(connection) is None
    _ack(fresh_database, IDS[0], "maria", "new-normal")
    _ack(fresh_database, IDS[2], "maria", "new-normal")
    _ack(fresh_database, IDS[1], "maria", "expected")
    with warehouse_at(fresh_database).connect() as connection:
        resets = load_baseline_resets(connection)
    assert resets.select("shop_no", "metric_name", "reset_date").rows() == [
        ("US00001", "order_count", date(2025, 10, 6)),
        ("US00001", "revenue", date(2025, 10, 6)),
        ("US00001", "staff_hours", date(2025, 11, 1)),  # no change point: opened_on
    ]
    assert baseline_resets_from_alerts(_alerts()).height == 0


def test_rule_feedback_counts_from_alert_rules_and_from_flags():
    alerts = _labelled(_alerts(), {IDS[0]: "confirmed", IDS[1]: "false-alarm", IDS[2]: "expected"})
    counts = {row["rule"]: row for row in rule_feedback_counts(alerts).iter_rows(named=True)}
    assert counts["run_of_8"]["labelled_alerts"] == 2
    assert (counts["run_of_8"]["confirmed"], counts["run_of_8"]["false_alarm"]) == (1, 1)
    assert counts["beyond_3_sigma"]["expected"] == 1 and counts["beyond_3_sigma"]["noise_share"] == 0.5
    flags = flags_frame(
        [
            flag(date(2025, 10, 21), "US00001", "order_count", rule="trend_6"),
            flag(date(2025, 10, 22), "US00001", "revenue", rule="trend_6"),
            flag(date(2025, 10, 22), "US00001", "revenue", rule="info_rule", severity="INFO"),
            flag(date(2025, 9, 2), "US00002", "avg_production_seconds", rule="trend_6", direction="up"),
            flag(date(2025, 12, 1), "US00001", "revenue", rule="outside_window"),
        ]
    )
    by_flags = rule_feedback_counts(alerts, flags)
    assert by_flags["rule"].to_list() == ["trend_6"]
    row = by_flags.row(0, named=True)
    assert (row["labelled_alerts"], row["confirmed"], row["false_alarm"], row["noise_share"]) == (2, 1, 1, 0.5)


def test_listing_filters_and_formats():
    alerts = _labelled(_alerts(), {IDS[0]: "confirmed"}).with_columns(
        acknowledged_by=pl.when(pl.col("alert_id") == IDS[0]).then(pl.lit("maria"))
    )
    assert select_alerts(alerts)["alert_id"].to_list() == [IDS[0], IDS[2], IDS[1]]
    assert select_alerts(alerts, open_only=True)["alert_id"].to_list() == [IDS[0]]
    assert select_alerts(alerts, shop_no=" us00002 ")["alert_id"].to_list() == [IDS[1]]
    with pytest.raises(AckError, match="not a store number"):
        select_alerts(alerts, shop_no="store 1")
    text = format_alerts(select_alerts(alerts, open_only=True))
    assert text.splitlines()[0].startswith("ID")
    assert IDS[0] in text and "maria (confirmed)" in text and "down 18% since about 2025-10-06" in text
    assert format_alerts(alerts.head(0)) == "No alerts."


def test_listing_never_passes_control_characters_to_the_terminal():
    # A shop name from the store master reaches the description; escape sequences, a carriage return and a
    # bidi override must not reach the terminal.
    alerts = _alerts().with_columns(
        pl.lit("Revenue at \x1b[2J\x1b[31mFAKE \rsto\u202ere\x07. More.").alias("description")
    )
    text = format_alerts(alerts)
    assert not any(ord(char) < 32 and char != "\n" for char in text)
    assert "\u202e" not in text and "\x7f" not in text
    assert "Revenue at ?[2J?[31mFAKE ?sto?re?" in text
    assert len(text.splitlines()) == alerts.height + 1


@pytest.mark.mysql
def test_the_alert_state_of_an_older_table_has_every_column(fresh_database):
    with warehouse_at(fresh_database).connect() as connection:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE store_anomaly_alerts (alert_id VARCHAR(16) PRIMARY KEY, shop_no VARCHAR(16))")
            cursor.execute("INSERT INTO store_anomaly_alerts VALUES (%s, 'US00001')", (IDS[0],))
        connection.commit()
        state = current_alert_state(connection)
    assert dict(state.schema) == ALERT_SCHEMA
    assert state.row(0, named=True)["ack_label"] is None and state["shop_no"].to_list() == ["US00001"]
    assert rule_feedback_counts(state).is_empty() and baseline_resets_from_alerts(state).is_empty()


HEADLINE_EN = (
    "Revenue (revenue) at US00003 St. Marks Place is down 57% vs its level before about 2025-10-08 ($3,561 -> "
    "$1,525 a day, weekday-adjusted); about $150K below that level since"
)
HEADLINE_ZH = (
    "US00003 St. Marks Place 的营业额（revenue）较约 2025-10-08 之前的水平下降 57%（按星期调整后的日均值 $3,561 -> "
    "$1,525）；自那时起累计比该水平少约 $150K"
)


def test_the_headline_is_the_whole_first_sentence_in_either_language():
    english = HEADLINE_EN + ". First flagged on 2025-10-26 (WARNING, rule anchored_drift). More."
    chinese = HEADLINE_ZH + "。首次标记于 2025-10-26（WARNING，规则 anchored_drift）。"
    assert headline(english, "St. Marks Place") == HEADLINE_EN
    assert headline(chinese, "St. Marks Place") == HEADLINE_ZH
    assert headline("One sentence only.") == "One sentence only" and headline(None) == ""
    short = headline(english, "St. Marks Place", width=60)
    assert len(short) <= 60 and short.endswith("...") and HEADLINE_EN.startswith(short[:-3])
    assert short == "Revenue (revenue) at US00003 St. Marks Place is down 57%..."  # cut between words


def test_the_open_alerts_table_of_the_ui_shows_whole_headlines():
    alerts = _alerts().with_columns(
        pl.when(pl.col("alert_id") == IDS[0])
        .then(pl.lit(HEADLINE_EN + ". First flagged on 2025-10-26."))
        .otherwise(pl.col("description"))
        .alias("description"),
        pl.lit("St. Marks Place").alias("shop_name"),
    )
    table = open_alerts_markdown(alerts)
    assert f"| {HEADLINE_EN} | {IDS[0]} |" in table
    assert HEADLINE_EN in format_alerts(alerts)
