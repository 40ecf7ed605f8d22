"""The words of an alert: `description` and `recommended_action`, and their Chinese twins `description_zh` and
`recommended_action_zh`, written for the operations team (pure).

Every sentence is written once per language from the same values: each sentence function takes the language's
catalog `t` (`store_anomaly.texts`), the numbers are formatted once (`fmt_pct`, `fmt_value`, ISO dates), so both
texts quote the same figures. KPI labels, value formats and the data-quality counters come from the KPI catalog
(`store_anomaly.kpis.catalog`).

Public functions
----------------
`describe_episodes(episodes: pl.DataFrame, context: dict[str, pl.DataFrame], config: AlertConfig)
    -> pl.DataFrame[episode_uid, description, recommended_action, description_zh, recommended_action_zh]`
    Called by `episodes.build_alerts`; text is built per episode (a few hundred rows), the evidence in
    `context` was computed with vectorized polars.

Description anatomy (one paragraph, sentences in this order)
-----------------------------------------------------------
1. What moved, by how much, since when: "Revenue (revenue) at US00001 8th & Broadway is down 18% since
   about 2025-10-06 (weekday-adjusted daily mean $3,050 vs $3,720 before)."
2. When it was noticed and how it evolved: first flag (severity, rule, observed vs expected, z), escalation
   day, last flag (observed vs expected), flag days, status.
3. Related KPIs over the same window vs the `comparison_baseline_days` before, same weekdays: which moved
   with it (>= `related_move_pct`) and which held steady, then a one-line reading (traffic vs basket size vs
   production speed vs staffing).
4. Scope: chain-wide (k of n stores moved the same way the day it opened; severity lowered) or
   store-specific.
5. Cannibalization suspect, when there is one.
6. Data quality: excluded source rows and closed days in the window, or that there were none.
7. Public holidays in the window.

The English examples above; `store_anomaly/texts/zh.py` holds the Chinese of each.

`recommended_action` is the operational checklist, each item filled with this alert's evidence:
1. Data quality, 2. Operations, 3. External factors, 4. Portfolio-wide or store-specific,
5. Cannibalization, 6. Close the loop (the `store-anomaly ack` command with the alert id).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from store_anomaly.alerts.config import AlertConfig
from store_anomaly.kpis.catalog import format_value as fmt_value
from store_anomaly.kpis.catalog import kpi_label
from store_anomaly.settings import LANGUAGES
from store_anomaly.texts import Texts, texts_for

_RELATED_ORDER = (
    "revenue",
    "order_count",
    "aov",
    "items_sold",
    "production_count",
    "avg_production_seconds",
    "staff_hours",
    "headcount",
    "orders_per_labor_hour",
    "qc_score",
    "expired_qty",
)


def label(metric: str, language: str = "en") -> str:
    """The KPI's label in `language` (the catalog's)."""
    return kpi_label(metric, language)


def _label(t: Texts, metric: str) -> str:
    return kpi_label(metric, t.language)


def fmt_pct(pct: float | None) -> str:
    if pct is None:
        return "n/a"
    if round(pct) == 0:
        return "0%"
    return f"{pct:+.0f}%"


def _pct(t: Texts, pct: float | None) -> str:
    return t("value.na") if pct is None else fmt_pct(pct)


def _d(t: Texts, day: date | None) -> str:
    return day.isoformat() if day is not None else t("value.na")


def _z(z: float) -> str:
    return f"{z:+.1f}"


def _moved(pct: float | None, threshold: float) -> bool:
    return pct is not None and abs(pct) >= threshold


def _reading(t: Texts, ep: dict, related: dict[str, float | None], threshold: float) -> str:
    """One sentence interpreting which related KPIs moved."""
    family = ep["episode_key"]
    direction = ep["direction"]
    orders = related.get("order_count")
    aov = related.get("aov")
    staff = related.get("staff_hours")
    speed = related.get("avg_production_seconds")
    parts: list[str] = []
    if family == "sales" or ep["metric_name"] in ("revenue", "order_count", "items_sold", "aov"):
        if _moved(orders, threshold) and not _moved(aov, threshold):
            parts.append(t("alert.reading.traffic.down" if direction == "down" else "alert.reading.traffic.up"))
        elif _moved(aov, threshold) and not _moved(orders, threshold):
            parts.append(t("alert.reading.basket.smaller" if (aov or 0) < 0 else "alert.reading.basket.larger"))
        elif _moved(orders, threshold) and _moved(aov, threshold):
            parts.append(t("alert.reading.orders_and_basket"))
        if _moved(speed, threshold) and (speed or 0) > 0:
            parts.append(t("alert.reading.slow_service", pct=fmt_pct(speed)))
        if _moved(staff, threshold) and _moved(orders, threshold) and (staff or 0) * (orders or 0) > 0:
            parts.append(t("alert.reading.staff_with_demand", pct=fmt_pct(staff)))
        elif _moved(orders, threshold) and not _moved(staff, threshold):
            parts.append(t("alert.reading.staff_behind_demand"))
        elif _moved(staff, threshold):
            parts.append(t("alert.reading.staff_alone", pct=fmt_pct(staff)))
    elif family == "service_speed" or ep["metric_name"] == "avg_production_seconds":
        if _moved(orders, threshold) and (orders or 0) > 0:
            parts.append(t("alert.reading.busier_bar", pct=fmt_pct(orders)))
        if _moved(staff, threshold) and (staff or 0) < 0:
            parts.append(t("alert.reading.fewer_hands", pct=fmt_pct(staff)))
        if not parts:
            parts.append(t("alert.reading.speed_steady_demand"))
    elif family == "staffing" or ep["metric_name"] in ("staff_hours", "headcount"):
        if _moved(orders, threshold):
            parts.append(t("alert.reading.staffing_orders_moved", pct=fmt_pct(orders)))
        else:
            parts.append(t("alert.reading.staffing_orders_steady"))
    elif (family == "quality" or ep["metric_name"] in ("qc_score", "expired_qty")) and (
        _moved(orders, threshold) and (orders or 0) < 0
    ):
        parts.append(t("alert.reading.stock_expiring", pct=fmt_pct(orders)))
    if not parts:
        return ""
    text = t.clauses(parts)
    return t("alert.reading", text=text[0].upper() + text[1:])


def _related_sentence(t: Texts, ep: dict, related: dict[str, float | None], threshold: float) -> str:
    flagged = set((ep.get("metric_names") or "").split(","))
    moved, steady = [], []
    for metric in _RELATED_ORDER:
        if metric == ep["metric_name"] or metric not in related:
            continue
        pct = related[metric]
        if pct is None:
            continue
        key = "alert.related.item_flagged" if metric in flagged else "alert.related.item"
        item = t(key, label=_label(t, metric), pct=fmt_pct(pct))
        (moved if _moved(pct, threshold) else steady).append(item)
    if not moved and not steady:
        return ""
    text = t(
        "alert.related.moved",
        since=_d(t, ep["change_started_on"]),
        days=ep["_baseline_days"],
        moved=t.join(moved) if moved else t("alert.related.nothing_else"),
    )
    if steady:
        text += t("alert.related.steady", steady=t.join(steady))
    return text


def _scope_sentence(t: Texts, ep: dict) -> str:
    flagged, reporting = ep.get("chain_stores_flagged"), ep.get("chain_stores_reporting")
    if flagged is None or reporting is None:
        return ""
    values = {
        "day": _d(t, ep["opened_on"]),
        "flagged": flagged,
        "reporting": reporting,
        "family": t(family) if t.has(family := f"family.{ep['episode_key']}") else ep["episode_key"],
        "direction": t(f"direction.{ep['direction']}"),
    }
    if ep["chain_wide"]:
        lowered = ""
        if ep["first_raw_severity"] != ep["first_severity"]:
            lowered = t("alert.scope.lowered", raw=ep["first_raw_severity"], severity=ep["first_severity"])
        return t("alert.scope.chain_wide", lowered=lowered, **values)
    return t("alert.scope.store", **values)


def _dq_summary(t: Texts, dq: dict | None, counters: list[str]) -> tuple[int, str]:
    if not dq:
        return 0, ""
    parts = [(c, int(dq.get(c) or 0)) for c in counters if int(dq.get(c) or 0) > 0]
    total = sum(v for _, v in parts)
    return total, t.join(t("alert.dq.count", counter=c, count=f"{v:,}") for c, v in sorted(parts, key=lambda p: -p[1]))


def _size_sentence(t: Texts, ep: dict, metric: str, shop: str) -> str:
    """What moved, by how much, since when: the headline KPI against its level before the change."""
    pct = ep.get("change_pct")
    word = "down" if ep["direction"] == "down" else "up"
    if pct is not None:
        word = "down" if pct < 0 else "up"
    change = t(f"alert.size.change.{word}", pct=f"{abs(pct):.0f}%") if pct is not None else t(f"direction.{word}")
    text = t(
        "alert.size.detected" if ep.get("change_detected") else "alert.size.exact",
        label=_label(t, metric),
        metric=metric,
        shop=shop,
        change=change,
        since=_d(t, ep["change_started_on"]),
    )
    before, now = ep.get("baseline_value"), ep.get("current_value")
    if before is not None and now is not None:
        text += t("alert.size.levels", before=fmt_value(metric, before), now=fmt_value(metric, now))
    loss = ep.get("estimated_loss")
    if loss is not None and loss > 0:
        amount = f"${loss / 1000:,.0f}K" if metric == "revenue" and loss >= 10_000 else fmt_value(metric, loss)
        text += t("alert.size.loss", amount=amount)
    return t("alert.size.end", text=text)


def _noticed_sentence(t: Texts, ep: dict) -> str:
    """How it was noticed and evolved; every number names its metric and its day."""
    flagged = ep.get("flag_metric") or ep["metric_name"]
    noticed = t("alert.noticed.first", day=_d(t, ep["opened_on"]), severity=ep["first_severity"])
    if ep.get("first_rule"):
        noticed += t(
            "alert.noticed.rule", rule=ep["first_rule"], label_lower=_label(t, flagged).lower(), metric=flagged
        )
    if ep.get("first_observed") is not None and ep.get("first_expected") is not None:
        noticed += t(
            "alert.noticed.values",
            observed=fmt_value(flagged, ep["first_observed"]),
            expected=fmt_value(flagged, ep["first_expected"]),
        )
    if ep.get("first_z") is not None:
        noticed += t("alert.noticed.z", z=_z(ep["first_z"]))
    noticed += t("alert.noticed.close")
    if ep["severity"] != ep["first_severity"]:
        noticed += t("alert.noticed.escalated", severity=ep["severity"], day=_d(t, ep.get("peak_on")))
    noticed += t("alert.noticed.last_seen", day=_d(t, ep["last_seen_on"]))
    if ep.get("last_observed") is not None and ep.get("last_expected") is not None and ep.get("last_flag_on"):
        noticed += t(
            "alert.noticed.latest",
            metric=flagged,
            day=_d(t, ep["last_flag_on"]),
            observed=fmt_value(flagged, ep["last_observed"]),
            expected=fmt_value(flagged, ep["last_expected"]),
        )
        if ep.get("last_z") is not None:
            noticed += t("alert.noticed.z", z=_z(ep["last_z"]))
        noticed += t("alert.noticed.close")
    noticed += t.plural("alert.noticed.flag_days", ep["flag_days"])
    if ep.get("peak_z") is not None:
        noticed += t("alert.noticed.peak_z", z=_z(ep["peak_z"]))
    return noticed + t("alert.noticed.status", status=t(f"status.{ep['status']}"))


def _lead_sentence(t: Texts, ep: dict) -> str | None:
    """How long before the first alert-level flag the change began."""
    if ep.get("change_detected") and ep["change_started_on"] < ep["opened_on"]:
        return t("alert.lead", days=(ep["opened_on"] - ep["change_started_on"]).days)
    return None


def _also_flagged_sentence(t: Texts, ep: dict) -> str | None:
    others = [m for m in (ep.get("metric_names") or "").split(",") if m and m != ep["metric_name"]]
    if not others:
        return None
    items = t.join(t("alert.kpi_with_column", label=_label(t, m), metric=m) for m in others)
    return t("alert.also_flagged", items=items)


def _suspect_text(t: Texts, ep: dict, suspect_name: str | None) -> str:
    """Who may have taken the customers, and the evidence ('' when nobody is suspected)."""
    suspect = ep.get("cannibalization_suspect")
    if not suspect:
        return ""
    who = f"{suspect} {suspect_name}" if suspect_name else suspect
    if ep.get("suspect_opened_on") is not None:
        return t("alert.suspect.opened", who=who, day=_d(t, ep["suspect_opened_on"]))
    return t(
        "alert.suspect.rose",
        who=who,
        pct=_pct(t, ep.get("suspect_change_pct")),
        label_lower=_label(t, ep["metric_name"]).lower(),
    )


def _cannibalization_sentence(t: Texts, ep: dict, suspect_name: str | None) -> str | None:
    text = _suspect_text(t, ep, suspect_name)
    return t("alert.cannibalization", text=text) if text else None


def _data_quality_sentence(t: Texts, dq: dict | None, counters: list[str]) -> str:
    dq_total, dq_breakdown = _dq_summary(t, dq, counters)
    if dq_total:
        days = int((dq or {}).get("dq_days") or 0)
        return t("alert.dq.excluded", total=f"{dq_total:,}", breakdown=dq_breakdown, days=days)
    return t("alert.dq.none")


def _closed_sentence(t: Texts, dq: dict | None) -> str | None:
    closed = int((dq or {}).get("closed_days") or 0)
    return t("alert.closed", days=closed) if closed else None


def _holidays_sentence(t: Texts, holidays: list[tuple[date, str]]) -> str | None:
    if not holidays:
        return None
    items = t.join(t("alert.holiday", name=t.holiday(name), day=_d(t, day)) for day, name in holidays[:4])
    return t("alert.holidays", items=items)


def _window(t: Texts, ep: dict) -> str:
    return t("window", start=_d(t, ep["change_started_on"]), end=_d(t, ep["last_seen_on"]))


def _data_quality_action(t: Texts, ep: dict, dq: dict | None, counters: list[str]) -> str:
    dq_total, dq_breakdown = _dq_summary(t, dq, counters)
    if dq_total:
        return t(
            "action.dq.excluded",
            total=f"{dq_total:,}",
            breakdown=dq_breakdown,
            shop=ep["shop_no"],
            window=_window(t, ep),
        )
    return t("action.dq.none", window=_window(t, ep))


def _external_action(t: Texts, ep: dict, holidays: list[tuple[date, str]]) -> str:
    if holidays:
        return t("action.external.holidays", names=t.join(t.holiday(name) for _, name in holidays[:4]))
    return t("action.external.none", since=_d(t, ep["change_started_on"]))


def _ownership_action(t: Texts, ep: dict) -> str:
    if ep["chain_wide"]:
        return t("action.ownership.chain_wide")
    return t("action.ownership.store", shop=ep["shop_no"])


def _cannibalization_action(t: Texts, ep: dict, suspect_name: str | None, config: AlertConfig) -> str:
    text = _suspect_text(t, ep, suspect_name)
    if text:
        return t("action.cannibalization.suspect", text=text)
    if ep["direction"] == "down" and ep["metric_name"] in config.cannibalization_metrics:
        return t("action.cannibalization.unlikely")
    return t("action.cannibalization.not_applicable")


def _close_loop_action(t: Texts, ep: dict) -> str:
    return t("action.close_loop", alert_id=ep["alert_id"])


def describe_episode(
    ep: dict,
    related: dict[str, float | None],
    dq: dict | None,
    counters: list[str],
    holidays: list[tuple[date, str]],
    suspect_name: str | None,
    config: AlertConfig,
    language: str = "en",
) -> tuple[str, str]:
    """(description, recommended_action) of one episode in `language`; `ep` is a row of the episodes frame. One
    function per sentence: what moved and by how much against the level before, how it was noticed, what moved
    with it, the scope, the suspect, the data quality, the holidays; then the checklist, one function per item."""
    t = texts_for(language)
    shop = f"{ep['shop_no']} {ep['shop_name']}" if ep.get("shop_name") else ep["shop_no"]
    threshold = config.related_move_pct
    ep = {**ep, "_baseline_days": config.comparison_baseline_days}
    sentences = [
        _size_sentence(t, ep, ep["metric_name"], shop),
        _lead_sentence(t, ep),
        _noticed_sentence(t, ep),
        _also_flagged_sentence(t, ep),
        _related_sentence(t, ep, related, threshold),
        _reading(t, ep, related, threshold),
        _scope_sentence(t, ep),
        _cannibalization_sentence(t, ep, suspect_name),
        _data_quality_sentence(t, dq, counters),
        _closed_sentence(t, dq),
        _holidays_sentence(t, holidays),
    ]
    actions = [
        _data_quality_action(t, ep, dq, counters),
        t("action.operations", text=_operations_action(t, ep, related, threshold)),
        _external_action(t, ep, holidays),
        _ownership_action(t, ep),
        _cannibalization_action(t, ep, suspect_name, config),
        _close_loop_action(t, ep),
    ]
    return t.sentences(sentences), t.sentences(actions)


def _operations_action(t: Texts, ep: dict, related: dict[str, float | None], threshold: float) -> str:
    family, metric, direction = ep["episode_key"], ep["metric_name"], ep["direction"]
    if family == "sales" or metric in ("revenue", "order_count", "items_sold", "aov", "production_count"):
        if direction == "down":
            text = t("action.operations.sales_down", since=_d(t, ep["change_started_on"]))
            if _moved(related.get("staff_hours"), threshold) and (related.get("staff_hours") or 0) < 0:
                text += t("action.operations.short_staffed")
            elif _moved(related.get("aov"), threshold):
                text += t("action.operations.basket")
            return t("action.operations.end", text=text)
        return t("action.operations.sales_up")
    if family == "service_speed" or metric == "avg_production_seconds":
        return t("action.operations.service_speed")
    if family == "staffing" or metric in ("staff_hours", "headcount", "orders_per_labor_hour"):
        return t("action.operations.staffing")
    if family == "quality" or metric in ("qc_score", "expired_qty"):
        return t("action.operations.quality")
    return t("action.operations.other", since=_d(t, ep["change_started_on"]))


def text_columns(language: str) -> tuple[str, str]:
    """The alert columns holding the description and the recommended action in `language`."""
    suffix = "" if language == "en" else f"_{language}"
    return f"description{suffix}", f"recommended_action{suffix}"


DESCRIPTION_SCHEMA = {
    "episode_uid": pl.Int64,
    **{column: pl.String for language in LANGUAGES for column in text_columns(language)},
}


def describe_episodes(episodes: pl.DataFrame, context: dict[str, pl.DataFrame], config: AlertConfig) -> pl.DataFrame:
    """description and recommended_action per episode_uid, in every language; see the module docstring."""
    if episodes.is_empty():
        return pl.DataFrame(schema=DESCRIPTION_SCHEMA)
    related: dict[int, dict[str, float | None]] = {}
    for uid, metric, pct in context["related"].select("episode_uid", "metric_name", "change_pct").iter_rows():
        related.setdefault(uid, {})[metric] = pct
    dq = {row["episode_uid"]: row for row in context["dq"].iter_rows(named=True)}
    counters = [c for c in context["dq"].columns if c not in ("episode_uid", "dq_days", "closed_days")]
    holidays: dict[int, list[tuple[date, str]]] = {}
    for uid, day, name in context["holidays"].iter_rows():
        holidays.setdefault(uid, []).append((day, name))
    names = dict(context["names"].iter_rows())
    rows = []
    for ep in episodes.iter_rows(named=True):
        uid = ep["episode_uid"]
        suspect = ep.get("cannibalization_suspect")
        row: dict[str, object] = {"episode_uid": uid}
        for language in LANGUAGES:
            description, action = describe_episode(
                ep,
                related.get(uid, {}),
                dq.get(uid),
                counters,
                holidays.get(uid, []),
                names.get(suspect) if suspect else None,
                config,
                language,
            )
            row.update(zip(text_columns(language), (description, action), strict=True))
        rows.append(row)
    return pl.DataFrame(rows, schema=DESCRIPTION_SCHEMA)
