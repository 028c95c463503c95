"""The pharmacy page in a real browser (Debian chromium driven by Playwright): a pharmacist opens a held
prescription, sees the findings and the other member's medicine, returns it with a reason, and the
decision event arrives for the prescribing member on hub.prescription-review.v1 (the real broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.core.config import HubSettings
from hub.core.events import utcnow
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.api.conftest import Community
from tests.hub.test_outbox import read_all
from tests.pharmacy.factories import (
    IBUPROFEN,
    WARFARIN,
    allergy,
    apply,
    bound_consumer,
    coded,
    egfr,
    local,
    prescription,
)
from tests.pharmacy.test_broker import relay_results

pytestmark = [pytest.mark.browser, pytest.mark.broker]


@pytest.fixture
def settings(broker_settings: HubSettings) -> HubSettings:
    return broker_settings


def test_a_pharmacist_returns_a_held_prescription_and_the_member_hears_of_it(community: Community, served: str,
                                                                             page, broker_settings: HubSettings) -> None:
    consumer = bound_consumer(broker_settings, community.db, utcnow)
    apply(consumer, community.db,
          prescription("9", coded(WARFARIN, "华法林钠片"), facility="cty01", local_id="A77", dose=2.5, unit="mg",
                       per_day=1),
          allergy("1", "J01C", "青霉素类", facility="cty01", local_id="A77"), egfr("e1", 52),
          prescription("5", local("th01", "YP-77", "复方丹参片(本院)")))
    apply(consumer, community.db, prescription("2", coded(IBUPROFEN, "布洛芬缓释胶囊"), dose=0.3, per_day=2))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/pharmacy")
    page.wait_for_selector("#error:not([hidden])")
    page.fill("#token", community.tokens["pharmacist"])
    page.click("text=Use token")
    page.wait_for_selector("#queue tbody tr td.clock")
    assert page.text_content("#queue-total") == "(2)"
    queue = page.inner_text("#queue tbody")
    assert "布洛芬缓释胶囊" in queue and "相互作用" in queue
    assert "YP-77" in page.inner_text("#mappings tbody") and "复方丹参片(本院)" in page.inner_text("#mappings tbody")
    assert page.get_attribute("#stock-link", "href") == "/pharmacy/stock"
    assert "本院" not in page.inner_text("#rules tbody") and page.inner_text("#rules tbody").strip()

    page.click("#queue tr:has-text('布洛芬缓释胶囊') button.open")
    page.wait_for_selector("#decision-section:not([hidden])")
    assert "interaction" in page.inner_text("#findings tbody") and "说明书" in page.inner_text("#findings tbody")
    other = page.inner_text("#medications tr.other-member")
    assert "cty01" in other and "华法林钠片" in other  # the other member's medicine
    assert "青霉素类" in page.inner_text("#allergies tbody") and "cty01" in page.inner_text("#allergies tbody")
    assert "eGFR" in page.inner_text("#labs tbody") and "52" in page.inner_text("#labs tbody")
    page.screenshot(path=str(Path("/tmp") / "hub-pharmacy.png"), full_page=True)

    page.select_option("#decision-action", "return")
    page.select_option("#decision-reason", "interaction")
    page.fill("#decision-text", "与县医院开具的华法林合用，请改用对乙酰氨基酚")
    page.click("#decision-submit")
    page.wait_for_selector("#decision-section", state="hidden")
    page.wait_for_function("document.querySelector('#queue-total').textContent === '(1)'")
    assert "布洛芬缓释胶囊" not in page.inner_text("#queue tbody")
    assert page.is_hidden("#error") and page.is_hidden("#decision-error") and dialogs == []

    relay_results(broker_settings, community)
    codec = EventCodec(FileSchemaRegistry(), broker_settings.topic_prefix)
    messages = read_all(broker_settings, spec_for("prescription_review").topic(broker_settings), 4)
    events = [codec.decode(m.value) for m in messages]
    returned = [e for e in events if e.resource["businessStatus"]["coding"][0]["code"] == "return"]
    assert len(returned) == 1 and returned[0].patient_key == "th01/1"
    task = returned[0].resource
    assert task["focus"] == {"reference": "MedicationRequest/th01-rx-2"}
    assert task["statusReason"]["coding"][0]["code"] == "interaction"
    assert task["note"][0]["text"] == "与县医院开具的华法林合用，请改用对乙酰氨基酚"
    assert task["owner"] == {"display": "pharmacist-chen"}
