"""A small version of the loopback load test (``python -m mfpsn.tools.loadtest`` runs 8 clients × 25 requests).

Concurrent ``gradio_client`` clients mix every endpoint, including deliberately bad settings that must come back
as app errors; the test requires zero failures and that every endpoint of the mix was exercised.
"""
from __future__ import annotations

import math

import pytest

from mfpsn.tools.loadtest import percentile, request_mix, run_load


def test_percentile_nearest_rank():
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([5, 1, 3, 2, 4], 95) == 5
    assert percentile([7], 95) == 7 and math.isnan(percentile([], 50))


@pytest.mark.slow
def test_concurrent_clients_mixing_endpoints():
    from mfpsn.tools.loadtest import launch_app

    mix = request_mix()
    demo = launch_app()
    try:
        result = run_load(demo.local_url, clients=4, requests=len(mix) - 3)  # (c + i) covers every entry
    finally:
        demo.close()
    summary = result.summary()
    assert summary["failures"] == 0, summary.get("first_failures")
    assert summary["requests"] == sum(len(v) for v in result.latencies.values())
    assert set(result.latencies) == {endpoint for endpoint, _, _ in mix}
    assert 0 < summary["p50_s"] <= summary["p95_s"]
