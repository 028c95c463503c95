"""Every Prometheus metric of the hub, defined once. Other modules import these objects."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter(
    "hub_events_in_total", "Events accepted by connectors into their outbox.", ["connector", "facility", "event_type"]
)
EVENTS_REJECTED = Counter(
    "hub_events_rejected_total", "Inputs a connector could not turn into an event (sent to the dead letters).",
    ["connector", "facility", "stage"],
)
EVENTS_PUBLISHED = Counter(
    "hub_events_published_total", "Events the outbox relay published to Kafka.", ["connector", "topic"]
)
OUTBOX_BACKLOG = Gauge("hub_outbox_backlog", "Events in a connector's outbox not yet published.", ["connector"])
BROKER_UP = Gauge("hub_broker_reachable", "1 when the connector's relay last reached the broker.", ["connector"])
CONNECTOR_LAST_EVENT = Gauge(
    "hub_connector_last_event_timestamp_seconds", "Unix time of the last accepted input.", ["connector"]
)
EVENTS_CONSUMED = Counter(
    "hub_events_consumed_total", "Events a consumer applied (duplicates excluded).", ["consumer", "topic", "facility"]
)
EVENTS_DUPLICATE = Counter(
    "hub_events_duplicate_total", "Events a consumer had already applied and skipped.", ["consumer", "topic"]
)
DEAD_LETTERS = Counter(
    "hub_dead_letters_total", "Events sent to the dead-letter topic.", ["origin", "stage"]
)
CONSUMER_LAG = Gauge("hub_consumer_lag", "Messages behind the end of a partition.", ["consumer", "topic", "partition"])
HANDLER_SECONDS = Histogram(
    "hub_handler_seconds", "Time to apply one batch in one database transaction.", ["consumer"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_RETRIES = Counter(
    "hub_consumer_retries_total", "Retriable failures (database or broker busy or down).", ["consumer", "kind"]
)
CONSUMER_ASSIGNED = Gauge("hub_consumer_assigned_partitions", "Partitions assigned to a consumer.", ["consumer"])
HTTP_REQUESTS = Counter("hub_http_requests_total", "HTTP requests by route and status.", ["method", "route", "status"])
# Outbound delivery to members (consumers/delivery). `destination` is facility/name (th01/mllp): one
# per configured destination, so the label stays bounded.
DELIVERY_QUEUED = Gauge("hub_delivery_queued", "Messages waiting for a member's destination.", ["destination"])
DELIVERY_OLDEST_SECONDS = Gauge(
    "hub_delivery_oldest_queued_seconds", "Age of the oldest message waiting for a destination (0: none).",
    ["destination"],
)
DELIVERY_SENT = Counter("hub_delivery_sent_total", "Messages sent to a destination (resends included).", ["destination"])
DELIVERY_ACKNOWLEDGED = Counter(
    "hub_delivery_acknowledged_total", "Messages a destination accepted (MLLP AA/CA, HTTP 2xx).", ["destination"]
)
DELIVERY_REFUSED = Counter(
    "hub_delivery_refused_total", "Messages a destination refused (MLLP AE/AR, HTTP 4xx): dead-lettered.",
    ["destination"],
)
DELIVERY_FAILURES = Counter(
    "hub_delivery_failures_total", "Attempts that will be retried (down, timeout, 5xx), by kind.",
    ["destination", "kind"],
)
DELIVERY_UP = Gauge("hub_delivery_destination_up", "1 while a destination answers, 0 while it is failing.",
                    ["destination"])
DELIVERY_UNROUTED = Counter(
    "hub_delivery_unrouted_total", "Results for members that name no destination (`deliver_to`).", ["facility"]
)

# Operations (issue 13): lag in time, latency from the member's system to a view, silent members, disk.
CONSUMER_LAG_SECONDS = Gauge(
    "hub_consumer_lag_seconds",
    "Age of the oldest event a consumer group has not applied yet, per partition (0 when caught up; idle groups too).",
    ["consumer", "topic", "partition"],
)
EVENT_LATENCY = Histogram(
    "hub_event_latency_seconds",
    "From the member system recording a fact (HIS row time, MLLP receipt, DICOM arrival) to a view applying it.",
    ["consumer", "topic", "facility"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "hub_outbox_oldest_seconds", "Age of the oldest unpublished event in a connector's outbox (0: empty).",
    ["connector"],
)
FACILITY_LAST_EVENT = Gauge(
    "hub_facility_last_event_timestamp_seconds", "Unix time of the last event from a member facility.", ["facility"]
)
FACILITY_SILENCE_THRESHOLD = Gauge(
    "hub_facility_silence_threshold_seconds",
    "How long a member may stay quiet now, judged from its own usual traffic at this hour of the week.",
    ["facility"],
)
FACILITY_SILENT = Gauge(
    "hub_facility_silent", "1 while a member has been quiet for longer than its threshold.", ["facility"]
)
DATA_DISK_FREE = Gauge("hub_data_disk_free_bytes", "Free space on the disk of the data directory (outboxes, blobs).")
DATA_DISK_SIZE = Gauge("hub_data_disk_size_bytes", "Size of the disk of the data directory (outboxes, blobs).")


def family_name(metric: Any) -> str:
    """The name of a metric's family as a collection or a parsed /metrics text has it (a counter's
    without `_total`): other processes' metrics are found by it, never by a name written again."""
    return str(metric._name)  # noqa: SLF001 - prometheus_client keeps it there
