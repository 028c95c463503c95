"""The pages people use, rendered from one base template (templates/base.html: header, navigation,
token form, language switch) that every page extends.

The application's own pages (status, login) and the shared script and styles (common.js, hub.css)
live here; a part's pages live in its folder (`Part.pages`, templates in `Part.pages_dir`) and its
scripts are served at /static/<part name>/. The navigation lists every page with `nav=True`. The pages
fetch their data with the page session (log in at /login) or, for operators, a pasted bearer token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from starlette.responses import Response
from starlette.routing import Mount, Router
from starlette.types import Scope

from hub.core.parts import Page, Part

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
VENDOR = HERE / "vendor"  # package.json + package-lock.json; `make install` runs npm ci here

# The front-end libraries the pages may load, at /static/vendor/<name>: only these files of node_modules
# are served, each pinned by vendor/package-lock.json (never a CDN: county networks are often offline).
VENDORED = {"chart.umd.js": "chart.js/dist/chart.umd.js"}

# The application's own pages; login has no navigation entry (the account bar links to it).
APP_PAGES = (Page("/status", "status.html", "Status", "运行状态"),
             Page("/login", "login.html", "Log in", "登录", nav=False))

# Another site may not frame the pages (clickjacking a logged-in person's clicks).
HEADERS = {"Content-Security-Policy": "frame-ancestors 'none'",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
# A page made to be embedded (Page.embeddable, e.g. the image viewer in the reading workbench) may be
# framed by the hub's own pages, still by no other site.
EMBEDDABLE_HEADERS = {"Content-Security-Policy": "frame-ancestors 'self'",
                      "X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "same-origin"}

# The language of the chrome (navigation, titles), chosen with the header's switch (common.js).
LANGUAGE_COOKIE = "hub_lang"
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class PlacedPage:
    """A page and where its owner keeps it: its template's name in the environment and its scripts' URL."""

    page: Page
    template: str  # "status.html" (the application's) or "<part>/<template>"
    assets: str  # "/static" or "/static/<part>"
    route_name: str


def placed_pages(parts: Sequence[Part]) -> list[PlacedPage]:
    """The application's pages, then each part's in registry order; two pages on one path are a mistake."""
    placed = [PlacedPage(page, page.template, "/static", page.template.removesuffix(".html") + "_page")
              for page in APP_PAGES]
    for part in parts:
        if part.pages and part.pages_dir is None:
            raise ValueError(f"part {part.name} has pages but no pages_dir")
        placed += [PlacedPage(page, f"{part.name}/{page.template}", f"/static/{part.name}",
                              f"{part.name}.{page.template.removesuffix('.html')}_page") for page in part.pages]
    paths: set[str] = set()
    for item in placed:
        if item.page.path in paths:
            raise ValueError(f"two pages are served at {item.page.path}; the second is {item.template}")
        paths.add(item.page.path)
    return placed


def environment(parts: Sequence[Part]) -> Environment:
    """Templates: the application's by name ("base.html"), a part's under its name ("referrals/referrals.html")."""
    by_part = {part.name: FileSystemLoader(part.pages_dir) for part in parts if part.pages_dir is not None}
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), PrefixLoader(by_part)]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a misspelt name fails the page (and its test), not silently empty
        trim_blocks=True,
        lstrip_blocks=True,
    )


def language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return chosen if chosen in LANGUAGES else LANGUAGES[0]


def _renderer(env: Environment, placed: PlacedPage, nav: list[Page]) -> Callable[[Request], HTMLResponse]:
    template = env.get_template(placed.template)  # a missing or broken template stops the hub at start

    def page(request: Request) -> HTMLResponse:
        lang = language(request)

        def t(zh: str, en: str) -> str:
            return en if lang == "en" else zh

        html = template.render(page=placed.page, nav=nav, lang=lang, t=t, assets=placed.assets)
        headers = EMBEDDABLE_HEADERS if placed.page.embeddable else HEADERS
        return HTMLResponse(html, headers={**headers, "Vary": "Cookie"})

    return page


class PartAssets(StaticFiles):
    """A part's page scripts and styles; its templates sit in the same folder but are only rendered."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.endswith(".html"):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


class VendorAssets(StaticFiles):
    """The files of VENDORED from vendor/node_modules, and nothing else of it."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in VENDORED:
            raise HTTPException(status_code=404)
        return await super().get_response(VENDORED[path], scope)


def vendored_missing() -> list[str]:
    """The vendored files not on disk (npm ci not run): the application says so at start-up."""
    return [name for name, file in VENDORED.items() if not (VENDOR / "node_modules" / file).is_file()]


def assets(parts: Sequence[Part]) -> Router:
    """/static/<part>/… from the part's pages_dir, /static/vendor/… from the pinned npm packages,
    everything else under /static from the application's."""
    routes = [Mount(f"/{part.name}", app=PartAssets(directory=part.pages_dir))
              for part in parts if part.pages_dir is not None]
    vendor = Mount("/vendor", app=VendorAssets(directory=VENDOR / "node_modules", check_dir=False))
    return Router([*routes, vendor, Mount("", app=StaticFiles(directory=STATIC))])


def root() -> RedirectResponse:
    return RedirectResponse("/status")


def install(app: FastAPI, parts: Sequence[Part]) -> None:
    """Adds every page's route, `/` (to /status) and /static."""
    placed = placed_pages(parts)
    env = environment(parts)
    nav = [item.page for item in placed if item.page.nav]
    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    for item in placed:
        app.add_api_route(item.page.path, _renderer(env, item, nav), methods=["GET"], include_in_schema=False,
                          name=item.route_name)
    app.mount("/static", assets(parts), name="static")
    if missing := vendored_missing():
        log.warning("front-end libraries missing (%s): run `make install` (npm ci in %s); charts will not draw",
                    ", ".join(missing), VENDOR)
