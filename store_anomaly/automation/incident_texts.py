"""The texts of platform incidents, one catalog per language (same keys and `{placeholders}` in each).

Values are formatted once in code (ISO dates, run ids, commands), so both languages quote the same figures.
"""

from __future__ import annotations

INCIDENT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "incident.run_failed.title": "[store_anomaly] Run failed: {subject}",
        "incident.run_failed.body": "Run {run_id} of {job} ({dates}) failed at {subject}.\nCause: {cause}\n"
        "Re-run: {rerun}",
        "incident.run_failed.rerun_cli": "store-anomaly backfill --start {start} --end {end}, or in the Dagster UI "
        "open run {run_id} and choose Re-execute > From failure",
        "incident.run_failed.rerun_ui": "in the Dagster UI open run {run_id} and choose Re-execute > From failure",
        "incident.run_failed.no_cause": "the run failed without an error message: see its event log in the UI",
        "incident.run_missed.title": "[store_anomaly] Daily run missed: no successful {job} for {day} by 09:00 "
        "New York",
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
    },
    "zh": {
        "incident.run_failed.title": "[store_anomaly] 运行失败：{subject}",
        "incident.run_failed.body": "{job} 的运行 {run_id}（{dates}）在 {subject} 处失败。\n原因：{cause}\n"
        "重新运行：{rerun}",
        "incident.run_failed.rerun_cli": "store-anomaly backfill --start {start} --end {end}，或在 Dagster 界面打开"
        "运行 {run_id}，选择 Re-execute > From failure",
        "incident.run_failed.rerun_ui": "在 Dagster 界面打开运行 {run_id}，选择 Re-execute > From failure",
        "incident.run_failed.no_cause": "运行失败但没有错误信息：请在界面中查看其事件日志",
        "incident.run_missed.title": "[store_anomaly] 每日运行未完成：纽约时间 09:00 前没有 {day} 的成功 {job}",
        "incident.run_missed.body": "截至纽约时间 09:00，{job} 没有任何成功运行写入营业日 {day}（最近一次成功运行："
        "{latest}）。请检查守护进程（systemctl status store-anomaly-daemon）和界面的 Runs 页面；立即运行："
        "store-anomaly backfill --start {start} --end {day}",
        "incident.run_missed.never": "无",
        "incident.check_failed.title": "[store_anomaly] 阻断检查未通过：{subject}",
        "incident.check_failed.body": "阻断检查 {subject} 在运行 {run_id}（{dates}）中未通过：其下游资产未写入。"
        "{detail}\n修正数据或数据源后重新运行：{rerun}",
        "incident.feed_late.title": "[store_anomaly] 数据延迟：{source} 在 {day} 没有任何交易",
        "incident.feed_late.body": "营业日 {day}：{reason}。该日未写入（已有的行保留）；本次运行的其他日期已写入（运行 "
        "{run_id}）。每日运行会自动重读最近几天；数据补齐后也可运行：store-anomaly backfill --start {day} --end {day}",
        "incident.feed_late.reason": "销售订单数据源中没有任何在营门店的交易，且该日既不是公众假日，也不是配置的停业日"
        "（{variable}）",
        "incident.recovered.title": "[store_anomaly] 已恢复：{subject}",
        "incident.recovered.body": "已由运行 {run_id} 于 UTC {at} 解决：{incidents}",
        "incident.recovered.item": "{kind} {subject}{day}，运行 {failed_run}（开启于 UTC {opened}）",
        "incident.kind.run_failed": "运行失败",
        "incident.kind.run_missed": "每日运行未完成",
        "incident.kind.check_failed": "阻断检查未通过",
        "incident.kind.feed_late": "数据延迟",
        "incident.join": "；",
        "incident.all_dates": "无分区范围",
    },
}
