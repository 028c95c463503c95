"""The FHIR REST connector: the outbox and sink behind `POST /fhir` and `POST /fhir/{type}`.

It has no loop of its own; the HTTP API calls `ingest`. The caller's token decides the facility,
so the connector speaks for whichever member the API has authenticated.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel

from hub.core.connector import ANY_FACILITY, Connector
from hub.core.pipeline import Sink


class FhirRestOptions(BaseModel):
    pass


class FhirRestConnector(Connector):
    kind = "fhir_rest"
    Options = FhirRestOptions

    def __init__(self, config: Any, settings: Any) -> None:
        super().__init__(config, settings)
        self.sink: Sink | None = None

    def facilities(self) -> set[str]:
        return ANY_FACILITY  # the API checks the caller's facility before anything reaches the sink

    def serve(self, stop: threading.Event, sink: Sink) -> None:
        self.sink = sink  # the API finds the sink here
        stop.wait()
