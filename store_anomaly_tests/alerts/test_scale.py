"""The alerts at scale: the evidence computed a chunk of stores (and a batch of episodes) at a time equals one
pass."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from store_anomaly.alerts import episodes as episodes_module
from store_anomaly.alerts import evidence as evidence_module
from store_anomaly.alerts.config import AlertConfig
from store_anomaly.alerts.episodes import build_alerts
from store_anomaly.alerts.evidence import cannibalization_suspects, episode_context
from store_anomaly_tests.alerts.synthetic import flag, flags_frame, make_limits_and_flags, make_metrics, slide

pytestmark = pytest.mark.xdist_group("test_alerts_scale")

SLIDE_START = date(2025, 9, 22)


@pytest.fixture(scope="module")
def chain() -> tuple[pl.DataFrame, pl.DataFrame]:
    metrics = make_metrics(traffic=slide("US00001", SLIDE_START))
    _, flags = make_limits_and_flags(metrics)
    # a peer whose orders rise while the flagship slides, and a short episode elsewhere
    extra = [flag(SLIDE_START + timedelta(days=d), "US00004", "order_count", direction="up") for d in (5, 7, 9)]
    extra += [flag(date(2025, 11, 3) + timedelta(days=d), "US00007", "qc_score") for d in (0, 2)]
    flags = pl.concat([flags, flags_frame(extra)], how="vertical_relaxed")
    return metrics, flags


def test_chunked_evidence_equals_one_pass(chain, monkeypatch):
    metrics, flags = chain
    whole = build_alerts(flags, metrics, None, AlertConfig())
    monkeypatch.setattr(evidence_module, "SCORED_PER_BATCH", 1)
    monkeypatch.setattr(episodes_module, "episode_context", partial(episode_context, chunk_stores=1))
    monkeypatch.setattr(
        episodes_module, "cannibalization_suspects", partial(cannibalization_suspects, candidates_per_batch=1)
    )
    chunked = build_alerts(flags, metrics, None, AlertConfig())
    assert whole.height > 2
    assert_frame_equal(whole, chunked)
