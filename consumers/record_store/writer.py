"""The record store's writer: resources and member records (store.py) with link changes (links.py)."""

from __future__ import annotations

from consumers.record_store.links import LinkEditor
from consumers.record_store.models import PatientLink
from consumers.record_store.store import MATCHER, ResourceWriter
from hub.core.events import Event


class RecordWriter(ResourceWriter):
    def merge(self, event: Event) -> None:
        LinkEditor(self, actor=f"{event.source.facility_id} (HL7 A40)").apply_a40(event)

    def move_link(self, link: PatientLink, community_id: str, detail: str) -> None:
        LinkEditor(self, MATCHER).move(link, community_id, "link", detail=detail)
