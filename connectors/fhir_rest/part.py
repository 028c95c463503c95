"""The FHIR REST connector: members push FHIR resources and Bundles to the hub."""

from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.parts import Part

PART = Part(
    name="fhir_rest",
    description="FHIR R4 create, update and transaction Bundles pushed by member systems.",
    connector="connectors.fhir_rest.connector:FhirRestConnector",
    instances="connectors.fhir_rest.part:instances",
    routers=("connectors.fhir_rest.routes:router",),
)


# The hub's own instance: its sink sits behind POST /fhir; callers are members named by their token.
def instances(settings: HubSettings) -> list[ConnectorConfig]:
    return [ConnectorConfig(name="fhir-rest", kind="fhir_rest", facility_id="hub")]
