"""DICOMweb, the read side (the STOW-RS store is the dicom connector's): QIDO-RS search, WADO-RS
retrieve of instances and metadata, raw frames and rendered frames (PS3.18).

Readers, clinicians and admins may read. Every answer names the studies' patients to the audit hook
(`declare_patients`): DICOM answers carry no FHIR references the hook could find itself.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pydicom
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydicom.encaps import generate_frames
from pydicom.uid import UID, ExplicitVRLittleEndian
from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.image_archive import queries
from consumers.image_archive.models import ImageInstance, ImageSeries, ImageStudy
from consumers.image_archive.render import MEDIA, RenderError, Window, parse_window, render
from hub.core.blobs import BlobError, FileBlobStore
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.hooks import declare_patients

router = APIRouter(prefix="/dicomweb", tags=["DICOMweb"])
readers = require("reader", "clinician")  # admin passes every role check
DICOM_JSON = "application/dicom+json"
JSON_TYPES = (DICOM_JSON, "application/json", "application/*", "*/*")


# Content negotiation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Accepted:
    media_type: str
    params: dict[str, str]
    q: float


def accepted(request: Request) -> list[Accepted]:
    """The Accept header's media ranges, most wanted first (no header: anything)."""
    header = request.headers.get("accept", "").strip() or "*/*"
    found: list[Accepted] = []
    for index, item in enumerate(_split(header)):
        media, *rest = [part.strip() for part in _split(item, ";")]
        params: dict[str, str] = {}
        for pair in rest:
            name, _, value = pair.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        if q > 0 and media:
            found.append(Accepted(media.lower(), params, q - index * 1e-6))
    return sorted(found, key=lambda a: -a.q)


def _split(text: str, separator: str = ",") -> list[str]:
    """Splits outside double quotes (type="application/dicom" may hold separators)."""
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _not_acceptable(request: Request, offered: str) -> FhirError:
    return FhirError(406, "not-supported", f"Accept {request.headers.get('accept', '')!r} asks for nothing this "
                     f"resource offers; it offers {offered}")


def require_json(request: Request) -> None:
    if not any(a.media_type in JSON_TYPES for a in accepted(request)):
        raise _not_acceptable(request, DICOM_JSON)


# Lookups --------------------------------------------------------------------------------------------

def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/dicomweb"


def _study(session: Session, study_uid: str) -> ImageStudy:
    row = session.get(ImageStudy, study_uid)
    if row is None:
        raise FhirError(404, "not-found", f"no study {study_uid} in the image archive")
    return row


def _series(session: Session, study_uid: str, series_uid: str) -> ImageSeries:
    _study(session, study_uid)
    row = session.get(ImageSeries, series_uid)
    if row is None or row.study_uid != study_uid:
        raise FhirError(404, "not-found", f"no series {series_uid} in study {study_uid}")
    return row


def _instance(session: Session, study_uid: str, series_uid: str, sop_uid: str) -> ImageInstance:
    _series(session, study_uid, series_uid)
    row = session.get(ImageInstance, sop_uid)
    if row is None or row.series_uid != series_uid:
        raise FhirError(404, "not-found", f"no instance {sop_uid} in series {series_uid} of study {study_uid}")
    return row


def _file(request: Request, instance: ImageInstance) -> bytes:
    try:
        return FileBlobStore(request.app.state.settings.data_dir / "blobs").get(instance.blob_sha256)
    except BlobError as exc:
        missing = "not in the store" in str(exc)
        raise FhirError(404 if missing else 500, "not-found" if missing else "exception",
                        f"the file of instance {instance.sop_uid}: {exc}") from None


def _patients(session: Session, study_uids: Iterable[str]) -> set[str]:
    uids = sorted(set(study_uids))
    found: set[str] = set()
    for start in range(0, len(uids), 500):
        found.update(session.scalars(select(ImageStudy.patient_id)
                                     .where(ImageStudy.study_uid.in_(uids[start:start + 500]))))
    return found


# QIDO-RS ---------------------------------------------------------------------------------------------

def _qido(request: Request, level: queries.Level, scope: queries.Scope) -> JSONResponse:
    require_json(request)
    try:
        query = queries.parse(level, list(request.query_params.multi_items()))
    except queries.QueryError as exc:
        raise FhirError(400, "invalid", str(exc)) from None
    base = _base(request)
    with request.app.state.database.reading() as session:
        if scope.study_uid:
            _study(session, scope.study_uid)
        if scope.series_uid and scope.study_uid:
            _series(session, scope.study_uid, scope.series_uid)
        if "PatientID" in query.match:  # a hub Patient id (source or community) finds the person's studies
            keys = request.app.state.services.shared_record.patient_keys_for(session, query.match["PatientID"])
            scope = queries.Scope(scope.study_uid, scope.series_uid, frozenset(keys))
        try:
            matches = queries.search(session, query, scope)
        except queries.QueryError as exc:
            raise FhirError(400, "invalid", str(exc)) from None
        known = queries.facts(session, matches)
        answer: list[dict[str, Any]] = []
        for match in matches:
            if level == "study":
                answer.append(queries.study_json(known, match.study, query.include, base))
                continue
            # Above the level searched, the attributes of the levels the path did not fix (PS3.18 8.3.4).
            item = {} if scope.study_uid else queries.study_json(known, match.study, set(), base)
            assert match.series is not None
            if level == "series" or not scope.series_uid:
                item.update(queries.series_json(known, match.series, query.include if level == "series" else set(),
                                                base))
            if level == "instance":
                assert match.instance is not None
                item.update(queries.instance_json(match.instance, query.include, base))
            answer.append(dict(sorted(item.items())))
        declare_patients(request, _patients(session, [m.study.study_uid for m in matches]))
    headers = {}
    if query.ignored:  # PS3.18 8.3.4.1: unsupported keys are ignored, and the answer says so
        headers["Warning"] = f'299 hub: "The following Query Keys are not supported: {", ".join(query.ignored)}"'
    return JSONResponse(answer, media_type=DICOM_JSON, headers=headers)


@router.get("/studies", summary="QIDO-RS: search for studies")
def search_studies(request: Request, _principal: Principal = Depends(readers)) -> JSONResponse:
    return _qido(request, "study", queries.Scope())


@router.get("/series", summary="QIDO-RS: search for series of any study")
def search_all_series(request: Request, _principal: Principal = Depends(readers)) -> JSONResponse:
    return _qido(request, "series", queries.Scope())


@router.get("/instances", summary="QIDO-RS: search for instances of any study")
def search_all_instances(request: Request, _principal: Principal = Depends(readers)) -> JSONResponse:
    return _qido(request, "instance", queries.Scope())


@router.get("/studies/{study}/series", summary="QIDO-RS: search for the series of a study")
def search_series(study: str, request: Request, _principal: Principal = Depends(readers)) -> JSONResponse:
    return _qido(request, "series", queries.Scope(study_uid=study))


@router.get("/studies/{study}/instances", summary="QIDO-RS: search for the instances of a study")
def search_study_instances(study: str, request: Request, _principal: Principal = Depends(readers)) -> JSONResponse:
    return _qido(request, "instance", queries.Scope(study_uid=study))


@router.get("/studies/{study}/series/{series}/instances", summary="QIDO-RS: search for the instances of a series")
def search_instances(study: str, series: str, request: Request,
                     _principal: Principal = Depends(readers)) -> JSONResponse:
    return _qido(request, "instance", queries.Scope(study_uid=study, series_uid=series))


# WADO-RS: instances and metadata ---------------------------------------------------------------------

def _selected(request: Request, study: str, series: str | None = None,
              instance: str | None = None) -> tuple[list[ImageInstance], ImageStudy]:
    with request.app.state.database.reading() as session:
        if instance is not None and series is not None:
            rows = [_instance(session, study, series, instance)]
        elif series is not None:
            _series(session, study, series)
            rows = queries.instances_of(session, study, series)
        else:
            _study(session, study)
            rows = queries.instances_of(session, study)
        found = _study(session, study)
        session.expunge_all()
    declare_patients(request, {found.patient_id})
    return rows, found


def _transfer_syntax(request: Request) -> str | None:
    """The transfer syntax a multipart/related; type="application/dicom" retrieve asks for: "*" (as
    stored), a UID, or None when the Accept header asks for nothing this resource offers."""
    for item in accepted(request):
        if item.media_type == "*/*":
            return "*"
        if item.media_type in ("multipart/related", "multipart/*"):
            kind = item.params.get("type", "application/dicom").lower()
            if kind in ("application/dicom", "application/*", "*/*"):
                return item.params.get("transfer-syntax", ExplicitVRLittleEndian)
        if item.media_type == "application/dicom":
            return item.params.get("transfer-syntax", ExplicitVRLittleEndian)
    return None


def _as_transfer_syntax(data: bytes, stored: str, wanted: str, sop_uid: str) -> tuple[bytes, str]:
    """The file in the wanted transfer syntax: as stored when it already is (or "*"), else re-encoded
    to Explicit VR Little Endian (decompressed when stored compressed)."""
    if wanted in ("*", stored):
        return data, stored
    if wanted != ExplicitVRLittleEndian:
        raise FhirError(406, "not-supported", f"instance {sop_uid} is kept as {UID(stored).name or stored} and can "
                        f"be sent as such (transfer-syntax=*) or as Explicit VR Little Endian ({ExplicitVRLittleEndian}),"
                        f" not as {wanted}")
    ds = pydicom.dcmread(io.BytesIO(data))
    try:
        if UID(stored).is_compressed:
            ds.decompress()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True, implicit_vr=False, little_endian=True)
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        raise FhirError(406, "not-supported", f"instance {sop_uid} is kept as {UID(stored).name or stored}, which "
                        f"cannot be converted to Explicit VR Little Endian here ({exc}); ask for "
                        "transfer-syntax=*") from None
    return out.getvalue(), ExplicitVRLittleEndian


def _multipart(parts: Sequence[tuple[bytes, str]], kind: str) -> Response:
    boundary = "hub-" + secrets.token_hex(12)
    body = io.BytesIO()
    for data, content_type in parts:
        body.write(f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode())
        body.write(data)
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    media = f'multipart/related; type="{kind}"; boundary={boundary}'
    return Response(body.getvalue(), media_type=media, headers={"Cache-Control": "private"})


def _retrieve(request: Request, study: str, series: str | None = None, instance: str | None = None) -> Response:
    wanted = _transfer_syntax(request)
    if wanted is None:
        raise _not_acceptable(request, 'multipart/related; type="application/dicom"')
    rows, _ = _selected(request, study, series, instance)
    parts = []
    for row in rows:
        data, syntax = _as_transfer_syntax(_file(request, row), row.transfer_syntax, wanted, row.sop_uid)
        parts.append((data, f"application/dicom; transfer-syntax={syntax}"))
    return _multipart(parts, "application/dicom")


@router.get("/studies/{study}", summary="WADO-RS: retrieve a study's instances (multipart/related)")
def retrieve_study(study: str, request: Request, _principal: Principal = Depends(readers)) -> Response:
    return _retrieve(request, study)


@router.get("/studies/{study}/series/{series}", summary="WADO-RS: retrieve a series' instances")
def retrieve_series(study: str, series: str, request: Request, _principal: Principal = Depends(readers)) -> Response:
    return _retrieve(request, study, series)


@router.get("/studies/{study}/series/{series}/instances/{instance}", summary="WADO-RS: retrieve an instance")
def retrieve_instance(study: str, series: str, instance: str, request: Request,
                      _principal: Principal = Depends(readers)) -> Response:
    return _retrieve(request, study, series, instance)


def _metadata(request: Request, study: str, series: str | None = None, instance: str | None = None) -> JSONResponse:
    require_json(request)
    rows, _ = _selected(request, study, series, instance)
    base = _base(request)
    answer = []
    for row in rows:
        item = json.loads(row.dicom_json)
        key, url = queries.element("RetrieveURL", f"{base}/studies/{row.study_uid}/series/{row.series_uid}"
                                                  f"/instances/{row.sop_uid}")
        item[key] = url
        answer.append(dict(sorted(item.items())))
    return JSONResponse(answer, media_type=DICOM_JSON)


@router.get("/studies/{study}/metadata", summary="WADO-RS: the metadata of a study's instances (DICOM JSON)")
def study_metadata(study: str, request: Request, _principal: Principal = Depends(readers)) -> JSONResponse:
    return _metadata(request, study)


@router.get("/studies/{study}/series/{series}/metadata", summary="WADO-RS: the metadata of a series' instances")
def series_metadata(study: str, series: str, request: Request,
                    _principal: Principal = Depends(readers)) -> JSONResponse:
    return _metadata(request, study, series)


@router.get("/studies/{study}/series/{series}/instances/{instance}/metadata",
            summary="WADO-RS: the metadata of an instance")
def instance_metadata(study: str, series: str, instance: str, request: Request,
                      _principal: Principal = Depends(readers)) -> JSONResponse:
    return _metadata(request, study, series, instance)


# Frames --------------------------------------------------------------------------------------------

def _frame_numbers(text: str) -> list[int]:
    try:
        numbers = [int(part) for part in text.split(",")]
    except ValueError:
        raise FhirError(400, "invalid", f"frames {text!r}: give frame numbers from 1, separated by commas") from None
    if not numbers or any(n < 1 for n in numbers):
        raise FhirError(400, "invalid", f"frames {text!r}: frame numbers start at 1")
    return numbers


# Media types of compressed frames sent as kept (PS3.18 8.7.3.5.2).
FRAME_MEDIA = {
    "1.2.840.10008.1.2.4.50": "image/jpeg", "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg", "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls", "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2", "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.5": "image/x-dicom-rle",
}


def _frames_wanted(request: Request) -> str | None:
    """"*" when compressed frames may come as kept, "raw" for uncompressed bytes only, None for neither."""
    wanted = None
    for item in accepted(request):
        if item.media_type not in ("multipart/related", "multipart/*", "*/*"):
            continue
        kind = item.params.get("type", "application/octet-stream").lower()
        if item.media_type == "*/*" or item.params.get("transfer-syntax") == "*" or kind.startswith("image/"):
            return "*"
        if kind in ("application/octet-stream", "*/*"):
            wanted = "raw"
    return wanted


@router.get("/studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
            summary="WADO-RS: frames, raw (octet-stream) or as kept when compressed (transfer-syntax=*)")
def retrieve_frames(study: str, series: str, instance: str, frames: str, request: Request,
                    _principal: Principal = Depends(readers)) -> Response:
    numbers = _frame_numbers(frames)
    wanted = _frames_wanted(request)
    if wanted is None:
        raise _not_acceptable(request, 'multipart/related; type="application/octet-stream"')
    rows, _ = _selected(request, study, series, instance)
    row = rows[0]
    if row.frames == 0:
        raise FhirError(404, "not-found", f"instance {row.sop_uid} holds no image frames")
    missing = [n for n in numbers if n > row.frames]
    if missing:
        raise FhirError(404, "not-found", f"frame {missing[0]} does not exist: instance {row.sop_uid} has "
                        f"{row.frames} frame(s)")
    syntax = UID(row.transfer_syntax)
    ds = pydicom.dcmread(io.BytesIO(_file(request, row)))
    if not syntax.is_compressed:
        data = bytes(ds.PixelData)
        size = len(data) // row.frames
        return _multipart([(data[(n - 1) * size:n * size], "application/octet-stream") for n in numbers],
                          "application/octet-stream")
    if wanted != "*":  # the bytes as kept would not be what an octet-stream promises
        raise FhirError(406, "not-supported", f"instance {row.sop_uid} is kept compressed ({syntax.name}); ask "
                        "with transfer-syntax=* for its frames as kept, or for /rendered frames")
    kept = list(generate_frames(ds.PixelData, number_of_frames=row.frames))
    media = FRAME_MEDIA.get(str(syntax), "application/octet-stream")
    parts = [(kept[n - 1], f"{media}; transfer-syntax={syntax}") for n in numbers]
    return _multipart(parts, media)


def _rendered_media(request: Request) -> str:
    for item in accepted(request):
        if item.media_type in MEDIA:
            return item.media_type
        if item.media_type in ("image/*", "*/*"):
            return "image/jpeg"  # the standard's default rendered type
    raise _not_acceptable(request, "image/png or image/jpeg")


def _render(request: Request, study: str, series: str, instance: str, frame: int) -> Response:
    media = _rendered_media(request)
    window: Window | None = None
    quality = 90
    try:
        if "window" in request.query_params:
            window = parse_window(request.query_params["window"])
        if "quality" in request.query_params:
            quality = int(request.query_params["quality"])
            if not 1 <= quality <= 100:
                raise ValueError
    except RenderError as exc:
        raise FhirError(exc.status, "invalid", str(exc)) from None
    except ValueError:
        raise FhirError(400, "invalid", f"quality={request.query_params['quality']!r}: give 1 to 100") from None
    rows, _ = _selected(request, study, series, instance)
    row = rows[0]
    try:
        image = render(lambda: _file(request, row), row.blob_sha256, frame, row.frames, window, media, quality)
    except RenderError as exc:
        code = {400: "invalid", 404: "not-found", 406: "not-supported"}.get(exc.status, "processing")
        raise FhirError(exc.status, code, f"instance {row.sop_uid}: {exc}") from None
    return Response(image, media_type=media, headers={"Cache-Control": "private, max-age=300"})


@router.get("/studies/{study}/series/{series}/instances/{instance}/rendered",
            summary="WADO-RS: an instance's first frame rendered (image/png or image/jpeg; window=c,w,function)")
def rendered_instance(study: str, series: str, instance: str, request: Request,
                      _principal: Principal = Depends(readers)) -> Response:
    return _render(request, study, series, instance, 1)


@router.get("/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered",
            summary="WADO-RS: a frame rendered (image/png or image/jpeg; window=center,width,function)")
def rendered_frame(study: str, series: str, instance: str, frames: str, request: Request,
                   _principal: Principal = Depends(readers)) -> Response:
    numbers = _frame_numbers(frames)
    if len(numbers) != 1:
        raise FhirError(400, "invalid", f"frames {frames!r}: a rendered image is of one frame; ask for each alone")
    return _render(request, study, series, instance, numbers[0])
