"""The patient index over HTTP: $match, the review work list, link changes and their history."""

from __future__ import annotations

from sqlalchemy import select

from consumers.record_store.consumer import RecordStoreConsumer
from hub.core.consumer import Delivery
from hub.core.db.models import AuditLog
from tests.api.conftest import Community, auth
from tests.factories import patient_event


def parameters(patient: dict, **extra) -> dict:
    params = [{"name": "resource", "resource": {"resourceType": "Patient", **patient}}]
    params += [{"name": k, **v} for k, v in extra.items()]
    return {"resourceType": "Parameters", "parameter": params}


WANG = {"name": [{"text": "Wang Xiuying"}], "gender": "male", "birthDate": "1990-03-07",
        "telecom": [{"system": "phone", "value": "13812345678"}]}


def test_match_returns_scored_candidates_as_fhir_specifies(community: Community) -> None:
    response = community.client.post("/fhir/Patient/$match", json=parameters(WANG), headers=auth(community.tokens["clinician"]))
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    best = bundle["entry"][0]
    assert best["resource"]["id"] == community.golden and best["search"]["mode"] == "match"
    assert 0.5 < best["search"]["score"] <= 1
    grade = best["search"]["extension"][0]
    assert grade["url"] == "http://hl7.org/fhir/StructureDefinition/match-grade" and grade["valueCode"] in ("certain", "probable")
    assert "name same_pinyin" in best["search"]["extension"][1]["valueString"]


def test_match_by_resident_id_is_certain_and_masked_for_readers(community: Community) -> None:
    body = parameters({"identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": "110101199003074573"}]},
                      onlyCertainMatches={"valueBoolean": True})
    response = community.client.post("/fhir/Patient/$match", json=body, headers=auth(community.tokens["reader"]))
    (entry,) = response.json()["entry"]
    assert entry["search"]["score"] == 1.0 and entry["search"]["extension"][0]["valueCode"] == "certain"
    ids = {i["value"] for i in entry["resource"]["identifier"]}
    assert "1101**********4573" in ids and "110101199003074573" not in ids


def test_match_rejects_bad_input_clearly(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    cases = [
        ({"resourceType": "Patient"}, "Parameters"),
        ({"resourceType": "Parameters", "parameter": []}, "needs a 'resource' parameter"),
        (parameters({"birthDate": "1990-13-45"}), "Patient.birthDate"),
        (parameters(WANG, count={"valueInteger": 0}), "count"),
    ]
    for body, message in cases:
        response = community.client.post("/fhir/Patient/$match", json=body, headers=headers)
        assert response.status_code == 400 and message in response.text, (body, response.text)
    response = community.client.post("/fhir/Patient/$match", json=parameters(WANG), headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 403


def _possible_match(community: Community) -> None:
    event = patient_event("vc03", "7", name="Wang Xiuying", resident_id=None, phone="13900000000")
    event.resource["name"] = [{"text": "Wang Xiuying"}]
    event.resource["birthDate"] = "1990-07-03"
    with community.db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, [Delivery("t", 0, 0, None, None, (), 0, event)])


def test_review_work_list_confirm_and_history(community: Community) -> None:
    _possible_match(community)
    clinician = auth(community.tokens["clinician"])
    assert community.client.get("/api/mpi/reviews", headers=auth(community.tokens["reader"])).status_code == 403
    listing = community.client.get("/api/mpi/reviews", headers=clinician).json()
    (item,) = listing["items"]
    assert item["record"]["id"] == "vc03-pat-7" and item["candidate_community"] == community.golden
    assert "birth_date swapped_day_month" in item["explanation"]
    tasks = community.client.get("/fhir/Task", params={"status": "requested", "code": "urn:hub:mpi|possible-match"},
                                 headers=clinician).json()
    assert [e["resource"]["id"] for e in tasks["entry"]] == [item["id"]]

    done = community.client.post(f"/api/mpi/reviews/{item['id']}/confirm", json={"note": "checked"}, headers=clinician)
    assert done.status_code == 200, done.text
    assert community.client.post(f"/api/mpi/reviews/{item['id']}/confirm", headers=clinician).status_code == 409
    assert community.client.post("/api/mpi/reviews/mpi-nope/reject", headers=clinician).status_code == 404
    everything = community.client.get(f"/fhir/Patient/{community.golden}/$everything", headers=clinician).json()
    assert "vc03-pat-7" in {e["resource"]["id"] for e in everything["entry"]}
    history = community.client.get("/api/mpi/history", params={"patient": "vc03-pat-7"}, headers=clinician).json()
    assert [h["action"] for h in history["items"]] == ["link", "confirm"] and history["items"][1]["actor"] == "dr-li"
    with community.db.sessions() as session:
        actions = set(session.scalars(select(AuditLog.action)))
    assert {"confirm", "reviews", "history"} <= actions


def test_link_unlink_merge_unmerge_over_http(community: Community) -> None:
    clinician = auth(community.tokens["clinician"])
    other = community.client.get("/fhir/Patient/th02-pat-9", headers=clinician).json()["link"][0]["other"]["reference"]
    other_cp = other.removeprefix("Patient/")
    merged = community.client.post("/api/mpi/merge", json={"survivor": community.golden, "merged": other_cp}, headers=clinician)
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"] == ["th02/9"]
    old = community.client.get(f"/fhir/Patient/{other_cp}", headers=clinician).json()
    assert old["active"] is False and old["link"][0]["type"] == "replaced-by"
    undone = community.client.post("/api/mpi/unmerge", json={"operation": merged.json()["operation"]}, headers=clinician)
    assert undone.status_code == 200 and undone.json()["moved"] == ["th02/9"]
    assert community.client.post("/api/mpi/link", json={"patient": "th02-pat-9", "community": community.golden},
                                 headers=clinician).status_code == 200
    assert community.client.post("/api/mpi/unlink", json={"patient": "th02-pat-9", "note": "wrong"},
                                 headers=clinician).status_code == 200
    errors = [
        ("/api/mpi/link", {"patient": "nobody", "community": community.golden}, 404),
        ("/api/mpi/merge", {"survivor": community.golden, "merged": community.golden}, 400),
        ("/api/mpi/unmerge", {"operation": "no-such-operation"}, 404),
        ("/api/mpi/unlink", {"patient": "th02-pat-9", "surprise": 1}, 400),
    ]
    for path, body, status in errors:
        response = community.client.post(path, json=body, headers=clinician)
        assert response.status_code == status, (path, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    status = community.client.get("/api/mpi/status", headers=clinician).json()
    assert status["waiting_for_rematch"] == 0 and status["thresholds"]["link"] > status["thresholds"]["possible"]


def test_rematch_over_http_after_a_rules_change(community: Community, tmp_path) -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from consumers.record_store.matching.rules import DEFAULT_RULES
    from hub.app.api.app import create_app
    from tests.api.conftest import ADMIN

    linked = patient_event("vc03", "8", name="王秀英", resident_id=None, phone="13812345678")
    with community.db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, [Delivery("t", 0, 0, None, None, (), 0, linked)])
    clinician = auth(community.tokens["clinician"])
    assert community.client.get("/fhir/Patient/vc03-pat-8", headers=clinician).json()["link"][0]["other"] == {
        "reference": f"Patient/{community.golden}"}
    stricter = tmp_path / "rules.yaml"
    stricter.write_text(DEFAULT_RULES.read_text(encoding="utf-8").replace("link: 15.0", "link: 40.0"), encoding="utf-8")
    settings = community.client.app.state.settings.model_copy(update={"match_rules": stricter,
                                                                      "admin_token": SecretStr(ADMIN)})
    with TestClient(create_app(settings, community.db)) as client:
        assert client.get("/api/mpi/status", headers=clinician).json()["waiting_for_rematch"] >= 1
        assert client.post("/api/mpi/rematch", headers=clinician).status_code == 403  # admins only
        done = client.post("/api/mpi/rematch", headers=auth(ADMIN)).json()
        assert done["rematched"] >= 1
        assert client.get("/api/mpi/status", headers=clinician).json()["waiting_for_rematch"] == 0
        moved = client.get("/fhir/Patient/vc03-pat-8", headers=clinician).json()["link"][0]["other"]["reference"]
        assert moved != f"Patient/{community.golden}"  # no longer sure: its own community, and a review
        reviews = client.get("/api/mpi/reviews", headers=clinician).json()["items"]
        assert any(r["record"]["id"] == "vc03-pat-8" for r in reviews)
        history = client.get("/api/mpi/history", params={"patient": "vc03-pat-8"}, headers=clinician).json()["items"]
        assert [h["action"] for h in history] == ["link", "rematch"]
