"""The pages people use. Shells are static; they fetch data with the token the user pastes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/status")


@router.get("/status")
def status_page() -> FileResponse:
    return FileResponse(STATIC / "status.html", media_type="text/html; charset=utf-8")


@router.get("/patient")
def patient_page() -> FileResponse:
    return FileResponse(STATIC / "patient.html", media_type="text/html; charset=utf-8")


@router.get("/referrals")
def referrals_page() -> FileResponse:
    return FileResponse(STATIC / "referrals.html", media_type="text/html; charset=utf-8")


@router.get("/mpi")
def mpi_page() -> FileResponse:
    return FileResponse(STATIC / "mpi.html", media_type="text/html; charset=utf-8")
