"""Runs one connector: its outbox, the relay that publishes it, and the connector's own loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.core.config import HubSettings
from hub.core.connector import Connector, ConnectorConfig
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.pipeline import Sink
from hub.core.retry import Backoff
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec

log = logging.getLogger(__name__)

# A connector whose source is down fails again at once: wait 1 s, then 2, 4, ... up to 60 s, each
# moved by up to 20% so that connectors failing together do not retry in step.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 60.0
RESTART_JITTER = 0.2
# A connector that served this long before failing was healthy: its next restart waits 1 s again.
HEALTHY_AFTER_S = 300.0


@dataclass
class ConnectorRuntime:
    config: ConnectorConfig
    connector: Connector
    outbox: Outbox
    relay: OutboxRelay
    sink: Sink

    @classmethod
    def build(cls, config: ConnectorConfig, settings: HubSettings, kind: type[Connector],
              codec: EventCodec | None = None) -> ConnectorRuntime:
        """The runtime of one connector of `kind` (the class its registry names for config.kind)."""
        connector = kind(config, settings)
        outbox = Outbox(settings.outbox_path(config.name), config.name)
        relay = OutboxRelay(outbox, settings)
        codec = codec or EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)
        sink = Sink(config.name, config.facility_id, outbox, codec, settings, relay, connector.facilities())
        return cls(config, connector, outbox, relay, sink)

    def threads(self, stop: threading.Event) -> list[threading.Thread]:
        """Two threads: the connector reading its source, and the relay publishing the outbox."""
        return [
            threading.Thread(target=self._serve, args=(stop,), name=f"connector-{self.config.name}", daemon=True),
            threading.Thread(target=self.relay.run, args=(stop,), name=f"relay-{self.config.name}", daemon=True),
        ]

    def _serve(self, stop: threading.Event, clock: Callable[[], float] = time.monotonic) -> None:
        backoff = Backoff(initial_s=RESTART_FIRST_S, max_s=RESTART_MAX_S, jitter=RESTART_JITTER)
        while not stop.is_set():
            started = clock()
            try:
                self.connector.serve(stop, self.sink)
            except Exception:  # noqa: BLE001 - a source hiccup must not end the connector
                if clock() - started >= HEALTHY_AFTER_S:
                    backoff.reset()
                delay = backoff.next()
                log.exception("connector %s failed; restarting in %.1f s", self.config.name, delay)
                stop.wait(delay)
        self.connector.close()
