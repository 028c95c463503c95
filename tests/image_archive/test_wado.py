"""WADO-RS against real DICOM files: instances, metadata, raw and rendered frames, bad inputs."""

from __future__ import annotations

import io
from email.parser import BytesParser
from email.policy import HTTP

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from tests.api.conftest import Community
from tests.connectors.dicom_samples import ecg_file
from tests.image_archive.conftest import ingest
from tests.image_archive.samples import (
    cr_monochrome1,
    ct_series,
    ct_slice_values,
    jpeg_baseline,
    mr_multiframe,
    sm_rgb,
    undecodable,
)


def path_of(data: bytes) -> str:
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    return f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"


def parts(response) -> list[tuple[str, bytes]]:
    """The parts of a multipart/related answer, parsed by the standard library's MIME parser: (the
    part's media type and transfer syntax, its bytes)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode() + response.content)
    assert message.is_multipart()
    return [(f"{p.get_content_type()}; transfer-syntax={p.get_param('transfer-syntax')}", p.get_payload(decode=True))
            for p in message.iter_parts()]


def png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_instances_series_and_studies_are_retrieved_whole(community: Community, reader: dict[str, str]) -> None:
    files = ct_series(3)
    ingest(community, files)
    client = community.client
    accept = {**reader, "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
    one = client.get(path_of(files[1]), headers=accept)
    assert one.status_code == 200 and one.headers["content-type"].startswith('multipart/related; type="application/dicom"')
    [(kind, data)] = parts(one)
    assert data == files[1] and f"transfer-syntax={ExplicitVRLittleEndian}" in kind
    ds = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
    series = parts(client.get(f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}", headers=accept))
    study = parts(client.get(f"/dicomweb/studies/{ds.StudyInstanceUID}", headers=accept))
    assert sorted(d for _, d in series) == sorted(files) == sorted(d for _, d in study)
    # Without a transfer-syntax the standard's default, Explicit VR Little Endian, is what these are.
    assert parts(client.get(path_of(files[0]), headers={**reader, "Accept": "multipart/related; type=application/dicom"}))
    assert client.get(path_of(files[0]), headers={**reader, "Accept": "*/*"}).status_code == 200


def test_a_compressed_instance_is_sent_as_kept_or_decompressed(community: Community, reader: dict[str, str]) -> None:
    data, pixels = jpeg_baseline()
    ingest(community, [data])
    client = community.client
    kept = parts(client.get(path_of(data), headers={**reader, "Accept": 'multipart/related; type="application/dicom"; '
                                                                       "transfer-syntax=*"}))
    assert kept[0][1] == data and JPEGBaseline8Bit in kept[0][0]
    plain = client.get(path_of(data), headers={**reader, "Accept": 'multipart/related; type="application/dicom"; '
                                                                   f"transfer-syntax={ExplicitVRLittleEndian}"})
    [(kind, body)] = parts(plain)
    ds = pydicom.dcmread(io.BytesIO(body))
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian and ExplicitVRLittleEndian in kind
    assert np.abs(ds.pixel_array.astype(int) - pixels.astype(int)).max() <= 2  # JPEG at quality 100
    other = client.get(path_of(data), headers={**reader, "Accept": 'multipart/related; type="application/dicom"; '
                                                                   "transfer-syntax=1.2.840.10008.1.2.4.80"})
    assert other.status_code == 406 and "Explicit VR Little Endian" in other.json()["issue"][0]["diagnostics"]
    frames = client.get(path_of(data) + "/frames/1", headers={
        **reader, "Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'})
    [(kind, jpeg)] = parts(frames)
    assert kind == f"image/jpeg; transfer-syntax={JPEGBaseline8Bit}" and jpeg[:2] == b"\xff\xd8"
    assert np.abs(np.asarray(Image.open(io.BytesIO(jpeg))).astype(int) - pixels.astype(int)).max() <= 2
    refused = client.get(path_of(data) + "/frames/1", headers={
        **reader, "Accept": 'multipart/related; type="application/octet-stream"'})
    assert refused.status_code == 406 and "transfer-syntax=*" in refused.json()["issue"][0]["diagnostics"]
    rendered = client.get(path_of(data) + "/rendered", headers={**reader, "Accept": "image/png"},
                          params={"window": "127.5,256"})
    assert np.abs(png(rendered).astype(int) - pixels.astype(int)).max() <= 3  # decoded by pylibjpeg


def test_metadata_is_the_header_as_dicom_json(community: Community, reader: dict[str, str]) -> None:
    files = ct_series(2)
    ingest(community, files)
    ds = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
    client = community.client
    answer = client.get(path_of(files[0]) + "/metadata", headers=reader)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/dicom+json"
    [item] = answer.json()
    assert item["00080018"]["Value"] == [ds.SOPInstanceUID] and item["00280030"]["Value"] == [0.5, 0.8]
    assert item["00281052"]["Value"] == [-1024] and item["00100010"]["Value"][0]["Ideographic"] == "王^秀英"
    assert item["00080005"]["Value"] == ["ISO_IR 192"] and "7FE00010" not in item  # no pixel data
    back = pydicom.Dataset.from_json(item)  # what pydicom (and so most DICOMweb clients) reads back
    assert back.PatientID == "1" and back.Rows == 16
    study = client.get(f"/dicomweb/studies/{ds.StudyInstanceUID}/metadata", headers=reader).json()
    series = client.get(f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/metadata",
                        headers=reader).json()
    assert len(study) == len(series) == 2


def test_rendered_frames_apply_rescale_and_window(community: Community, reader: dict[str, str]) -> None:
    files = ct_series(2)
    ingest(community, files)
    client = community.client
    png_accept = {**reader, "Accept": "image/png"}
    hu = ct_slice_values(1) - 1024  # rescale intercept -1024
    # Window 40/400 linear (PS3.3 C.11.2.1.2.1): HU <= -160.5 black, > 239.5 white, linear between.
    expected = np.clip(np.rint(((hu - 39.5) / 399 + 0.5) * 255), 0, 255)
    expected = np.where(hu <= 39.5 - 199.5, 0, np.where(hu > 39.5 + 199.5, 255, expected))
    default = png(client.get(path_of(files[1]) + "/frames/1/rendered", headers=png_accept))  # the file's default
    asked = png(client.get(path_of(files[1]) + "/frames/1/rendered", params={"window": "40,400,linear"},
                           headers=png_accept))
    assert default.shape == (16, 16) and np.array_equal(default, expected) and np.array_equal(asked, expected)
    lung = png(client.get(path_of(files[1]) + "/frames/1/rendered", params={"window": "-600,1500"}, headers=png_accept))
    assert not np.array_equal(lung, default) and lung[0, 0] > 0  # -876 HU shows grey in a lung window
    exact = png(client.get(path_of(files[1]) + "/rendered", params={"window": "0,1000,linear-exact"},
                           headers=png_accept))
    assert np.array_equal(exact, np.clip(np.rint((hu / 1000 + 0.5) * 255), 0, 255).astype(np.uint8))
    sigmoid = png(client.get(path_of(files[1]) + "/rendered", params={"window": "0,1000,sigmoid"}, headers=png_accept))
    assert sigmoid[0, 0] < 128 < sigmoid[-1, -1]
    jpeg = client.get(path_of(files[1]) + "/frames/1/rendered", params={"quality": "95"},
                      headers={**reader, "Accept": "image/jpeg"})
    assert jpeg.headers["content-type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"
    assert np.abs(np.asarray(Image.open(io.BytesIO(jpeg.content))).astype(int) - expected).max() <= 12
    anything = client.get(path_of(files[1]) + "/rendered", headers={**reader, "Accept": "*/*"})
    assert anything.headers["content-type"] == "image/jpeg"  # the standard's default rendered type


def test_monochrome1_is_inverted_and_colour_passes_through(community: Community, reader: dict[str, str]) -> None:
    cr, slide, mr = cr_monochrome1(), sm_rgb(), mr_multiframe()
    ingest(community, [cr, slide, mr])
    client = community.client
    accept = {**reader, "Accept": "image/png"}
    image = png(client.get(path_of(cr) + "/rendered", headers=accept))
    values = np.arange(64).reshape(8, 8) * 64
    window = np.clip(np.rint(((values - 2016) / 4032 + 0.5) * 255), 0, 255)
    assert np.array_equal(image, (255 - window).astype(np.uint8))  # MONOCHROME1: high values dark
    assert image[0, 0] == 255 and image[-1, -1] == 0
    colour = png(client.get(path_of(slide) + "/frames/1/rendered", params={"window": "40,400"}, headers=accept))
    assert colour.shape == (32, 32, 3)
    assert tuple(colour[0, 0]) == (200, 30, 30) and tuple(colour[0, 31]) == (30, 200, 30)
    assert tuple(colour[31, 0]) == (30, 30, 200)
    frames = [png(client.get(path_of(mr) + f"/frames/{n}/rendered", params={"window": "50,100,linear-exact"},
                      headers=accept))
              for n in (1, 2, 3)]
    assert [int(f[0, 0]) for f in frames] == [0, 128, 255]
    raw = client.get(path_of(mr) + "/frames/2,3", headers={**reader, "Accept": 'multipart/related; '
                                                                              'type="application/octet-stream"'})
    assert raw.status_code == 200
    [(_, second), (_, third)] = parts(raw)
    assert np.frombuffer(second, dtype=np.uint16).tolist() == [50] * 64
    assert np.frombuffer(third, dtype=np.uint16).tolist() == [100] * 64


@pytest.mark.parametrize("suffix, params, accept, status, words", [
    ("/frames/1/rendered", {"window": "40"}, "image/png", 400, "give window=center,width"),
    ("/frames/1/rendered", {"window": "40,abc"}, "image/png", 400, "give window=center,width"),
    ("/frames/1/rendered", {"window": "40,0"}, "image/png", 400, "window width 0 is too small"),
    ("/frames/1/rendered", {"window": "40,400,cubic"}, "image/png", 400, "not one of linear"),
    ("/frames/1/rendered", {"quality": "0"}, "image/jpeg", 400, "give 1 to 100"),
    ("/frames/x/rendered", {}, "image/png", 400, "give frame numbers"),
    ("/frames/0/rendered", {}, "image/png", 400, "frame numbers start at 1"),
    ("/frames/1,2/rendered", {}, "image/png", 400, "a rendered image is of one frame"),
    ("/frames/2/rendered", {}, "image/png", 404, "frame 2 does not exist"),
    ("/frames/1/rendered", {}, "image/gif", 406, "offers image/png or image/jpeg"),
    ("/frames/1/rendered", {}, "application/dicom", 406, "offers image/png or image/jpeg"),
    ("/metadata", {}, "application/dicom+xml", 406, "offers application/dicom+json"),
    ("", {}, "application/json", 406, 'multipart/related; type="application/dicom"'),
    ("/frames/1", {}, "image/jpeg", 406, "application/octet-stream"),
])
def test_bad_requests_get_clear_errors(community: Community, reader: dict[str, str], suffix: str, params: dict,
                                       accept: str, status: int, words: str) -> None:
    [data] = ct_series(1)
    ingest(community, [data])
    response = community.client.get(path_of(data) + suffix, params=params, headers={**reader, "Accept": accept})
    assert response.status_code == status, response.text
    assert words in response.json()["issue"][0]["diagnostics"]


def test_unknown_uids_and_unrenderable_instances(community: Community, reader: dict[str, str]) -> None:
    [ct] = ct_series(1)
    video, ecg = undecodable(), ecg_file(patient_id="1")
    ingest(community, [ct, video, ecg])
    client = community.client
    ds = pydicom.dcmread(io.BytesIO(ct), stop_before_pixels=True)
    for path, words in [
        ("/dicomweb/studies/1.2.3.9", "no study 1.2.3.9"),
        (f"/dicomweb/studies/{ds.StudyInstanceUID}/series/1.2.3.9/metadata", "no series 1.2.3.9"),
        (f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/1.2.3.9/rendered",
         "no instance 1.2.3.9"),
    ]:
        response = client.get(path, headers=reader)
        assert response.status_code == 404 and words in response.json()["issue"][0]["diagnostics"], response.text
    unsupported = client.get(path_of(video) + "/rendered", headers={**reader, "Accept": "image/png"})
    assert unsupported.status_code == 406
    assert "MPEG2" in unsupported.json()["issue"][0]["diagnostics"]
    assert "retrieve the instance itself" in unsupported.json()["issue"][0]["diagnostics"]
    assert client.get(path_of(video), headers=reader).status_code == 200  # the file itself is still served
    waveform = client.get(path_of(ecg) + "/rendered", headers={**reader, "Accept": "image/png"})
    assert waveform.status_code == 404 and "holds no image" in waveform.json()["issue"][0]["diagnostics"]
