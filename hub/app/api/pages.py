"""The pages people use. Shells are static; they fetch data with the page session (log in at
/login) or, for operators, a bearer token pasted into the page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from hub.core.parts import Part

STATIC = Path(__file__).resolve().parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/status")


# Path -> static shell. Each page's script (and the shared common.js) does the rest.
PAGES = {"/status": "status.html", "/patient": "patient.html", "/referrals": "referrals.html", "/mpi": "mpi.html",
         "/login": "login.html"}


# Another site may not frame the pages (clickjacking a logged-in person's clicks).
HEADERS = {"Content-Security-Policy": "frame-ancestors 'none'",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def _shell(filename: str) -> Callable[[], FileResponse]:
    def page() -> FileResponse:
        return FileResponse(STATIC / filename, media_type="text/html; charset=utf-8", headers=HEADERS)

    return page


for _path, _file in PAGES.items():
    router.add_api_route(_path, _shell(_file), methods=["GET"], name=_file.removesuffix(".html") + "_page")


def install(app: FastAPI, parts: list[Part]) -> None:
    """Serves the pages' scripts and styles."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
