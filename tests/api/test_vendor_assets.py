"""The pages' front-end libraries come from the pinned npm packages and are served by the hub itself."""

from __future__ import annotations

import json

from hub.app.pages import site
from tests.api.conftest import Community


def test_a_vendored_library_is_served_at_its_pinned_version(community: Community) -> None:
    lock = json.loads((site.VENDOR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/chart.js"]["version"]
    assert json.loads((site.VENDOR / "package.json").read_text())["dependencies"]["chart.js"] == pinned
    answer = community.client.get("/static/vendor/chart.umd.js")
    assert answer.status_code == 200, "run `make install` (npm ci in hub/app/pages/vendor)"
    assert f"Chart.js v{pinned}" in answer.text[:200]
    assert answer.headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_nothing_else_of_node_modules_is_served(community: Community) -> None:
    for path in ("/static/vendor/package.json", "/static/vendor/chart.js/dist/chart.cjs",
                 "/static/vendor/../vendor/package-lock.json", "/static/vendor/"):
        assert community.client.get(path).status_code == 404, path
    assert site.vendored_missing() == []
