"""Evidence helpers: the peers' window changes are computed in batches of episodes with the same result."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from store_anomaly.alerts.evidence import peer_window_changes, window_changes


def test_peer_window_changes_in_batches_equal_one_join():
    rng = np.random.default_rng(3)
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(200)]
    shops = [f"US{n:05d}" for n in range(6)]
    long = pl.DataFrame(
        {
            "shop_no": np.repeat(shops, len(days) * 2),
            "metric_date": days * len(shops) * 2,
            "metric_name": np.tile(np.repeat(["revenue", "order_count"], len(days)), len(shops)),
            "value": rng.normal(100, 10, len(shops) * len(days) * 2),
        }
    ).with_columns(pl.col("metric_date").dt.weekday().alias("weekday"))
    starts = [date(2025, 2, 1) + timedelta(days=int(n)) for n in rng.integers(0, 120, 9)]
    windows = pl.DataFrame(
        {
            "key": range(9),
            "metric_name": ["revenue", "order_count", "revenue"] * 3,
            "after_from": starts,
            "after_to": [
                start + timedelta(days=int(n)) for start, n in zip(starts, rng.integers(0, 40, 9), strict=True)
            ],
            "before_from": [start - timedelta(days=28) for start in starts],
            "before_to": [start - timedelta(days=1) for start in starts],
        }
    )
    peer_windows = windows.join(pl.DataFrame({"shop_no": shops}), how="cross")
    order = ["key", "shop_no", "metric_name"]

    expected = window_changes(long, peer_windows).sort(order)
    for batch in (1, 2, 4, 100):
        assert peer_window_changes(long, peer_windows, batch).sort(order).equals(expected), batch
