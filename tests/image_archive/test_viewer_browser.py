"""The built-in viewer in a real browser (Debian chromium driven by Playwright): scrolling a series,
window/level presets and drag, a length in mm, and zoom and pan for a pathology slide."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Community
from tests.image_archive.conftest import ingest
from tests.image_archive.samples import ct_series, sm_rgb

pytestmark = pytest.mark.browser

# The image's pixel at (x, y), read back through a canvas: what the person sees.
PIXEL = """([x, y]) => { const img = document.getElementById('image'); const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  return Array.from(g.getImageData(x, y, 1, 1).data).slice(0, 3); }"""


def _uid(event) -> str:
    return str(event.related[0]["identifier"][0]["value"].removeprefix("urn:oid:"))


def _image_point(page, x: float, y: float) -> tuple[float, float]:
    """Screen coordinates of image pixel position (x, y) (in pixels of the image, edges at integers)."""
    box = page.locator("#image").bounding_box()
    columns, rows = page.evaluate("[document.getElementById('image').naturalWidth, "
                                  "document.getElementById('image').naturalHeight]")
    return box["x"] + x * box["width"] / columns, box["y"] + y * box["height"] / rows


def test_viewer_scrolls_windows_and_measures_a_ct_series(community: Community, served: str, page) -> None:
    study = _uid(ingest(community, ct_series(4, patient_id="1"))[0])
    headers = community.client.get("/imaging/viewer").headers  # the reading workbench may frame it, nobody else
    assert headers["content-security-policy"] == "frame-ancestors 'self'" and headers["x-frame-options"] == "SAMEORIGIN"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served}/imaging/viewer?study={study}")
    page.wait_for_selector("#error:not([hidden])")
    assert "/login" in page.text_content("#error")
    page.fill("#token", community.tokens["reader"])
    page.click("text=Use token")
    page.wait_for_function("document.getElementById('position').textContent.startsWith('1 / 4')")
    page.wait_for_function("document.getElementById('image').dataset.url")
    assert "CT · 2 · 肺窗 1mm (4)" in page.inner_text("#series")
    assert page.text_content("#window") == "40 / 400 (文件默认)"
    assert page.text_content("#spacing") == "0.5 × 0.8 mm"
    first = page.evaluate(PIXEL, [8, 8])

    # The mouse wheel scrolls the series: another slice, another image.
    stage = page.locator("#stage").bounding_box()
    page.mouse.move(stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.wheel(0, 120)
    page.wait_for_function("document.getElementById('position').textContent.startsWith('2 / 4')")
    page.wait_for_function(f"!document.getElementById('image').dataset.url.includes('{_sop(page, 0)}')")
    page.wait_for_function("document.getElementById('image').dataset.url.includes('" + _sop(page, 1) + "')")
    second = page.evaluate(PIXEL, [8, 8])
    assert second[0] > first[0]  # slice 2 is 100 HU brighter
    # ...and so do the arrow keys.
    page.keyboard.press("ArrowDown")
    page.wait_for_function("document.getElementById('position').textContent.startsWith('3 / 4')")
    page.keyboard.press("ArrowUp")
    page.wait_for_function("document.getElementById('position').textContent.startsWith('2 / 4')")

    # A preset sets window/level on the server's rendering.
    page.click("#presets button[data-preset=lung]")
    page.wait_for_function("document.getElementById('image').dataset.url.includes('window=-600%2C1500')")
    assert page.text_content("#window") == "-600 / 1500"
    assert "active" in page.get_attribute("#presets button[data-preset=lung]", "class")
    lung = page.evaluate(PIXEL, [0, 0])
    assert lung[0] > 0  # -876 HU: black in the default window, grey in a lung window
    page.click("#presets button[data-preset=bone]")
    page.wait_for_function("document.getElementById('image').dataset.url.includes('window=300%2C1500')")
    # Dragging with the window tool adjusts it (right: wider; down: higher level).
    x, y = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 30, steps=4)
    page.mouse.up()
    page.wait_for_function("document.getElementById('window').textContent !== '300 / 1500'")
    level, width = (int(v) for v in page.text_content("#window").split(" / "))
    assert level > 300 and width > 1500
    page.wait_for_function(f"document.getElementById('image').dataset.url.includes('window={level}%2C{width}')")

    # A length: 10 columns across (0.8 mm each) is 8.0 mm; 10 rows down (0.5 mm each) is 5.0 mm.
    page.click("#tool-buttons button[data-tool=measure]")
    for (ax, ay), (bx, by), expected in [((3, 5), (13, 5), "8.0 mm"), ((4, 2), (4, 12), "5.0 mm")]:
        page.mouse.move(*_image_point(page, ax, ay))
        page.mouse.down()
        page.mouse.move(*_image_point(page, bx, by), steps=5)
        page.mouse.up()
        page.wait_for_function(f"document.getElementById('measurement').textContent === '{expected}'")
    assert page.locator("#overlay line").count() == 2 and "5.0 mm" in page.text_content("#overlay")
    page.screenshot(path=str(Path("/tmp") / "hub-viewer-ct.png"), full_page=True)
    page.click("#clear-measure")
    assert page.locator("#overlay line").count() == 0
    assert dialogs == [] and errors == []


def _sop(page, index: int) -> str:
    return str(page.evaluate(f"state.frames[{index}].sop"))


def test_viewer_zooms_and_pans_a_pathology_slide(community: Community, served: str, page) -> None:
    study = _uid(ingest(community, [sm_rgb(patient_id="1")], facility="th01")[0])
    # A reading workstation's screen. At Playwright's 720 px the stage is too short for the drag below (it
    # began to fail when the navigation gained a page): the zoomed slide touches the stage's edge and the
    # viewer rightly refuses to pan past it.
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.context.add_cookies([{"name": "hub_lang", "value": "en", "url": served}])
    page.goto(f"{served}/imaging/viewer")
    page.evaluate(f"sessionStorage.setItem('hub.token', '{community.tokens['reader']}')")
    page.fill("#study-uid", study)
    page.click("#open-study button")
    page.wait_for_function("document.getElementById('position').textContent.startsWith('1 / 1')")
    page.wait_for_function("document.getElementById('image').dataset.url")
    assert page.is_hidden("#presets")  # colour: window/level does not apply
    assert page.text_content("#window") == "colour image: not applicable"
    assert page.get_attribute("#tool-buttons button[data-tool=pan]", "aria-pressed") == "true"
    assert "Lung" in page.inner_html("#presets") and "Measure" in page.inner_text("#tool-buttons")
    assert page.evaluate(PIXEL, [2, 2]) == [200, 30, 30]
    before = float(page.text_content("#zoom").rstrip("%"))
    box = page.locator("#image").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 4, box["y"] + box["height"] / 4)
    page.mouse.wheel(0, -120)  # the wheel zooms a slide in, around the pointer
    page.wait_for_function(f"parseFloat(document.getElementById('zoom').textContent) > {before}")
    zoomed = page.locator("#image").bounding_box()
    assert zoomed["width"] > box["width"]
    stage = page.locator("#stage").bounding_box()
    page.mouse.move(stage["x"] + 100, stage["y"] + 100)
    page.mouse.down()
    page.mouse.move(stage["x"] + 160, stage["y"] + 130, steps=3)
    page.mouse.up()
    moved = page.locator("#image").bounding_box()
    assert moved["x"] - zoomed["x"] == pytest.approx(60, abs=1.5) and moved["y"] - zoomed["y"] == pytest.approx(30, abs=1.5)
    assert page.text_content("#spacing") == "0.00025 × 0.00025 mm"
    # A length on a slide: 8 pixels of 0.25 um are 2.0 um.
    page.click("#tool-buttons button[data-tool=measure]")
    page.mouse.move(*_image_point(page, 4, 10))
    page.mouse.down()
    page.mouse.move(*_image_point(page, 12, 10), steps=4)
    page.mouse.up()
    page.wait_for_function("document.getElementById('measurement').textContent === '2.0 µm'")
    page.screenshot(path=str(Path("/tmp") / "hub-viewer-slide.png"))
    page.click("#zoom-fit")
    assert page.locator("#image").bounding_box()["width"] == pytest.approx(box["width"], abs=1)


def test_the_reading_workbench_can_frame_the_viewer_and_nothing_else(community: Community, served: str, page) -> None:
    """A page of the hub's own origin (stood in for by an intercepted path) frames the viewer; the
    viewer then hides the header. Other pages still refuse to be framed."""
    study = _uid(ingest(community, ct_series(2, patient_id="1"))[0])
    html = (f'<iframe id="viewer" src="/imaging/viewer?study={study}" width="900" height="700"></iframe>'
            '<iframe id="status" src="/status" width="300" height="200"></iframe>')
    page.route(f"{served}/workbench-stand-in", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(served + "/login")
    page.evaluate(f"sessionStorage.setItem('hub.token', '{community.tokens['reader']}')")
    page.goto(f"{served}/workbench-stand-in")
    viewer = page.frame_locator("#viewer")
    viewer.locator("#position").wait_for()
    page.wait_for_function("document.getElementById('viewer').contentDocument"
                           ".getElementById('position').textContent.startsWith('1 / 2')")
    assert viewer.locator("body.embedded").count() == 1 and viewer.locator("header").is_hidden()
    status = page.frame(url=f"{served}/status")
    assert status is None or status.evaluate("document.body === null || document.body.innerHTML === ''")
