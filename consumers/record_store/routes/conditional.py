"""Versions on the wire: ETag `W/"n"`, Last-Modified, and conditional reads (If-None-Match,
If-Modified-Since) that answer 304 Not Modified."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response

from hub.core.web.errors import FhirError


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_etag(value: str, header: str) -> int:
    """`W/"3"` (or `"3"`) to 3; anything else is a clear 400."""
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise FhirError(400, "invalid", f'{header} must be a version tag like W/"3", not {value!r}', [header])
    return int(text)


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def version_headers(version: int, last_updated: datetime) -> dict[str, str]:
    return {"ETag": etag(version), "Last-Modified": http_date(last_updated)}


def not_modified(request: Request, version: int, last_updated: datetime) -> Response | None:
    """A 304 when the client's copy is current; If-None-Match wins over If-Modified-Since (RFC 9110)."""
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = [t.strip() for t in match.split(",") if t.strip()]
        if "*" in tags or any(parse_etag(t, "If-None-Match") == version for t in tags):
            return Response(status_code=304, headers=version_headers(version, last_updated))
        return None
    since = request.headers.get("if-modified-since")
    if since is not None:
        try:
            client_time = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            raise FhirError(400, "invalid", f"If-Modified-Since must be an HTTP date, not {since!r}",
                            ["If-Modified-Since"]) from None
        if client_time.tzinfo is None:
            client_time = client_time.replace(tzinfo=UTC)
        if last_updated.replace(microsecond=0) <= client_time:  # HTTP dates have whole seconds
            return Response(status_code=304, headers=version_headers(version, last_updated))
    return None
