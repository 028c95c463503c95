"""The delivery section of the status page in a real browser: one row per destination, a failing one
in red, the member's refusal shown as text; Chinese headings for a Chinese reader."""

from __future__ import annotations

import pytest

from consumers.delivery.models import REFUSED, DestinationState, OutboundMessage
from hub.core.events import utcnow
from tests.api.conftest import Community, community, page, served  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_status_page_shows_each_destination(community: Community, served: str, page) -> None:  # noqa: F811
    with community.db.transaction() as session:
        session.add(DestinationState(key="th01/mllp", facility_id="th01", kind="mllp", address="10.1.1.5:2575",
                                     sent_total=3, acknowledged_total=2, refused_total=1, failing_since=utcnow(),
                                     last_error="<b>cannot connect</b> to 10.1.1.5:2575: Connection refused"))
        session.add(DestinationState(key="th02/fhir", facility_id="th02", kind="fhir", address="https://th02/fhir",
                                     sent_total=5, acknowledged_total=5, refused_total=0))
        session.add(OutboundMessage(message_id="M1", event_id="e1", event_type="diagnostic_report",
                                    destination="th01/mllp", facility_id="th01", patient_key="th01/1",
                                    resource="DiagnosticReport/x", content_type="x", body=b"MSH|", state=REFUSED,
                                    attempts=1, last_error="AE: 未知检查项目"))
    page.context.add_cookies([{"name": "hub_lang", "value": "zh", "url": served}])
    page.goto(f"{served}/status")
    page.fill("#token", community.tokens["admin"])
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#part-delivery tbody tr td")
    assert page.inner_text("#part-delivery h2") == "结果回传 · 各接收端"
    assert "接收端" in page.inner_text("#part-delivery thead")
    rows = page.locator("#part-delivery tbody tr")
    assert rows.count() == 2
    failing = rows.nth(0)
    assert failing.get_attribute("class") == "bad"
    assert "<b>cannot connect</b>" in failing.inner_text()  # text, never markup
    assert rows.nth(1).get_attribute("class") != "bad"
    assert "hub delivery retry" in page.inner_text("#part-delivery")
