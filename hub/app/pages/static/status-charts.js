// Status page: charts of the last hour (lag in messages and seconds per consumer group, latency p50/p99
// per topic, outbox backlog and age per connector) drawn with Chart.js from /api/status's `history`,
// which the hub samples every 15 s (hub/app/operations.py). Listens for status.js's "hub:status" event.
// Labels (consumer, topic and connector names) reach the canvas as text only: Chart.js never parses HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];
  const charts = {};
  const HOUR = 3600;
  let kept = [];  // the points of the last hour, oldest first; each answer brings only newer ones

  // status.js asks /api/status for the points after this time.
  window.statusHistorySince = () => (kept.length ? kept[kept.length - 1].t : null);

  function merge(history) {
    if (!history) return (kept = []);
    const last = kept.length ? kept[kept.length - 1].t : -Infinity;
    kept = kept.concat(history.points.filter((p) => p.t > last));
    const newest = kept.length ? kept[kept.length - 1].t : 0;
    return (kept = kept.filter((p) => p.t > newest - (history.span_s || HOUR)));
  }

  const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  // One line per name found in any point's `field`; a point without it is a gap, not a zero.
  function series(points, field, suffix = "", dashed = false, colourOf = null) {
    const names = [...new Set(points.flatMap((p) => Object.keys(p[field] || {})))].sort();
    return names.map((name, i) => {
      const colour = colourOf ? colourOf(name) : COLOURS[i % COLOURS.length];
      return {
        label: name + suffix,
        data: points.map((p) => ({ x: p.t, y: name in (p[field] || {}) ? p[field][name] : null })),
        borderColor: colour, backgroundColor: colour, borderDash: dashed ? [5, 4] : [],
        pointRadius: 0, borderWidth: 1.5, spanGaps: false,
      };
    });
  }

  // The x axis is always the hour before the newest point, so a young hub's charts fill from the right.
  function draw(id, datasets, unit, end) {
    const canvas = $(id);
    if (!canvas) return;
    if (charts[id]) {
      charts[id].data.datasets = datasets;
      Object.assign(charts[id].options.scales.x, { min: end - HOUR, max: end });
      charts[id].update("none");
      return;
    }
    charts[id] = new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: { type: "linear", min: end - HOUR, max: end, ticks: { callback: (v) => clock(v), maxTicksLimit: 7 } },
          y: { beginAtZero: true, title: { display: Boolean(unit), text: unit } },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, font: { size: 11 } } },
          tooltip: { callbacks: { title: (items) => (items.length ? clock(items[0].parsed.x) : "") } },
        },
      },
    });
  }

  function render(history) {
    const points = merge(history);
    $("history-note").hidden = Boolean(history);
    const interval = $("history-interval");
    const zh = document.documentElement.lang.startsWith("zh");
    interval.textContent = history ? interval.dataset[zh ? "zh" : "en"].replace("{n}", history.interval_s) : "";
    const end = points.length ? points[points.length - 1].t : Date.now() / 1000;
    draw("chart-lag", series(points, "lag"), "messages", end);
    draw("chart-lag-seconds", series(points, "lag_seconds"), "s", end);
    // p50 solid and p99 dashed, in the same colour per topic.
    const topics = [...new Set(points.flatMap((p) => Object.keys(p.latency_p50 || {})))].sort();
    const colourOf = (name) => COLOURS[topics.indexOf(name) % COLOURS.length];
    draw("chart-latency", [...series(points, "latency_p50", " p50", false, colourOf),
      ...series(points, "latency_p99", " p99", true, colourOf)], "s", end);
    draw("chart-outbox", series(points, "outbox_backlog"), "events", end);
    draw("chart-outbox-age", series(points, "outbox_oldest_s"), "s", end);
  }

  document.addEventListener("hub:status", (event) => render(event.detail.history));
})();
