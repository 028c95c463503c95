"""The drug supply metrics (Prometheus), defined once. Labels are bounded: warning kinds and delivery
states; no label per drug or per member."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STOCK_EVENTS = Counter("hub_supply_stock_events_total",
                       "Stock records applied, by kind (snapshot, receipt, dispense, transfer_in, transfer_out, loss, "
                       "expiry, adjustment); duplicates (a movement id seen before) are counted as duplicate.", ["kind"])
RAISED = Counter("hub_supply_warnings_raised_total",
                 "Stock warnings raised, by kind: stockout, low (days of supply), near_expiry, shortage (county).",
                 ["kind"])
CLEARED = Counter("hub_supply_warnings_cleared_total", "Stock warnings cleared, by kind.", ["kind"])
OPEN = Gauge("hub_supply_warnings_open", "Stock warnings open now, by kind (shortage: county-level shortages).",
             ["kind"])
SHORTAGES_OPEN = Gauge("hub_supply_county_shortages_open",
                       "County-level drug shortages open now (several members low on or out of the same drug).")
UNKNOWN_DRUGS = Gauge("hub_supply_unknown_drugs", "Member drug codes in stock that the community catalogue does "
                      "not know (kept and shown, waiting for a mapping).")
DELIVERIES = Counter("hub_supply_deliveries_total", "Deliveries to village clinics by the state they reached "
                     "(requested, shipped, received, cancelled).", ["state"])
FILL_RATE = Gauge("hub_supply_delivery_fill_rate", "配送到位率: received quantity over requested quantity of "
                  "the deliveries received so far (0 to 1).")
ON_TIME = Gauge("hub_supply_delivery_on_time_share", "Share of received deliveries received within the "
                "configured hours of their request (0 to 1).")
