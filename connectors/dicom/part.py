"""The DICOM connector: a watched inbox and STOW-RS, files kept in the blob store."""

from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.parts import Part

PART = Part(
    name="dicom",
    description="DICOM studies and ECG waveforms from an inbox folder or STOW-RS.",
    connector="connectors.dicom.connector:DicomInboxConnector",
    instances="connectors.dicom.part:instances",
    routers=("connectors.dicom.routes:router",),
)


# The hub's own instance: the DICOM inbox (HUB_DICOM_INBOX) holds files from the county hospital's own
# devices; STOW-RS callers are members named by their token.
def instances(settings: HubSettings) -> list[ConnectorConfig]:
    return [ConnectorConfig(name="dicom", kind="dicom", facility_id=settings.facility_id)]
