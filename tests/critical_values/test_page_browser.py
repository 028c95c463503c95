"""The critical-value page in a real browser (Debian chromium driven by Playwright): a member sees its
open notice with a ticking clock, and acknowledges it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from consumers.critical_values.escalation import Escalator
from hub.core.events import utcnow
from hub.core.web.auth import issue_token
from tests.api.conftest import Community
from tests.critical_values.factories import Clock, apply, bound_consumer, lab_event, potassium, sodium

pytestmark = pytest.mark.browser


def test_a_member_sees_its_open_notice_with_its_clock_and_acknowledges_it(community: Community, served: str,
                                                                             page) -> None:
    settings = community.client.app.state.settings
    consumer = bound_consumer(settings, community.db, Clock(utcnow()))
    apply(consumer, community.db, lab_event([potassium(7.2)]),
          lab_event([sodium(118, facility="th02", local_id="9")], facility="th02", local_id="9", report="5"))
    # Another of th01's notices, raised ten minutes ago and never acknowledged: sent again (level 1).
    earlier = Clock(utcnow() - timedelta(seconds=600))
    late = bound_consumer(settings, community.db, earlier)
    apply(late, community.db, lab_event([potassium(2.1, local_id="3", n="k3")], local_id="3", report="3"))
    assert late.desk is not None
    earlier.advance(600)
    assert len(Escalator(community.db, late.desk, earlier).run_once()) == 1
    with community.db.transaction() as session:
        th01 = issue_token(session, "nurse-li", "clinician", "th01")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/critical-values")
    page.wait_for_selector("#error:not([hidden])")

    page.fill("#token", th01)
    page.click("text=Use token")
    page.wait_for_selector("#open tbody tr td.clock")
    rows = page.inner_text("#open tbody")
    assert "th01-pat-1" in rows and "血钾 7.2 mmol/L" in rows and "高于危急值上限 6.5 mmol/L" in rows
    assert "th02" not in rows and "118" not in rows  # another member's notice is not shown
    assert page.text_content("#open-total") == "(2)"
    assert "首次通知" in page.inner_text("#open tr:has-text('th01-pat-1')")
    assert "第2次通知" in page.inner_text("#open tr.level-1:has-text('th01-pat-3')")  # flagged
    first = page.text_content("#open tr:has-text('th01-pat-1') td.clock")
    assert first == "10:00" or (first or "").startswith("09:")
    row_id = page.get_attribute("#open tr:has-text('th01-pat-1')", "data-id")
    page.wait_for_function(  # it ticks
        f"document.querySelector('#open tr[data-id=\"{row_id}\"] td.clock').textContent !== {first!r}")
    assert "县医院医务科总值班" in page.inner_text("#duty tbody")
    assert page.is_hidden("#unchecked-section")  # county staff only
    page.screenshot(path=str(Path("/tmp") / "hub-critical-values.png"), full_page=True)

    page.click("#open tr:has-text('th01-pat-1') button.ack")
    page.wait_for_selector("#ack-section:not([hidden])")
    assert "血钾 7.2 mmol/L" in page.text_content("#ack-summary")
    page.fill("#ack-name", "李娜")
    page.fill("#ack-role", "护士")
    page.fill("#ack-action", "已报告值班医师，停用补钾，复查血钾")
    page.click("#ack-submit")
    page.wait_for_selector("#ack-section", state="hidden")
    page.wait_for_function("document.querySelector('#open-total').textContent === '(1)'")
    assert "th01-pat-1" not in page.inner_text("#open tbody")
    done = page.inner_text("#done tbody")
    assert "李娜 (护士)" in done and "复查血钾" in done
    assert page.is_hidden("#error") and page.is_hidden("#ack-error") and dialogs == []


def test_county_staff_see_every_member_in_english(community: Community, served: str, page) -> None:
    settings = community.client.app.state.settings
    consumer = bound_consumer(settings, community.db, Clock(utcnow()))
    apply(consumer, community.db, lab_event([potassium(7.2)]),
          lab_event([sodium(118, facility="th02", local_id="9")], facility="th02", local_id="9", report="5"))
    page.context.add_cookies([{"name": "hub_lang", "value": "en", "url": served}])
    page.goto(f"{served}/critical-values")
    page.fill("#token", community.tokens["clinician"])  # dr-li of the county hospital
    page.click("text=Use token")
    page.wait_for_function("document.querySelector('#open-total').textContent === '(2)'")
    assert "County view" in page.text_content("#scope")
    assert "Open critical values" in page.text_content("main h2")
    assert page.is_visible("#unchecked-section")
    assert "1st notice" in page.inner_text("#open tbody")
    page.click("#open tr:has-text('th02-pat-9') button.ack")  # not theirs before level 2: the hub says why
    page.fill("#ack-name", "王强")
    page.fill("#ack-role", "总值班")
    page.fill("#ack-action", "电话联系")
    before = int(page.get_attribute("body", "data-refreshed") or 0)
    page.click("#ack-submit")
    page.wait_for_selector("#ack-error:not([hidden])")
    assert "only once the county duty doctors were called" in page.text_content("#ack-error")
    page.wait_for_function(f"Number(document.body.dataset.refreshed) > {before}")  # lists reloaded, message kept
    assert page.is_visible("#ack-error") and page.is_visible("#ack-section")
    page.screenshot(path=str(Path("/tmp") / "hub-critical-values-en.png"), full_page=True)
