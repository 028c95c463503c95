"""The HIS-database connector: reads a member's HIS tables through a vendor mapping file."""

from hub.core.parts import Part

PART = Part(
    name="his_db",
    description="Polls a member HIS database (changed rows, deletions) through a vendor mapping file.",
    connector="connectors.his_db.connector:HisDbConnector",
)
