"""The critical-value metrics (Prometheus), defined once. Labels are bounded: sources, levels and the
analytes of the rules file."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RAISED = Counter("hub_critical_notices_raised_total",
                 "Critical-value notices raised (a new notice or changed values), by source: lab_rule (a limit of "
                 "the rules), lab_flag (the sending laboratory's HH/LL/AA), reader (a reader's report).", ["source"])
ACKNOWLEDGED = Counter("hub_critical_notices_acknowledged_total",
                       "Critical-value notices acknowledged by the member, by the level they had reached.", ["level"])
ACK_SECONDS = Histogram("hub_critical_ack_seconds", "Time from raising a critical-value notice to its acknowledgement.",
                        buckets=(60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400))
ESCALATIONS = Counter("hub_critical_escalations_total",
                      "Escalations of unacknowledged notices: level 1 sent again to the member, level 2 the county "
                      "duty doctors called.", ["level"])
WITHDRAWN = Counter("hub_critical_notices_withdrawn_total",
                    "Open notices withdrawn because a later version of the report holds no critical value.")
OPEN = Gauge("hub_critical_notices_open", "Critical-value notices not yet acknowledged, by level.", ["level"])
UNCHECKED = Counter("hub_critical_unchecked_total",
                    "Lab values a critical-value rule covers whose unit could not be converted (never compared).",
                    ["analyte"])
