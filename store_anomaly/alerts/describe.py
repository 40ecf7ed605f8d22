"""The words of an alert: `description` and `recommended_action`, written for the operations team (pure).

KPI labels, value formats and the data-quality counters come from the catalog (`store_anomaly.kpis.catalog`).

Public functions
----------------
`describe_episodes(episodes: pl.DataFrame, context: dict[str, pl.DataFrame], config: AlertConfig)
    -> pl.DataFrame[episode_uid, description, recommended_action]`
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

`recommended_action` is the operational checklist, each item filled with this alert's evidence:
1. Data quality, 2. Operations, 3. External factors, 4. Portfolio-wide or store-specific,
5. Cannibalization, 6. Close the loop (the `store-anomaly ack` command with the alert id).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from store_anomaly.alerts.config import AlertConfig
from store_anomaly.kpis.catalog import format_value as fmt_value
from store_anomaly.kpis.catalog import kpi_label as label

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


def fmt_pct(pct: float | None) -> str:
    if pct is None:
        return "n/a"
    if round(pct) == 0:
        return "0%"
    return f"{pct:+.0f}%"


def _d(day: date | None) -> str:
    return day.isoformat() if day is not None else "n/a"


def _moved(pct: float | None, threshold: float) -> bool:
    return pct is not None and abs(pct) >= threshold


def _reading(ep: dict, related: dict[str, float | None], threshold: float) -> str:
    """One sentence interpreting which related KPIs moved."""
    family = ep["episode_key"]
    direction = ep["direction"]
    orders = related.get("order_count")
    aov = related.get("aov")
    staff = related.get("staff_hours")
    speed = related.get("avg_production_seconds")
    parts: list[str] = []
    if family == "sales" or ep["metric_name"] in ("revenue", "order_count", "items_sold", "aov"):
        fewer = "fewer" if direction == "down" else "more"
        if _moved(orders, threshold) and not _moved(aov, threshold):
            parts.append(f"{fewer} orders at an unchanged basket size: a traffic change, not pricing or menu mix")
        elif _moved(aov, threshold) and not _moved(orders, threshold):
            smaller = "smaller" if (aov or 0) < 0 else "larger"
            parts.append(
                f"as many orders as before but {smaller} baskets: look at menu mix, pricing, promotions, upselling"
            )
        elif _moved(orders, threshold) and _moved(aov, threshold):
            parts.append("both the number of orders and the basket size changed")
        if _moved(speed, threshold) and (speed or 0) > 0:
            parts.append(f"drinks took {fmt_pct(speed)} longer to make, slow service may be costing orders")
        if _moved(staff, threshold) and _moved(orders, threshold) and (staff or 0) * (orders or 0) > 0:
            parts.append(f"staff hours moved with demand ({fmt_pct(staff)})")
        elif _moved(orders, threshold) and not _moved(staff, threshold):
            parts.append("staff hours did not follow demand, so orders per labour hour moved with it")
        elif _moved(staff, threshold):
            parts.append(f"staff hours changed {fmt_pct(staff)} on their own")
    elif family == "service_speed" or ep["metric_name"] == "avg_production_seconds":
        if _moved(orders, threshold) and (orders or 0) > 0:
            parts.append(f"orders rose {fmt_pct(orders)}: a busier bar")
        if _moved(staff, threshold) and (staff or 0) < 0:
            parts.append(f"staff hours fell {fmt_pct(staff)}: fewer hands on the bar")
        if not parts:
            parts.append("orders and staffing were steady: look at equipment, recipes or new-hire training")
    elif family == "staffing" or ep["metric_name"] in ("staff_hours", "headcount"):
        if _moved(orders, threshold):
            parts.append(f"orders moved {fmt_pct(orders)} too")
        else:
            parts.append("orders were steady, so the schedule changed without a change in demand")
    elif (family == "quality" or ep["metric_name"] in ("qc_score", "expired_qty")) and (
        _moved(orders, threshold) and (orders or 0) < 0
    ):
        parts.append(f"orders fell {fmt_pct(orders)}: stock ordered for the old demand may be expiring")
    if not parts:
        return ""
    text = "; ".join(parts)
    return "Reading: " + text[0].upper() + text[1:] + "."


def _related_sentence(ep: dict, related: dict[str, float | None], threshold: float) -> str:
    flagged = set((ep.get("metric_names") or "").split(","))
    moved, steady = [], []
    for metric in _RELATED_ORDER:
        if metric == ep["metric_name"] or metric not in related:
            continue
        pct = related[metric]
        if pct is None:
            continue
        item = f"{label(metric)} {fmt_pct(pct)}" + (" (flagged)" if metric in flagged else "")
        (moved if _moved(pct, threshold) else steady).append(item)
    if not moved and not steady:
        return ""
    since = _d(ep["change_started_on"])
    text = f"Over the same period (since {since}, vs the {ep['_baseline_days']} days before, same weekdays):"
    text += " moved with it: " + (", ".join(moved) if moved else "nothing else") + "."
    if steady:
        text += " Held steady: " + ", ".join(steady) + "."
    return text


def _scope_sentence(ep: dict) -> str:
    flagged, reporting = ep.get("chain_stores_flagged"), ep.get("chain_stores_reporting")
    if flagged is None or reporting is None:
        return ""
    family = ep["episode_key"].replace("_", " ")
    if ep["chain_wide"]:
        lowered = ""
        if ep["first_raw_severity"] != ep["first_severity"]:
            lowered = f"; severity lowered one level ({ep['first_raw_severity']} -> {ep['first_severity']})"
        return (
            f"Chain-wide: on {_d(ep['opened_on'])} {flagged} of {reporting} stores had a WARNING-or-worse "
            f"{family} signal going {ep['direction']}, so this looks like a portfolio event (weather, holiday, "
            f"system outage) rather than a store problem{lowered}."
        )
    return (
        f"Store-specific: on {_d(ep['opened_on'])} only {flagged} of {reporting} stores had a WARNING-or-worse "
        f"{family} signal going {ep['direction']}."
    )


def _dq_summary(dq: dict | None, counters: list[str]) -> tuple[int, str]:
    if not dq:
        return 0, ""
    parts = [(c, int(dq.get(c) or 0)) for c in counters if int(dq.get(c) or 0) > 0]
    total = sum(v for _, v in parts)
    return total, ", ".join(f"{c} {v:,}" for c, v in sorted(parts, key=lambda p: -p[1]))


def _size_sentence(ep: dict, metric: str, shop: str) -> str:
    """What moved, by how much, since when: the headline KPI against its level before the change."""
    pct = ep.get("change_pct")
    word = "down" if ep["direction"] == "down" else "up"
    if pct is not None:
        word = "down" if pct < 0 else "up"
    how_much = f"{word} {abs(pct):.0f}%" if pct is not None else word
    before, now = ep.get("baseline_value"), ep.get("current_value")
    about = "about " if ep.get("change_detected") else ""
    text = (
        f"{label(metric)} ({metric}) at {shop} is {how_much} vs its level before {about}{_d(ep['change_started_on'])}"
    )
    if before is not None and now is not None:
        text += f" ({fmt_value(metric, before)} -> {fmt_value(metric, now)} a day, weekday-adjusted)"
    loss = ep.get("estimated_loss")
    if loss is not None and loss > 0:
        amount = f"${loss / 1000:,.0f}K" if metric == "revenue" and loss >= 10_000 else fmt_value(metric, loss)
        text += f"; about {amount} below that level since"
    return text + "."


def _noticed_sentence(ep: dict) -> str:
    """How it was noticed and evolved; every number names its metric and its day."""
    flagged = ep.get("flag_metric") or ep["metric_name"]
    noticed = f"First flagged on {_d(ep['opened_on'])} ({ep['first_severity']}"
    if ep.get("first_rule"):
        noticed += f", rule {ep['first_rule']} on {label(flagged).lower()} ({flagged})"
    if ep.get("first_observed") is not None and ep.get("first_expected") is not None:
        noticed += (
            f": {fmt_value(flagged, ep['first_observed'])} vs expected {fmt_value(flagged, ep['first_expected'])}"
        )
    if ep.get("first_z") is not None:
        noticed += f", z {ep['first_z']:+.1f}"
    noticed += ")"
    if ep["severity"] != ep["first_severity"]:
        noticed += f"; escalated to {ep['severity']} on {_d(ep.get('peak_on'))}"
    noticed += f"; last seen {_d(ep['last_seen_on'])}"
    if ep.get("last_observed") is not None and ep.get("last_expected") is not None and ep.get("last_flag_on"):
        noticed += (
            f" (latest {flagged} flag, {_d(ep['last_flag_on'])}: {fmt_value(flagged, ep['last_observed'])} vs "
            f"expected {fmt_value(flagged, ep['last_expected'])}"
            + (f", z {ep['last_z']:+.1f}" if ep.get("last_z") is not None else "")
            + ")"
        )
    noticed += f"; {ep['flag_days']} flag day{'s' if ep['flag_days'] != 1 else ''}"
    if ep.get("peak_z") is not None:
        noticed += f", peak z {ep['peak_z']:+.1f}"
    return noticed + f"; {ep['status']}."


def _lead_sentence(ep: dict) -> str | None:
    """How long before the first alert-level flag the change began."""
    if ep.get("change_detected") and ep["change_started_on"] < ep["opened_on"]:
        lead = (ep["opened_on"] - ep["change_started_on"]).days
        return f"The change began about {lead} days before the first alert-level flag."
    return None


def _also_flagged_sentence(ep: dict) -> str | None:
    others = [m for m in (ep.get("metric_names") or "").split(",") if m and m != ep["metric_name"]]
    if not others:
        return None
    return "Also flagged in this episode: " + ", ".join(f"{label(m)} ({m})" for m in others) + "."


def _suspect_text(ep: dict, suspect_name: str | None) -> str:
    """Who may have taken the customers, and the evidence ('' when nobody is suspected)."""
    suspect = ep.get("cannibalization_suspect")
    if not suspect:
        return ""
    who = f"{suspect} {suspect_name}" if suspect_name else suspect
    if ep.get("suspect_opened_on") is not None:
        return f"{who} opened on {_d(ep['suspect_opened_on'])}, inside this window"
    return (
        f"{who} rose {fmt_pct(ep.get('suspect_change_pct'))} on {label(ep['metric_name']).lower()} over the same window"
    )


def _cannibalization_sentence(ep: dict, suspect_name: str | None) -> str | None:
    text = _suspect_text(ep, suspect_name)
    return f"Possible cannibalization: {text}." if text else None


def _data_quality_sentence(dq: dict | None, counters: list[str]) -> str:
    dq_total, dq_breakdown = _dq_summary(dq, counters)
    if dq_total:
        return (
            f"Data quality: {dq_total:,} source rows were excluded for this store in the window ({dq_breakdown}) "
            f"on {int((dq or {}).get('dq_days') or 0)} day(s)."
        )
    return "Data quality: no source rows were excluded for this store in the window."


def _closed_sentence(dq: dict | None) -> str | None:
    closed = int((dq or {}).get("closed_days") or 0)
    return f"The store was closed on {closed} day(s) in the window." if closed else None


def _holidays_sentence(holidays: list[tuple[date, str]]) -> str | None:
    if not holidays:
        return None
    return "Holidays in the window: " + ", ".join(f"{name} ({_d(day)})" for day, name in holidays[:4]) + "."


def _data_quality_action(ep: dict, dq: dict | None, counters: list[str]) -> str:
    window = f"{_d(ep['change_started_on'])} to {_d(ep['last_seen_on'])}"
    dq_total, dq_breakdown = _dq_summary(dq, counters)
    if dq_total:
        return (
            f"1. Data quality: {dq_total:,} rows were excluded ({dq_breakdown}); check the source feeds for "
            f"{ep['shop_no']} from {window} (POS export, production tablet, clock-in app) and re-run the "
            "backfill once fixed before acting on the numbers."
        )
    return (
        f"1. Data quality: no rows were excluded; confirm the store's POS and device feeds were complete "
        f"from {window} (no missing hours, no till left offline) before acting."
    )


def _external_action(ep: dict, holidays: list[tuple[date, str]]) -> str:
    if holidays:
        return (
            "3. External factors: the window includes "
            + ", ".join(name for _, name in holidays[:4])
            + "; compare with the same period last year, then check weather, roadworks and local events."
        )
    return (
        f"3. External factors: check weather, roadworks, nearby events, a competitor opening or a landlord/"
        f"mall change around {_d(ep['change_started_on'])}."
    )


def _ownership_action(ep: dict) -> str:
    if ep["chain_wide"]:
        return (
            "4. Portfolio-wide or store-specific: most stores moved the same day; handle it at portfolio level "
            "(regional manager / marketing), not with this store alone."
        )
    return (
        f"4. Portfolio-wide or store-specific: it is specific to {ep['shop_no']}; start with the store "
        "manager and the shift leads who worked these days."
    )


def _cannibalization_action(ep: dict, suspect_name: str | None, config: AlertConfig) -> str:
    text = _suspect_text(ep, suspect_name)
    if text:
        return (
            f"5. Cannibalization: {text}; compare both stores' hour-by-hour orders and check whether "
            "customers moved (delivery radius, promotions, opening hours)."
        )
    if ep["direction"] == "down" and ep["metric_name"] in config.cannibalization_metrics:
        return "5. Cannibalization: no other store rose over the same window, so it is unlikely."
    return "5. Cannibalization: not applicable to this metric."


def _close_loop_action(ep: dict) -> str:
    return (
        f"6. Close the loop: store-anomaly ack {ep['alert_id']} --by NAME --label "
        "confirmed|expected|false-alarm|new-normal --note '...' (new-normal restarts the baseline)."
    )


def describe_episode(
    ep: dict,
    related: dict[str, float | None],
    dq: dict | None,
    counters: list[str],
    holidays: list[tuple[date, str]],
    suspect_name: str | None,
    config: AlertConfig,
) -> tuple[str, str]:
    """(description, recommended_action) of one episode; `ep` is a row of the episodes frame. One function per
    sentence: what moved and by how much against the level before, how it was noticed, what moved with it, the
    scope, the suspect, the data quality, the holidays; then the checklist, one function per item."""
    shop = f"{ep['shop_no']} {ep['shop_name']}" if ep.get("shop_name") else ep["shop_no"]
    threshold = config.related_move_pct
    ep = {**ep, "_baseline_days": config.comparison_baseline_days}
    sentences = [
        _size_sentence(ep, ep["metric_name"], shop),
        _lead_sentence(ep),
        _noticed_sentence(ep),
        _also_flagged_sentence(ep),
        _related_sentence(ep, related, threshold),
        _reading(ep, related, threshold),
        _scope_sentence(ep),
        _cannibalization_sentence(ep, suspect_name),
        _data_quality_sentence(dq, counters),
        _closed_sentence(dq),
        _holidays_sentence(holidays),
    ]
    actions = [
        _data_quality_action(ep, dq, counters),
        "2. Operations: " + _operations_action(ep, related, threshold),
        _external_action(ep, holidays),
        _ownership_action(ep),
        _cannibalization_action(ep, suspect_name, config),
        _close_loop_action(ep),
    ]
    return " ".join(s for s in sentences if s), " ".join(actions)


def _operations_action(ep: dict, related: dict[str, float | None], threshold: float) -> str:
    family, metric, direction = ep["episode_key"], ep["metric_name"], ep["direction"]
    if family == "sales" or metric in ("revenue", "order_count", "items_sold", "aov", "production_count"):
        if direction == "down":
            text = (
                "confirm the store kept its opening hours, had its bestsellers in stock, and that the espresso "
                "machine, POS and card readers worked; compare the hour-by-hour order curve with the same "
                f"weekdays before {_d(ep['change_started_on'])}"
            )
            if _moved(related.get("staff_hours"), threshold) and (related.get("staff_hours") or 0) < 0:
                text += "; staff hours fell too, check whether short staffing caused queues and walk-outs"
            elif _moved(related.get("aov"), threshold):
                text += "; basket size moved, review menu changes, prices and upselling at the till"
            return text + "."
        return (
            "find what drove the rise (promotion, event, a new delivery channel) and make sure stock and "
            "staffing keep up."
        )
    if family == "service_speed" or metric == "avg_production_seconds":
        return (
            "check bar staffing at peak hours, grinder calibration and machine maintenance, new recipes and "
            "new-hire training; compare production times hour by hour."
        )
    if family == "staffing" or metric in ("staff_hours", "headcount", "orders_per_labor_hour"):
        return (
            "review the rota against clock records: missing clock-outs, unplanned absences, or hours that no "
            "longer match the order volume."
        )
    if family == "quality" or metric in ("qc_score", "expired_qty"):
        return (
            "read the latest inspection report and expiry log: stock rotation (first in, first out), order "
            "quantities against sales, fridge temperatures."
        )
    return f"review what changed at the store around {_d(ep['change_started_on'])}."


DESCRIPTION_SCHEMA = {"episode_uid": pl.Int64, "description": pl.String, "recommended_action": pl.String}


def describe_episodes(episodes: pl.DataFrame, context: dict[str, pl.DataFrame], config: AlertConfig) -> pl.DataFrame:
    """description and recommended_action per episode_uid; see the module docstring."""
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
        description, action = describe_episode(
            ep,
            related.get(uid, {}),
            dq.get(uid),
            counters,
            holidays.get(uid, []),
            names.get(suspect) if suspect else None,
            config,
        )
        rows.append({"episode_uid": uid, "description": description, "recommended_action": action})
    return pl.DataFrame(rows, schema=DESCRIPTION_SCHEMA)
