"""The reading centres' Prometheus metrics, defined once. Labels are bounded: three centres, four
priorities, a handful of states, and reader names (the centre's accounts)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge("hub_reading_queue_depth", "Open reading items per centre, priority and state "
                    "(waiting, ready, claimed).", ["centre", "priority", "state"])
AT_RISK = Gauge("hub_reading_at_risk", "Open reading items past the at-risk share of their target.", ["centre"])
UNORDERED = Gauge("hub_reading_unordered_arrivals", "Studies that arrived without an order and wait.", ["centre"])
BREACHES = Counter("hub_reading_breaches_total", "Reading items that passed their turnaround target.",
                   ["centre", "priority"])
ESCALATIONS = Counter("hub_reading_escalations_total", "Breached items escalated (backup readers, duty expert).",
                      ["centre", "level"])
LAPSED = Counter("hub_reading_leases_lapsed_total", "Claims whose lease ran out and went back to the worklist.",
                 ["centre"])
TURNAROUND = Histogram("hub_reading_turnaround_seconds", "From ready to read to the signed final report.",
                       ["centre", "priority"],
                       buckets=(60, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400, 172800, 432000, 864000))
TURNAROUND_QUANTILE = Gauge("hub_reading_turnaround_quantile_seconds",
                            "Turnaround of the reports of the last 7 days (quantile 0.5 and 0.9) per centre and "
                            "modality (all: the whole centre; unlisted modalities: other).",
                            ["centre", "modality", "quantile"])
REPORTS = Counter("hub_reading_reports_total", "Report versions signed.", ["centre", "status"])
READER_REPORTS = Counter("hub_reading_reader_reports_total", "Final reports signed per reader.", ["centre", "reader"])
CRITICAL = Counter("hub_reading_critical_total", "Report versions that mark a critical value.", ["centre"])
