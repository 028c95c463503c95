"""The status page's members section in a real browser (Debian chromium driven by Playwright), in English
and Chinese: a silent member in red and named, a sending one not, a facility id with markup shown as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumers.member_traffic.consumer import MemberTrafficConsumer
from tests.api.conftest import Community
from tests.member_traffic.traffic import apply_events, event_at

pytestmark = pytest.mark.browser


def steady(facility: str, start: datetime, end: datetime, every_min: int = 10) -> list:
    events, moment = [], start
    while moment <= end:
        events.append(event_at(facility, moment))
        moment += timedelta(minutes=every_min)
    return events


def test_members_section_shows_who_is_silent(community: Community, served: str, page) -> None:
    now = datetime.now(UTC)
    consumer = MemberTrafficConsumer(community.client.app.state.settings)
    apply_events(community.db, consumer, steady("th07", now - timedelta(days=14), now - timedelta(hours=3)))
    apply_events(community.db, consumer, steady("th08", now - timedelta(days=14), now - timedelta(minutes=1)))
    apply_events(community.db, consumer, steady("<b>vc09</b>", now - timedelta(days=2), now - timedelta(hours=5)))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.context.add_cookies([{"name": "hub_lang", "value": "en", "url": served}])
    page.goto(f"{served}/status")
    page.fill("#token", community.tokens["admin"])
    page.click("text=Use token")
    page.wait_for_selector("#members-table tbody tr td")

    assert page.text_content("#members-silent") == "Silent members: th07"
    assert "bad" in page.get_attribute("#members-silent", "class")
    rows = {row.split("\t")[0]: row.split("\t") for row in page.inner_text("#members-table tbody").splitlines()}
    assert rows["th07"][1] == "SILENT" and rows["th08"][1] == "sending"
    assert rows["<b>vc09</b>"][1] == "learning" and rows["<b>vc09</b>"][4] == "–"  # shown as text, no threshold
    assert page.get_attribute("#members-table tbody tr:first-child", "class") is None  # th07 sorts after "<b>"
    assert page.locator("#members-table tbody tr.bad").count() == 1
    assert page.locator("#members-table b").count() == 0

    page.context.add_cookies([{"name": "hub_lang", "value": "zh", "url": served}])
    page.reload()
    page.wait_for_selector("#members-table tbody tr td")
    assert "成员单位" in page.text_content("#members h2")
    assert page.text_content("#members-silent") == "沉默的成员单位：th07"
    assert "沉默" in page.inner_text("#members-table tbody tr.bad")
    page.screenshot(path="/tmp/hub-status-members.png", full_page=True)
    assert dialogs == []
