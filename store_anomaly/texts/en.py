"""English texts (the platform's default language). Same keys and placeholders as `zh.py`; see
`store_anomaly.texts` for how to add one."""

TEXTS: dict[str, str] = {
    # punctuation and common words
    "join.list": ", ",
    "join.clause": "; ",
    "join.sentence": " ",
    "value.na": "n/a",
    "direction.up": "up",
    "direction.down": "down",
    "status.open": "open",
    "status.resolved": "resolved",
    "family.sales": "sales",
    "family.service_speed": "service speed",
    "family.staffing": "staffing",
    "family.quality": "quality",
    "window": "{start} to {end}",
    # alert description, sentence 1: what moved, by how much, since when
    "alert.size.change.down": "down {pct}",
    "alert.size.change.up": "up {pct}",
    "alert.size.detected": "{label} ({metric}) at {shop} is {change} vs its level before about {since}",
    "alert.size.exact": "{label} ({metric}) at {shop} is {change} vs its level before {since}",
    "alert.size.levels": " ({before} -> {now} a day, weekday-adjusted)",
    "alert.size.loss": "; about {amount} below that level since",
    "alert.size.end": "{text}.",
    "alert.lead": "The change began about {days} days before the first alert-level flag.",
    # sentence 2: how it was noticed and evolved
    "alert.noticed.first": "First flagged on {day} ({severity}",
    "alert.noticed.rule": ", rule {rule} on {label_lower} ({metric})",
    "alert.noticed.values": ": {observed} vs expected {expected}",
    "alert.noticed.z": ", z {z}",
    "alert.noticed.close": ")",
    "alert.noticed.escalated": "; escalated to {severity} on {day}",
    "alert.noticed.last_seen": "; last seen {day}",
    "alert.noticed.latest": " (latest {metric} flag, {day}: {observed} vs expected {expected}",
    "alert.noticed.flag_days.one": "; {count} flag day",
    "alert.noticed.flag_days.other": "; {count} flag days",
    "alert.noticed.peak_z": ", peak z {z}",
    "alert.noticed.status": "; {status}.",
    "alert.also_flagged": "Also flagged in this episode: {items}.",
    "alert.kpi_with_column": "{label} ({metric})",
    # related KPIs and their reading
    "alert.related.item": "{label} {pct}",
    "alert.related.item_flagged": "{label} {pct} (flagged)",
    "alert.related.moved": "Over the same period (since {since}, vs the {days} days before, same weekdays): moved "
    "with it: {moved}.",
    "alert.related.nothing_else": "nothing else",
    "alert.related.steady": " Held steady: {steady}.",
    "alert.reading": "Reading: {text}.",
    "alert.reading.traffic.down": "fewer orders at an unchanged basket size: a traffic change, not pricing or menu mix",
    "alert.reading.traffic.up": "more orders at an unchanged basket size: a traffic change, not pricing or menu mix",
    "alert.reading.basket.smaller": "as many orders as before but smaller baskets: look at menu mix, pricing, "
    "promotions, upselling",
    "alert.reading.basket.larger": "as many orders as before but larger baskets: look at menu mix, pricing, "
    "promotions, upselling",
    "alert.reading.orders_and_basket": "both the number of orders and the basket size changed",
    "alert.reading.slow_service": "drinks took {pct} longer to make, slow service may be costing orders",
    "alert.reading.staff_with_demand": "staff hours moved with demand ({pct})",
    "alert.reading.staff_behind_demand": "staff hours did not follow demand, so orders per labour hour moved with it",
    "alert.reading.staff_alone": "staff hours changed {pct} on their own",
    "alert.reading.busier_bar": "orders rose {pct}: a busier bar",
    "alert.reading.fewer_hands": "staff hours fell {pct}: fewer hands on the bar",
    "alert.reading.speed_steady_demand": "orders and staffing were steady: look at equipment, recipes or new-hire "
    "training",
    "alert.reading.staffing_orders_moved": "orders moved {pct} too",
    "alert.reading.staffing_orders_steady": "orders were steady, so the schedule changed without a change in demand",
    "alert.reading.stock_expiring": "orders fell {pct}: stock ordered for the old demand may be expiring",
    # scope, suspect, data quality, closures, holidays
    "alert.scope.lowered": "; severity lowered one level ({raw} -> {severity})",
    "alert.scope.chain_wide": "Chain-wide: on {day} {flagged} of {reporting} stores had a WARNING-or-worse {family} "
    "signal going {direction}, so this looks like a portfolio event (weather, holiday, system outage) rather than "
    "a store problem{lowered}.",
    "alert.scope.store": "Store-specific: on {day} only {flagged} of {reporting} stores had a WARNING-or-worse "
    "{family} signal going {direction}.",
    "alert.suspect.opened": "{who} opened on {day}, inside this window",
    "alert.suspect.rose": "{who} rose {pct} on {label_lower} over the same window",
    "alert.cannibalization": "Possible cannibalization: {text}.",
    "alert.dq.count": "{counter} {count}",
    "alert.dq.excluded": "Data quality: {total} source rows were excluded for this store in the window "
    "({breakdown}) on {days} day(s).",
    "alert.dq.none": "Data quality: no source rows were excluded for this store in the window.",
    "alert.closed": "The store was closed on {days} day(s) in the window.",
    "alert.holiday": "{name} ({day})",
    "alert.holidays": "Holidays in the window: {items}.",
    "holiday.observed": "{name} (observed)",
    # recommended action: the checklist
    "action.dq.excluded": "1. Data quality: {total} rows were excluded ({breakdown}); check the source feeds for "
    "{shop} from {window} (POS export, production tablet, clock-in app) and re-run the backfill once fixed before "
    "acting on the numbers.",
    "action.dq.none": "1. Data quality: no rows were excluded; confirm the store's POS and device feeds were "
    "complete from {window} (no missing hours, no till left offline) before acting.",
    "action.operations": "2. Operations: {text}",
    "action.operations.sales_down": "confirm the store kept its opening hours, had its bestsellers in stock, and "
    "that the espresso machine, POS and card readers worked; compare the hour-by-hour order curve with the same "
    "weekdays before {since}",
    "action.operations.short_staffed": "; staff hours fell too, check whether short staffing caused queues and "
    "walk-outs",
    "action.operations.basket": "; basket size moved, review menu changes, prices and upselling at the till",
    "action.operations.end": "{text}.",
    "action.operations.sales_up": "find what drove the rise (promotion, event, a new delivery channel) and make "
    "sure stock and staffing keep up.",
    "action.operations.service_speed": "check bar staffing at peak hours, grinder calibration and machine "
    "maintenance, new recipes and new-hire training; compare production times hour by hour.",
    "action.operations.staffing": "review the rota against clock records: missing clock-outs, unplanned absences, "
    "or hours that no longer match the order volume.",
    "action.operations.quality": "read the latest inspection report and expiry log: stock rotation (first in, "
    "first out), order quantities against sales, fridge temperatures.",
    "action.operations.other": "review what changed at the store around {since}.",
    "action.external.holidays": "3. External factors: the window includes {names}; compare with the same period "
    "last year, then check weather, roadworks and local events.",
    "action.external.none": "3. External factors: check weather, roadworks, nearby events, a competitor opening or "
    "a landlord/mall change around {since}.",
    "action.ownership.chain_wide": "4. Portfolio-wide or store-specific: most stores moved the same day; handle it "
    "at portfolio level (regional manager / marketing), not with this store alone.",
    "action.ownership.store": "4. Portfolio-wide or store-specific: it is specific to {shop}; start with the store "
    "manager and the shift leads who worked these days.",
    "action.cannibalization.suspect": "5. Cannibalization: {text}; compare both stores' hour-by-hour orders and "
    "check whether customers moved (delivery radius, promotions, opening hours).",
    "action.cannibalization.unlikely": "5. Cannibalization: no other store rose over the same window, so it is "
    "unlikely.",
    "action.cannibalization.not_applicable": "5. Cannibalization: not applicable to this metric.",
    "action.close_loop": "6. Close the loop: store-anomaly ack {alert_id} --by NAME --label "
    "confirmed|expected|false-alarm|new-normal --note '...' (new-normal restarts the baseline).",
    # HTML reports (store_anomaly/reports): pages
    "report.built": "Built {built_at} UTC from {dates}",
    "report.dates": "business dates {first} to {last}",
    "report.no_dates": "no business date yet",
    "report.link.summary": "summary",
    "report.link.gallery": "SPC gallery",
    "report.none": "None.",
    "report.col.severity": "severity",
    "report.col.store": "store",
    "report.col.kpi": "KPI",
    "report.col.since": "since",
    "report.col.last_seen": "last seen",
    "report.col.status": "status",
    "report.col.change": "change",
    "report.col.headline": "headline",
    "report.col.headline_details": "headline (click for the description and what to do)",
    "report.col.alert": "alert",
    "report.col.rank": "rank",
    "report.col.revenue": "revenue",
    "report.col.vs_median": "vs peer median",
    "report.col.percentile": "percentile",
    "report.col.grade_today": "grade today",
    "report.col.health_today": "health today",
    "report.col.open_alerts": "open alerts",
    "report.col.today": "today",
    "report.acknowledged": " (acknowledged)",
    "report.severity_count": "{count} {severity}",
    "report.open_alerts.one": "{count} open alert ({by_severity}). Most serious: {top}",
    "report.open_alerts.other": "{count} open alerts ({by_severity}). Most serious: {top}",
    "report.most_serious": "{severity} {store}: {headline}",
    "report.sentence_end": "{text}.",
    "report.no_open_alert": "No open alert.",
    "report.summary.title": "Store anomaly report: executive summary",
    "report.summary.stores_in_scope": "{count} stores in scope",
    "report.summary.open_alerts": "Open alerts",
    "report.summary.activity": "Alert activity on {day}",
    "report.summary.opened": "Opened ({count})",
    "report.summary.escalated": "Escalated ({count})",
    "report.summary.resolved": "Resolved ({count})",
    "report.summary.ranking": "Ranking of the week {start} to {end} by revenue (worst first)",
    "report.search": "search a store (number or name)",
    "report.health_grid": "Health per store and week (weekly mean score as a grade; worst first)",
    "report.week_of": "week of {week}",
    "report.week_score": "week of {week}: {score}",
    "report.store.health_today": "health today",
    "report.store.open_alerts": "open alerts",
    "report.store.weakest_kpi": "weakest KPI today",
    "report.store.episodes": "Alert episodes",
    "report.store.control_charts": "Control charts",
    "report.store.control_explained": "Value, centre line (the expected value of the day, from earlier days only), "
    "the anchored reference when the limits hold one, WARNING limits, flagged days (colour: severity, symbol: "
    "rule) and alert episodes (shaded).",
    "report.store.excluded": "{count} source rows excluded in the window",
    "report.store.counters": " (counters: {counters})",
    "report.store.counter": "{counter} {count}",
    "report.gallery.open_alerts": "{count} open alerts",
    "report.gallery.others": "The other {count} stores, worst first (charts on each store's page)",
    "report.gallery.title_worst": "SPC control charts of the {count} worst stores",
    "report.gallery.title": "SPC control charts, worst store first",
    # HTML reports: charts (trace names are what the legend shows)
    "report.trace.value": "value",
    "report.trace.centre_line": "centre line",
    "report.trace.anchored_reference": "anchored reference",
    "report.trace.limit_upper": "WARNING limit (upper)",
    "report.trace.limit_lower": "WARNING limit (lower)",
    "report.trace.flag": "flag {severity} {rule}",
    "report.trace.health": "health score",
    "report.trace.percentile": "percentile {label}",
    "report.trace.excluded": "excluded rows",
    "report.trace.revenue": "revenue",
    "report.trace.orders": "orders",
    "report.chart.episode": "{alert_id} {severity}: {label} {change}",
    "report.chart.grade": "grade",
    "report.chart.health": "Health score (0-100, grade bands)",
    "report.chart.percentile": "Peer percentile per week (100 = best of the chain)",
    "report.chart.excluded": "Source rows excluded by the KPI rules, per day",
    # plotly date formats (d3): empty = plotly's own (English month names)
    "report.chart.date_ticks": "",
    "report.chart.date_hover": "",
    "report.chart.chain": "Chain revenue and orders per business date",
    "report.chart.revenue_axis": "revenue (USD)",
    "report.chart.orders_axis": "orders",
    # notifications
    "notify.title": "[{prefix}] {shop}: {what}{move} since {since}",
    "notify.escalated": "Escalated to {severity}",
    "notify.move.down": " down {pct}",
    "notify.move.up": " up {pct}",
    "notify.move.direction.down": " down",
    "notify.move.direction.up": " up",
    "notify.footer": "Alert {alert_id} ({status}), opened {opened}, last seen {last_seen}.",
    # platform incidents (store_anomaly/automation/incidents.py)
    "incident.run_failed.title": "[store_anomaly] Run failed: {subject}",
    "incident.run_failed.body": "Run {run_id} of {job} ({dates}) failed at {subject}.\nCause: {cause}\nRe-run: {rerun}",
    "incident.run_failed.rerun_cli": "store-anomaly backfill --start {start} --end {end}, or in the Dagster UI "
    "open run {run_id} and choose Re-execute > From failure",
    "incident.run_failed.rerun_ui": "in the Dagster UI open run {run_id} and choose Re-execute > From failure",
    "incident.run_failed.no_cause": "the run failed without an error message: see its event log in the UI",
    "incident.run_missed.title": "[store_anomaly] Daily run missed: no successful {job} for {day} by 09:00 New York",
    "incident.run_missed.body": "No successful run of {job} has written business date {day} by the 09:00 "
    "New York deadline (latest successful run: {latest}). Check the daemon (systemctl status "
    "store-anomaly-daemon) and the UI's Runs page; run it now: store-anomaly backfill --start {start} "
    "--end {day}",
    "incident.run_missed.never": "none",
    "incident.check_failed.title": "[store_anomaly] Blocking check failed: {subject}",
    "incident.check_failed.body": "The blocking check {subject} failed in run {run_id} ({dates}): the assets "
    "downstream of it were not written. {detail}\nFix the data or the source, then re-run: {rerun}",
    "incident.feed_late.title": "[store_anomaly] Late feed: {source} has no trade for {day}",
    "incident.feed_late.body": "Business date {day}: {reason}. That date was not written (its earlier rows, if "
    "any, are kept); the run's other dates were (run {run_id}). The daily run re-reads the last days by "
    "itself; once the feed has caught up you can also run: store-anomaly backfill --start {day} --end {day}",
    "incident.feed_late.reason": "the sales-order source holds no trade for any in-scope store, and the date "
    "is neither a public holiday nor a configured closure day ({variable})",
    "incident.recovered.title": "[store_anomaly] Recovered: {subject}",
    "incident.recovered.body": "Resolved by run {run_id} at {at} UTC: {incidents}",
    "incident.recovered.item": "{kind} {subject}{day}, run {failed_run} (opened {opened} UTC)",
    "incident.kind.run_failed": "failed run",
    "incident.kind.run_missed": "missed daily run",
    "incident.kind.check_failed": "failed blocking check",
    "incident.kind.feed_late": "late feed",
    "incident.join": "; ",
    "incident.all_dates": "no partition range",
}

# The `holidays` package's names are English already.
HOLIDAY_NAMES: dict[str, str] = {}
