"""Runs one connector: its outbox, the relay that publishes it, and the connector's own loop."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from hub.core.config import HubSettings
from hub.core.connector import Connector, ConnectorConfig
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.pipeline import Sink
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec

log = logging.getLogger(__name__)


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

    def _serve(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.connector.serve(stop, self.sink)
            except Exception:  # noqa: BLE001 - a source hiccup must not end the connector
                log.exception("connector %s failed; restarting in 5 s", self.config.name)
                stop.wait(5)
        self.connector.close()
