"""The status page's figures of the last hour: /api/status carries them, Chart.js draws them (issue 13)."""

from __future__ import annotations

import time

import pytest

from hub.app.operations import OperationsHistory, Point
from hub.core import metrics
from hub.core.lag import PartitionLag
from tests.api.conftest import Community, auth

CHARTS = ("chart-lag", "chart-lag-seconds", "chart-latency", "chart-outbox", "chart-outbox-age")


def an_hour(community: Community) -> None:
    """Two consumer groups, one stopped and falling behind; one topic's latency; one outbox."""
    history = OperationsHistory(interval_s=15)
    start = time.time() - 40 * 15
    for i in range(40):
        history.add(Point(
            t=start + i * 15,
            lag={"record_store": 0, "reading": 3 * i},
            lag_seconds={"record_store": 0.0, "reading": 15.0 * i},
            latency_p50={"t.hub.patient.v1": 0.4}, latency_p99={"t.hub.patient.v1": 2.0 + i % 3},
            outbox_backlog={"th01-his": i % 5}, outbox_oldest_s={"th01-his": float(i % 5)},
        ))
    community.runtime.operations = history
    community.runtime.lags = [
        PartitionLag("record_store", "t.hub.patient.v1", 0, 10, 10, 0, 0.0),
        PartitionLag("reading", "t.hub.imaging_request.v1", 2, 5, 122, 117, 585.0),
    ]


def test_status_api_carries_lag_seconds_latency_and_the_last_hour(community: Community) -> None:
    an_hour(community)
    topic = "t-api.hub.lab_result.v1"  # private to this test: the histogram is process-wide
    for seconds in (0.2, 0.3, 0.4, 7.0):
        metrics.EVENT_LATENCY.labels("record_store", topic, "th01").observe(seconds)
    status = community.client.get("/api/status", headers=auth(community.tokens["admin"])).json()
    reading = next(c for c in status["consumers"] if c["name"] == "reading")
    assert reading["lag"] == {"t.hub.imaging_request.v1[2]": 117}
    assert reading["lag_seconds"] == {"t.hub.imaging_request.v1[2]": 585.0}
    assert reading["max_lag_seconds"] == 585.0 and reading["total_lag"] == 117
    latency = next(t for t in status["latency"] if t["topic"] == topic)
    assert latency["events"] == 4 and 0.25 <= latency["p50_s"] <= 0.5 and 5 <= latency["p99_s"] <= 10
    points = status["history"]["points"]
    assert len(points) == 40 and status["history"]["interval_s"] == 15
    newer = community.client.get(f"/api/status?history_since={points[-3]['t']}", headers=auth(community.tokens["admin"]))
    assert [p["t"] for p in newer.json()["history"]["points"]] == [p["t"] for p in points[-2:]]
    assert status["data_disk_size_bytes"] > status["data_disk_free_bytes"] > 0


@pytest.mark.browser
def test_status_page_draws_the_last_hour_with_chartjs_from_this_host_only(
    community: Community, served: str, page
) -> None:
    an_hour(community)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{served}/status")
    page.fill("#token", community.tokens["admin"])
    page.click("text=Use token")
    page.wait_for_function("() => typeof Chart !== 'undefined' && !!Chart.getChart(document.getElementById('chart-outbox-age'))")
    for chart in CHARTS:
        drawn = page.evaluate(
            """(id) => {
                const canvas = document.getElementById(id);
                const chart = Chart.getChart(canvas);
                const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let inked = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
                return { labels: chart.data.datasets.map((d) => d.label),
                         points: chart.data.datasets.map((d) => d.data.length), inked, width: canvas.width };
            }""",
            chart,
        )
        assert drawn["width"] > 100 and drawn["inked"] > 500, (chart, drawn)
        assert drawn["points"] and set(drawn["points"]) == {40}, (chart, drawn)
    labels = page.evaluate("Chart.getChart(document.getElementById('chart-lag-seconds')).data.datasets.map((d) => d.label)")
    assert labels == ["reading", "record_store"]
    latency = page.evaluate("Chart.getChart(document.getElementById('chart-latency')).data.datasets.map((d) => d.label)")
    assert latency == ["t.hub.patient.v1 p50", "t.hub.patient.v1 p99"]
    last = page.evaluate("Chart.getChart(document.getElementById('chart-lag-seconds')).data.datasets[0].data.at(-1).y")
    assert last == 15.0 * 39
    row = page.inner_text("#consumers tbody tr:has-text('reading')")
    assert "585.0" in row and "t.hub.imaging_request.v1[2]: 117 (585.0 s)" in row
    assert "th01-his" in page.inner_text("#connectors tbody")
    assert page.text_content("#history-interval") == "每 15 秒采样一次"
    page.screenshot(path="/tmp/hub-status-charts.png", full_page=True)

    # The next answer brings only the new point; the chart keeps the others.
    history = community.runtime.operations
    assert history is not None
    newest = history.points[-1]
    history.add(Point(t=newest.t + 15, lag={"reading": 999}, lag_seconds={"reading": 1234.0}, latency_p50={},
                      latency_p99={}, outbox_backlog={}, outbox_oldest_s={}))
    page.fill("#token", community.tokens["admin"])
    page.click("text=Use token")
    page.wait_for_function("Chart.getChart(document.getElementById('chart-lag-seconds')).data.datasets[0].data.length === 41")
    assert page.evaluate("Chart.getChart(document.getElementById('chart-lag-seconds')).data.datasets[0].data.at(-1).y") == 1234.0
    assert any(f"history_since={newest.t}" in url for url in requests)
    assert requests and all(url.startswith("http://127.0.0.1:") for url in requests), requests
    assert any(url.endswith("/static/vendor/chart.umd.js") for url in requests)
