"""The image archive over the API test community: files go through the dicom connector's ingest (as
the inbox and STOW-RS do), then the archive consumer and the record store apply the events."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from connectors.dicom.ingest import ingest_dicom
from consumers.image_archive.consumer import ImageArchiveConsumer
from consumers.record_store.writer import RecordWriter
from hub.core.blobs import FileBlobStore
from hub.core.consumer import Delivery
from hub.core.events import Event
from tests.api.conftest import Community, community, page, served  # noqa: F401 - fixtures

READ = "1.2.840.10008.5.1.4.1.1.2"


def ingest(community: Community, files: Sequence[bytes], facility: str = "th01") -> list[Event]:  # noqa: F811
    """Each file as the connector would publish it, applied by the archive and the record store."""
    settings = community.client.app.state.settings
    blobs = FileBlobStore(settings.data_dir / "blobs")
    events = []
    for index, data in enumerate(files):
        result = ingest_dicom(data, f"file-{index}.dcm", facility, blobs)
        assert result.events, [r.reason for r in result.rejected]
        events.append(result.events[0])
    apply(community, events)
    return events


def apply(community: Community, events: Sequence[Event]) -> None:  # noqa: F811
    settings = community.client.app.state.settings
    consumer = ImageArchiveConsumer(settings)
    with community.db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])
        writer = RecordWriter(session)
        for event in events:
            writer.apply(event)
        writer.finish()


@pytest.fixture
def reader(community: Community) -> dict[str, str]:  # noqa: F811
    return {"Authorization": f"Bearer {community.tokens['reader']}"}
