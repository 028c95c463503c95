"""The ECG page and viewer in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

import pytest

from hub.core.config import HubSettings
from tests.api.conftest import Community
from tests.ecg.helpers import apply, ecg_event, ecg_file

pytestmark = pytest.mark.browser
MM = 96 / 25.4  # CSS px per mm at zoom 1


def test_twelve_leads_on_paper_switches_and_calipers(community: Community, settings: HubSettings, served: str,
                                                      page) -> None:
    event = ecg_event(settings.data_dir, ecg_file())
    apply(community.db, settings, event)
    study = event.related[0]["id"]
    page.goto(f"{served}/ecg/view?study={study}")
    page.fill("#token", community.tokens["reader"])
    page.click("text=Use token")
    page.wait_for_function("(document.querySelector('#viewer').dataset.leads || '').includes('rhythm')")
    viewer = page.locator("#viewer")
    drawn = viewer.get_attribute("data-leads").split(",")
    assert drawn == ["I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6", "rhythm:II"]
    assert viewer.get_attribute("data-speed") == "25" and viewer.get_attribute("data-gain") == "10"
    rows = page.inner_text("#measurements tbody")
    assert "QTc (Bazett)" in rows and "380" in rows  # the device's QT beside the hub's
    # Honest millimetres: 10 mm of calibration + 10 s at 25 mm/s is 260 mm of paper.
    width = page.evaluate("document.querySelector('.hub-ecg-canvas').getBoundingClientRect().width")
    assert width == pytest.approx(260 * MM, abs=1)
    # The paper is drawn: grid pink and trace black pixels both present.
    colours = page.evaluate("""() => {
      const c = document.querySelector('.hub-ecg-canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let pink = 0, black = 0;
      for (let i = 0; i < d.length; i += 4) { if (d[i] > 230 && d[i+1] < 220 && d[i+2] < 220) pink++; if (d[i] < 60 && d[i+1] < 60 && d[i+2] < 60) black++; }
      return {pink, black}; }""")
    assert colours["pink"] > 10000 and colours["black"] > 2000
    page.click("button[data-speed='50']")
    assert viewer.get_attribute("data-speed") == "50"
    assert page.evaluate("document.querySelector('.hub-ecg-canvas').getBoundingClientRect().width") == pytest.approx(510 * MM, abs=1)
    page.click("button[data-gain='20']")
    assert viewer.get_attribute("data-gain") == "20"
    page.click("button[data-speed='25']")
    page.click("button[data-gain='10']")
    # Calipers: 25 mm across (1 s at 25 mm/s) and 10 mm up (1 mV at 10 mm/mV).
    page.set_viewport_size({"width": 1400, "height": 900})
    page.evaluate("document.querySelector('.hub-ecg-canvas').scrollIntoView()")
    box = page.locator(".hub-ecg-canvas").bounding_box()
    x0, y0 = box["x"] + 40 * MM, box["y"] + 60 * MM
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 25 * MM, y0 - 10 * MM, steps=5)
    page.mouse.up()
    assert float(viewer.get_attribute("data-caliper-ms")) == pytest.approx(1000, abs=10)
    assert float(viewer.get_attribute("data-caliper-mv")) == pytest.approx(1.0, abs=0.02)
    readout = page.inner_text(".hub-ecg-readout")
    assert "ms" in readout and "mV" in readout and "/min" in readout
    page.screenshot(path="/tmp/hub-ecg-view.png", full_page=True)
