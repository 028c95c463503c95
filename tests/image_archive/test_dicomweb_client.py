"""A standard DICOMweb client (dicomweb-client, PyPI) against the hub over real HTTP."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from tests.api.conftest import Community
from tests.image_archive.conftest import ingest
from tests.image_archive.samples import ct_series


def test_dicomweb_client_searches_retrieves_and_renders(community: Community, served: str) -> None:
    files = ct_series(2, patient_id="1")
    ingest(community, files)
    ds = pydicom.dcmread(io.BytesIO(files[1]))
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {community.tokens['reader']}"
    client = DICOMwebClient(f"{served}/dicomweb", session=session)

    studies = client.search_for_studies(search_filters={"PatientID": "1"}, fields=["StudyDescription"])
    assert [pydicom.Dataset.from_json(s).StudyInstanceUID for s in studies] == [ds.StudyInstanceUID]
    instances = client.search_for_instances(ds.StudyInstanceUID, ds.SeriesInstanceUID, fields=["PixelSpacing"])
    assert sorted(pydicom.Dataset.from_json(i).SOPInstanceUID for i in instances) == sorted(
        pydicom.dcmread(io.BytesIO(f)).SOPInstanceUID for f in files)

    retrieved = client.retrieve_instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert retrieved.SOPInstanceUID == ds.SOPInstanceUID
    assert np.array_equal(retrieved.pixel_array, ds.pixel_array)
    series = client.retrieve_series(ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert len(series) == 2

    metadata = pydicom.Dataset.from_json(
        client.retrieve_instance_metadata(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))
    assert metadata.PatientID == "1" and list(metadata.PixelSpacing) == [0.5, 0.8]

    rendered = client.retrieve_instance_frames_rendered(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                                        ds.SOPInstanceUID, [1], media_types=("image/png",),
                                                        params={"window": "40,400,linear"})
    image = np.asarray(Image.open(io.BytesIO(rendered)))
    assert image.shape == (16, 16) and image[0, 0] == 0 and image[-1, -1] == 255
