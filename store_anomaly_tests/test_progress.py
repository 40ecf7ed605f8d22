"""`store-anomaly backfill`'s progress: one line per step start and end with the elapsed time, or a bar on a
terminal; failures said in either."""

import io
from types import SimpleNamespace

from dagster import DagsterEventType

from store_anomaly.runner import StepProgress


def event(kind: DagsterEventType, step: str | None = "spc"):
    return SimpleNamespace(dagster_event=SimpleNamespace(event_type=kind, step_key=step))


def test_plain_lines_name_each_step_with_the_elapsed_time():
    out = io.StringIO()  # no terminal: plain lines
    progress = StepProgress(2, out)
    progress(event(DagsterEventType.STEP_START, "store_daily_metrics"))
    progress(event(DagsterEventType.ASSET_MATERIALIZATION, "store_daily_metrics"))  # not a step's start or end
    progress(event(DagsterEventType.STEP_SUCCESS, "store_daily_metrics"))
    progress(event(DagsterEventType.RUN_START, None))
    progress(event(DagsterEventType.STEP_START, "spc"))
    progress(event(DagsterEventType.STEP_FAILURE, "spc"))
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[0:00] planning and recording the run (2 steps)"
    assert lines[1] == "[0:00] store_daily_metrics started"
    assert lines[2].startswith("[0:00] 1/2 store_daily_metrics done in 0.0 s")
    assert lines[3] == "[0:00] spc started"
    assert lines[4].startswith("[0:00] 2/2 spc FAILED in")
    assert len(lines) == 5


def test_on_a_terminal_a_bar_counts_the_steps_and_failures_are_lines():
    out = io.StringIO()
    progress = StepProgress(3, out, bar=True)
    progress(event(DagsterEventType.STEP_START, "spc"))
    progress(event(DagsterEventType.STEP_SUCCESS, "spc"))
    progress(event(DagsterEventType.STEP_START, "store_anomaly_alerts"))
    progress(event(DagsterEventType.STEP_SKIPPED, "store_anomaly_alerts"))
    progress.close()
    text = out.getvalue()
    assert "1/3 steps" in text and "running spc" in text
    assert "2/3 store_anomaly_alerts skipped" in text
