"""STOW-RS: `POST /dicomweb/studies` stores DICOM instances, each becoming a remote-read request.

Accepts `multipart/related; type="application/dicom"` (the standard) or a single
`application/dicom` body. Answers with the DICOM JSON of the standard's Store Instances Response:
ReferencedSOPSequence (0008,1199) for stored instances, FailedSOPSequence (0008,1198) for the rest.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from connectors.dicom.ingest import ingest_dicom
from hub.core.blobs import FileBlobStore
from hub.core.events import PollResult
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.facilities import sending_facility
from hub.core.web.hooks import declare_patients, patients_in

router = APIRouter(prefix="/dicomweb", tags=["DICOMweb"])
submitter = require("connector")


def _parts(content_type: str, body: bytes) -> list[bytes]:
    if content_type.startswith("application/dicom"):
        return [body]
    if not content_type.startswith("multipart/related"):
        raise FhirError(415, "not-supported", f"Content-Type {content_type!r}: send multipart/related; "
                        "type=\"application/dicom\" or application/dicom")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise FhirError(400, "invalid", "the multipart body could not be parsed (check the boundary)")
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload)
    if not parts:
        raise FhirError(400, "invalid", "the multipart body holds no DICOM parts")
    return parts


@router.post("/studies", summary="STOW-RS: store DICOM instances")
async def store_instances(request: Request, principal: Principal = Depends(submitter)) -> JSONResponse:
    sink = request.app.state.sinks.get("dicom")
    if sink is None:
        raise FhirError(503, "transient", "the DICOM connector is not running in this process")
    facility = sending_facility(request, principal)
    limit = request.app.state.settings.max_event_bytes * 200
    body = await request.body()
    if len(body) > limit:
        raise FhirError(413, "too-costly", f"request body of {len(body)} bytes is over the {limit}-byte limit")
    blobs = FileBlobStore(request.app.state.settings.data_dir / "blobs")
    stored: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    patients: set[str] = set()
    for index, part in enumerate(_parts(request.headers.get("content-type", ""), body)):
        result: PollResult = ingest_dicom(part, f"stow-{index}", facility, blobs)
        report = sink.accept(result)
        studies = [e for e in result.events if e.event_type == "imaging_request"]
        if studies and report.rejected == 0:
            patients_in(studies[0].resource, patients, set())
            study = studies[0].related[0]
            instance = study["series"][0]["instance"][0]
            stored.append({"00081150": {"vr": "UI", "Value": [instance["sopClass"]["code"].removeprefix("urn:oid:")]},
                           "00081155": {"vr": "UI", "Value": [instance["uid"]]},
                           "00081190": {"vr": "UR", "Value": [f"/fhir/ImagingStudy/{study['id']}"]}})
        else:
            reason = next((o.reason for o in report.outcomes if not o.accepted), "rejected")
            failed.append({"00081197": {"vr": "US", "Value": [0xC000]}, "00081196": {"vr": "LO", "Value": [reason]}})
    declare_patients(request, patients)  # the answer names studies, not patients
    answer: dict[str, Any] = {}
    if stored:
        answer["00081199"] = {"vr": "SQ", "Value": stored}
    if failed:
        answer["00081198"] = {"vr": "SQ", "Value": failed}
    status = 200 if not failed else (202 if stored else 409)
    return JSONResponse(answer, status_code=status, media_type="application/dicom+json")
