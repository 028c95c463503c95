"""Which destinations a result goes to: the `deliver_to` entries of the member's connector configs,
gathered per facility. Two configs of one member may both list a destination only if they agree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from hub.core.connector import ConnectorConfig, ConnectorConfigError
from hub.core.destinations import FhirDestination, MllpDestination, destination_key
from hub.core.events import Event

AnyDestination = MllpDestination | FhirDestination


@dataclass(frozen=True)
class Route:
    key: str  # facility/name, e.g. th01/mllp
    facility_id: str
    destination: AnyDestination

    @property
    def address(self) -> str:
        """Where it goes, safe to show (no token, no headers)."""
        d = self.destination
        if isinstance(d, MllpDestination):
            return f"{d.host}:{d.port}"
        return shown_url(d.url)


def shown_url(url: str) -> str:
    """A URL fit for logs, status and errors: without a user:password or a query (which may hold a key)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def routes_from(configs: Iterable[ConnectorConfig]) -> dict[str, tuple[Route, ...]]:
    """Destinations by facility id, in the order the configs list them."""
    found: dict[str, dict[str, Route]] = {}
    for config in configs:
        for destination in config.deliver_to:
            route = Route(destination_key(config.facility_id, destination), config.facility_id, destination)
            earlier = found.setdefault(config.facility_id, {}).get(route.key)
            if earlier is not None and earlier.destination != destination:
                raise ConnectorConfigError(
                    f"connector {config.name}: deliver_to names {route.key} differently from another connector "
                    f"of {config.facility_id}; list it once, or give the second its own `name`"
                )
            found[config.facility_id][route.key] = route
    return {facility: tuple(routes.values()) for facility, routes in found.items()}


def all_routes(routes: Mapping[str, tuple[Route, ...]]) -> list[Route]:
    return [route for per_facility in routes.values() for route in per_facility]


def member_of(event: Event) -> tuple[str, str]:
    """The member a result belongs to and its own patient id: from the patient key (facility/local id),
    the ordering member's; the event's source facility when the key names none."""
    facility, slash, local_id = event.patient_key.partition("/")
    if not slash or not facility:
        return event.source.facility_id, event.patient_key
    return facility, local_id
