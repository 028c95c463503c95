"""County monitoring indicators (县域医共体监测指标): figures per month and member, live from the events."""
