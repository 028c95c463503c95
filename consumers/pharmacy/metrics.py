"""The central pharmacy's metrics (Prometheus), defined once. Labels are bounded: outcomes and decisions."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REVIEWED = Counter("hub_pharmacy_prescriptions_reviewed_total",
                   "Prescriptions reviewed by the rules, by outcome: pass, warn (the prescriber is told) or hold "
                   "(a pharmacist must decide).", ["outcome"])
DECIDED = Counter("hub_pharmacy_decisions_total",
                  "Pharmacists' decisions on held prescriptions: approve, return (for change) or override.",
                  ["decision"])
DECISION_SECONDS = Histogram("hub_pharmacy_decision_seconds",
                             "Time from holding a prescription to the pharmacist's decision.",
                             buckets=(60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400))
QUEUE = Gauge("hub_pharmacy_queue_depth", "Held prescriptions waiting for a pharmacist.")
UNMAPPED = Gauge("hub_pharmacy_unmapped_codes", "Members' local drug codes waiting in the mapping queue.")
FAILSAFE = Counter("hub_pharmacy_failsafe_total",
                   "Prescriptions held because the rules could not run (engine error, unrecognised drug).", ["kind"])
