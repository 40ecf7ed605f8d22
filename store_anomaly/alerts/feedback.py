"""Human feedback on alerts: acknowledgement input and per-rule label counts (pure).

The baseline resets that new-normal labels ask for are SPC's input: `store_anomaly.spc.resets`.

Public API
----------
`ACK_LABELS` = ('confirmed', 'expected', 'false-alarm', 'new-normal')
    confirmed: a real problem, acted on. expected: real but known in advance (promotion, refit, holiday).
    false-alarm: nothing happened (data glitch, noise). new-normal: the new level is permanent; the
    baseline must restart instead of alerting on it for weeks.

`class AckError(ValueError)`: every invalid input, with a message meant for the person typing the command.

`validate_ack(alert_id, by, label=None, note=None, *, alerts=None) -> AckInput`
    Trims and checks the input: alert id shaped like 'A-' + 10 hex digits (and present in `alerts` when
    given), non-empty `by` (max 64 characters), label one of ACK_LABELS (case-insensitive, '_' accepted for
    '-'), note max 2000 characters (blank = none).

`rule_feedback_counts(alerts, flags=None) -> pl.DataFrame[rule, labelled_alerts, confirmed, expected,
    false_alarm, new_normal, noise_share]`
    For every rule, how many labelled alerts it contributed to and their labels; noise_share =
    (expected + false_alarm) / labelled_alerts. With `flags`, a rule contributed when it raised a WARNING+
    flag on one of the alert's metrics at the alert's store between opened_on and last_seen_on; without,
    the alert's `rules` column is used. Sorted by noise_share (worst first), then rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from store_anomaly.alerts.config import ACK_LABELS, SEVERITY_RANK
from store_anomaly.spc.resets import metric_list

_ALERT_ID = re.compile(r"^A-[0-9a-f]{10}$")


class AckError(ValueError):
    """Invalid acknowledgement or query input; the message says what to type instead."""


@dataclass(frozen=True)
class AckInput:
    alert_id: str
    by: str
    label: str | None = None
    note: str | None = None


def normalize_label(label: str | None) -> str | None:
    if label is None:
        return None
    value = label.strip().lower().replace("_", "-")
    if not value:
        return None
    if value not in ACK_LABELS:
        raise AckError(f"unknown label {label!r}: use one of {', '.join(ACK_LABELS)}")
    return value


def validate_alert_id(alert_id: str | None, alerts: pl.DataFrame | None = None) -> str:
    value = (alert_id or "").strip()
    if not value:
        raise AckError("an alert id is required, e.g. A-1a2b3c4d5e (list them with `store-anomaly alerts`)")
    if not _ALERT_ID.match(value):
        raise AckError(
            f"{alert_id!r} is not an alert id: ids look like A-1a2b3c4d5e (list them with `store-anomaly alerts`)"
        )
    if alerts is not None and not alerts.filter(pl.col("alert_id") == value).height:
        raise AckError(f"no alert with id {value}: list the alerts with `store-anomaly alerts`")
    return value


def validate_ack(
    alert_id: str | None,
    by: str | None,
    label: str | None = None,
    note: str | None = None,
    *,
    alerts: pl.DataFrame | None = None,
) -> AckInput:
    """Checked, trimmed acknowledgement input; raises AckError with a clear message."""
    clean_id = validate_alert_id(alert_id, alerts)
    who = (by or "").strip()
    if not who:
        raise AckError("--by NAME is required: say who acknowledges the alert")
    if len(who) > 64:
        raise AckError("--by is too long (64 characters at most)")
    if any(ord(ch) < 32 for ch in who):
        raise AckError("--by must not contain control characters")
    clean_note = (note or "").strip() or None
    if clean_note is not None and len(clean_note) > 2000:
        raise AckError("--note is too long (2000 characters at most)")
    return AckInput(alert_id=clean_id, by=who, label=normalize_label(label), note=clean_note)


FEEDBACK_SCHEMA = {
    "rule": pl.String,
    "labelled_alerts": pl.Int64,
    "confirmed": pl.Int64,
    "expected": pl.Int64,
    "false_alarm": pl.Int64,
    "new_normal": pl.Int64,
    "noise_share": pl.Float64,
}


def rule_feedback_counts(alerts: pl.DataFrame, flags: pl.DataFrame | None = None) -> pl.DataFrame:
    """Label counts per rule; see the module docstring."""
    labelled = alerts.filter(pl.col("ack_label").is_not_null())
    if labelled.is_empty():
        return pl.DataFrame(schema=FEEDBACK_SCHEMA)
    if flags is not None:
        episode_metrics = labelled.select(
            "alert_id", "shop_no", "opened_on", "last_seen_on", "ack_label", metric_list().alias("metric_name")
        ).explode("metric_name")
        contributions = (
            episode_metrics.join(
                flags.select(
                    pl.col("metric_date").cast(pl.Date),
                    "shop_no",
                    "metric_name",
                    "rule",
                    pl.col("severity").str.to_uppercase(),
                ),
                on=["shop_no", "metric_name"],
                how="inner",
            )
            .filter(
                pl.col("metric_date").is_between(pl.col("opened_on"), pl.col("last_seen_on"))
                & (pl.col("severity").replace_strict(SEVERITY_RANK, default=0, return_dtype=pl.Int64) >= 1)
            )
            .select("alert_id", "rule", "ack_label")
            .unique()
        )
    else:
        contributions = (
            labelled.select("alert_id", pl.col("rules").str.split(",").alias("rule"), "ack_label")
            .explode("rule")
            .filter(pl.col("rule").is_not_null() & (pl.col("rule") != ""))
            .unique()
        )
    counts = contributions.group_by("rule").agg(
        pl.col("alert_id").n_unique().cast(pl.Int64).alias("labelled_alerts"),
        *[(pl.col("ack_label") == value).sum().cast(pl.Int64).alias(value.replace("-", "_")) for value in ACK_LABELS],
    )
    return (
        counts.with_columns(
            ((pl.col("expected") + pl.col("false_alarm")) / pl.col("labelled_alerts")).alias("noise_share")
        )
        .select(list(FEEDBACK_SCHEMA))
        .sort(["noise_share", "rule"], descending=[True, False])
        .cast(FEEDBACK_SCHEMA)
    )
