"""A consumer with costly events applies fewer at a time: SQLite has one write lock for the whole hub."""

from consumers.pharmacy.consumer import PharmacyConsumer
from consumers.record_store.consumer import RecordStoreConsumer
from hub.core.config import HubSettings
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec


def test_a_consumers_own_limit_caps_its_batches(settings: HubSettings, db: Database) -> None:
    codec = EventCodec(FileSchemaRegistry())
    assert ConsumerRunner(RecordStoreConsumer(settings), settings, db, codec).batch_size == settings.consumer_batch_size
    assert PharmacyConsumer.max_batch is not None
    capped = ConsumerRunner(PharmacyConsumer(settings), settings, db, codec)
    assert capped.batch_size == min(PharmacyConsumer.max_batch, settings.consumer_batch_size)
    small = settings.model_copy(update={"consumer_batch_size": 5})
    assert ConsumerRunner(PharmacyConsumer(small), small, db, codec).batch_size == 5  # the setting still bounds it
