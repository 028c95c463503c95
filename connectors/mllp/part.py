"""The HL7 v2 connector: an MLLP listener for ADT, ORU and ORM messages."""

from hub.core.parts import Part

PART = Part(
    name="mllp",
    description="HL7 v2 over MLLP: acknowledges (AA/AE/AR) only what its outbox holds.",
    connector="connectors.mllp.connector:MllpConnector",
)
