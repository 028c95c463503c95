"""QIDO-RS against real DICOM files: the standard's matching keys, DICOM JSON answers, clear errors."""

from __future__ import annotations

from sqlalchemy import select

from hub.core.db.models import AuditLog, AuditPatient
from tests.api.conftest import Community
from tests.image_archive.conftest import ingest
from tests.image_archive.samples import cr_monochrome1, ct_series, mr_multiframe, sm_rgb

STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"


def uids(answer: list[dict], tag: str = STUDY_UID) -> set[str]:
    return {item[tag]["Value"][0] for item in answer}


def _value(item: dict, tag: str):
    return item[tag]["Value"][0] if "Value" in item.get(tag, {}) else None


def test_studies_are_found_by_the_standard_keys(community: Community, reader: dict[str, str]) -> None:
    client = community.client
    ct = ct_series(3, patient_id="1", accession="ACC-7", study_date="20261101")
    ct_uid = ingest(community, ct)[0].related[0]["identifier"][0]["value"].removeprefix("urn:oid:")
    mr = ingest(community, [mr_multiframe(patient_id="9")], facility="th02")[0]
    mr_uid = mr.related[0]["identifier"][0]["value"].removeprefix("urn:oid:")
    slide = ingest(community, [sm_rgb(patient_id="A77")], facility="cty01")[0]
    sm_uid = slide.related[0]["identifier"][0]["value"].removeprefix("urn:oid:")

    every = client.get("/dicomweb/studies", headers=reader)
    assert every.status_code == 200 and every.headers["content-type"] == "application/dicom+json"
    assert uids(every.json()) == {ct_uid, mr_uid, sm_uid}
    study = next(s for s in every.json() if _value(s, STUDY_UID) == ct_uid)
    assert study["00100020"] == {"vr": "LO", "Value": ["1"]} and _value(study, "00100021") == "th01"
    assert study["00080061"]["Value"] == ["CT"] and _value(study, "00201206") == 1 and _value(study, "00201208") == 3
    assert _value(study, "00080050") == "ACC-7" and _value(study, "00080020") == "20261101"
    assert study["00100010"]["Value"][0]["Alphabetic"] == "Wang^Xiuying"
    assert study["00100010"]["Value"][0]["Ideographic"] == "王^秀英"
    assert _value(study, "00081190").endswith(f"/dicomweb/studies/{ct_uid}")
    assert all(len(tag) == 8 and "vr" in element for tag, element in study.items())

    def found(**params: str) -> set[str]:
        response = client.get("/dicomweb/studies", params=params, headers=reader)
        assert response.status_code == 200, response.text
        return uids(response.json())

    assert found(PatientID="1") == {ct_uid}  # the member's own PatientID
    # A hub Patient id, source or community, stands for the person: here the same person at th01 (the
    # CT) and at the county hospital (the slide), as `patient=` does in FHIR searches.
    assert found(PatientID="th01-pat-1") == {ct_uid, sm_uid}
    assert found(PatientID=community.golden) == {ct_uid, sm_uid}
    assert found(PatientID="th02-pat-9") == {mr_uid}
    assert found(PatientID="1", IssuerOfPatientID="th02") == set()
    assert found(AccessionNumber="ACC-7") == {ct_uid}
    assert found(StudyInstanceUID=f"{ct_uid},{mr_uid}") == {ct_uid, mr_uid}
    assert found(**{"0020000D": mr_uid}) == {mr_uid}  # keys as tags work too
    assert found(ModalitiesInStudy="SM") == {sm_uid}
    assert found(StudyDate="20261101") == {ct_uid}
    assert found(StudyDate="20261120-") == {mr_uid, sm_uid}
    assert found(StudyDate="-20261102") == {ct_uid}
    assert found(StudyDate="20261001-20261231") == {ct_uid, mr_uid, sm_uid}
    assert found(PatientName="wang*") == {ct_uid, mr_uid, sm_uid}
    assert found(StudyDescription="病理*") == {sm_uid}
    page_one = client.get("/dicomweb/studies", params={"limit": 2}, headers=reader).json()
    page_two = client.get("/dicomweb/studies", params={"limit": 2, "offset": 2}, headers=reader).json()
    assert len(page_one) == 2 and len(page_two) == 1 and uids(page_one) | uids(page_two) == {ct_uid, mr_uid, sm_uid}
    with_all = client.get("/dicomweb/studies", params={"StudyInstanceUID": ct_uid, "includefield": "all"},
                          headers=reader).json()[0]
    assert "00080080" not in study and _value(with_all, "00080080") == "青山镇卫生院"  # beyond the defaults
    assert "00280010" not in with_all  # the patient and study modules, not an instance's pixel attributes
    named = client.get("/dicomweb/studies", params={"StudyInstanceUID": ct_uid, "includefield": "00080080"},
                       headers=reader).json()[0]
    assert _value(named, "00080080") == "青山镇卫生院"

    # Series and instances, within a study and across the archive.
    series = client.get(f"/dicomweb/studies/{ct_uid}/series", headers=reader).json()
    assert len(series) == 1 and _value(series[0], "00080060") == "CT" and _value(series[0], "00201209") == 3
    assert _value(series[0], "00200011") == 2 and _value(series[0], "0008103E") == "肺窗 1mm"
    series_uid = _value(series[0], SERIES_UID)
    instances = client.get(f"/dicomweb/studies/{ct_uid}/series/{series_uid}/instances", headers=reader).json()
    assert [_value(i, "00200013") for i in instances] == [1, 2, 3]
    first = instances[0]
    assert first["00280030"] == {"vr": "DS", "Value": [0.5, 0.8]} and _value(first, "00281050") == 40
    assert _value(first, "00280010") == 16 and _value(first, "00280008") == 1
    assert _value(first, "00081190").endswith(f"/studies/{ct_uid}/series/{series_uid}/instances/{_value(first, SOP_UID)}")
    in_study = client.get(f"/dicomweb/studies/{ct_uid}/instances", params={"InstanceNumber": 2}, headers=reader).json()
    assert [_value(i, "00200013") for i in in_study] == [2] and _value(in_study[0], SERIES_UID) == series_uid
    everywhere = client.get("/dicomweb/instances", params={"Modality": "MR"}, headers=reader).json()
    assert len(everywhere) == 1 and _value(everywhere[0], "00280008") == 3 and _value(everywhere[0], STUDY_UID) == mr_uid
    assert everywhere[0]["00280030"]["Value"] == [1.5, 1.5]  # from the enhanced object's functional groups
    all_series = client.get("/dicomweb/series", params={"Modality": "SM"}, headers=reader).json()
    assert len(all_series) == 1 and _value(all_series[0], STUDY_UID) == sm_uid  # study attributes included
    assert _value(all_series[0], "00100020") == "A77"


def test_answers_are_audited_with_the_studies_patients(community: Community, reader: dict[str, str]) -> None:
    ingest(community, ct_series(1, patient_id="1"))
    ingest(community, [cr_monochrome1(patient_id="9")], facility="th02")
    response = community.client.get("/dicomweb/studies", params={"ModalitiesInStudy": "CR"}, headers=reader)
    assert response.status_code == 200 and len(response.json()) == 1
    with community.db.sessions() as session:
        row = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()
        audited = set(session.scalars(select(AuditPatient.patient_id).where(AuditPatient.audit_uid == row.uid)))
    assert row.actor == "reader-zhang" and "th02-pat-9" in audited and "th01-pat-1" not in audited


def test_bad_queries_get_clear_errors(community: Community, reader: dict[str, str]) -> None:
    client = community.client
    study = ingest(community, ct_series(1))[0].related[0]["identifier"][0]["value"].removeprefix("urn:oid:")

    def error(path: str, status: int, words: str, headers: dict[str, str] | None = None, **params: str) -> None:
        response = client.get(path, params=params, headers={**reader, **(headers or {})})
        assert response.status_code == status, response.text
        assert words in response.json()["issue"][0]["diagnostics"], response.text

    error("/dicomweb/studies", 400, "limit must be 1 to 1000", limit="0")
    error("/dicomweb/studies", 400, "offset must be a whole number", offset="x")
    error("/dicomweb/studies", 400, "is not a date or a range", StudyDate="2026-11-01")
    error("/dicomweb/studies", 400, "is not a date or a range", StudyDate="20261201-20261101")
    error("/dicomweb/studies", 400, "not a DICOM keyword or tag", includefield="NoSuchThing")
    error("/dicomweb/studies", 400, "cannot be matched in a study search", Modality="CT")
    error("/dicomweb/studies", 406, "offers application/dicom+json", {"Accept": "application/dicom+xml"})
    error("/dicomweb/studies/1.2.3.404/series", 404, "no study 1.2.3.404")
    error(f"/dicomweb/studies/{study}/series/1.2.3.404/instances", 404, "no series 1.2.3.404")
    # Keys the archive cannot match are ignored, and the answer says so (PS3.18 8.3.4.1).
    ignored = client.get("/dicomweb/studies", params={"ReferringPhysicianName": "Li*"}, headers=reader)
    assert ignored.status_code == 200 and len(ignored.json()) == 1
    assert "ReferringPhysicianName" in ignored.headers["warning"] and ignored.headers["warning"].startswith("299")
    # Who may read: readers, clinicians and admins; not a member's connector; nobody without a credential.
    assert client.get("/dicomweb/studies").status_code == 401
    assert client.get("/dicomweb/studies", headers={"Authorization": f"Bearer {community.tokens['connector_th01']}"}
                      ).status_code == 403
    assert client.get("/dicomweb/studies", headers={"Authorization": f"Bearer {community.tokens['clinician']}"}
                      ).status_code == 200


def test_resident_id_numbers_are_masked_for_readers_as_everywhere(community: Community, reader: dict[str, str]) -> None:
    """Some devices put the resident ID number in PatientID: readers see it masked, clinicians whole."""
    resident = "110101199003074573"
    ingest(community, ct_series(1, patient_id=resident))
    client = community.client
    for_reader = client.get("/dicomweb/studies", params={"PatientID": resident}, headers=reader)
    assert for_reader.status_code == 200 and len(for_reader.json()) == 1
    assert resident not in for_reader.text and for_reader.json()[0]["00100020"]["vr"] == "LO"
    for_clinician = client.get("/dicomweb/studies", params={"PatientID": resident},
                               headers={"Authorization": f"Bearer {community.tokens['clinician']}"})
    assert for_clinician.json()[0]["00100020"]["Value"] == [resident]
