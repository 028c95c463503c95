"""A part's page mistakes stop the hub when the app is made, not when someone opens the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jinja2 import TemplateNotFound

from hub.app.pages import site
from hub.core.parts import Page, Part


def _part(name: str, pages_dir: Path | None, *pages: Page) -> Part:
    return Part(name=name, description="test", pages=pages, pages_dir=pages_dir)


def test_two_pages_on_one_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two pages are served at /status"):
        site.placed_pages([_part("clash", tmp_path, Page("/status", "mine.html", "Mine", "我的"))])


def test_pages_without_a_folder_are_refused() -> None:
    with pytest.raises(ValueError, match="has pages but no pages_dir"):
        site.placed_pages([_part("lost", None, Page("/lost", "lost.html", "Lost", "丢失"))])


def test_a_missing_template_stops_the_app_being_made(tmp_path: Path) -> None:
    with pytest.raises(TemplateNotFound):
        site.install(FastAPI(), [_part("empty", tmp_path, Page("/empty", "empty.html", "Empty", "空"))])


def test_an_unknown_language_falls_back_to_chinese(tmp_path: Path) -> None:
    (tmp_path / "plain.html").write_text('{% extends "base.html" %}{% block content %}plain{% endblock %}')
    app = FastAPI()
    site.install(app, [_part("plain", tmp_path, Page("/plain", "plain.html", "Plain", "普通"))])
    client = TestClient(app)
    client.cookies.set(site.LANGUAGE_COOKIE, "<script>")
    page = client.get("/plain")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text and "<title>County Hub · 普通</title>" in page.text
    client.cookies.set(site.LANGUAGE_COOKIE, "en")
    assert "<title>County Hub · Plain</title>" in client.get("/plain").text
