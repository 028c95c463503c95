"""The benchmarks' HTTP read harness: the hub's API served from this process, and timed Patient reads
($everything and each kind of clinician's search) as a client sends them."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

from consumers.record_store.search.extract import pinyin_forms
from hub.app.api.app import create_app
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.identifiers import RESIDENT_ID

SEARCHES = ("name", "pinyin", "initials_birthdate", "birthdate", "identifier")
READS = ("everything", *SEARCHES)


@contextmanager
def served(settings: HubSettings, database: Database) -> Iterator[httpx.Client]:
    """A client of the hub's API on a free local port, as an admin (a live uvicorn server, not a test client)."""
    token = "bench-" + uuid.uuid4().hex
    app = create_app(settings.model_copy(update={"admin_token": SecretStr(token)}), database)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)


def searchable(stored: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored Patients a clinician's search can name: with a name, a birth date and an identifier."""
    return [p for p in stored if p.get("name") and p.get("birthDate") and p.get("identifier")]


def search_url(kind: str, patient: dict[str, Any]) -> str:
    """A clinician's search for a stored resident: by name, its pinyin, initials with the birth date, birth
    date, or an identifier, as the member's record has them."""
    name = patient["name"][0]
    text = name.get("text") or name.get("family", "") + "".join(name.get("given", []))
    forms = pinyin_forms(text) or [text, text]
    born = patient.get("birthDate", "")
    match kind:
        case "name":
            return f"/fhir/Patient?name={text}&_count=20"
        case "pinyin":
            return f"/fhir/Patient?name={forms[0]}&_count=20"
        case "initials_birthdate":
            return f"/fhir/Patient?name={forms[1]}&birthdate={born}&_count=20"
        case "birthdate":
            return f"/fhir/Patient?birthdate={born}&_count=20"
    ids = sorted(patient["identifier"], key=lambda i: i.get("system") != RESIDENT_ID)
    return f"/fhir/Patient?identifier={ids[0].get('system', '')}|{ids[0]['value']}&_count=20"


def timed_read(client: httpx.Client, kind: str, communities: Sequence[str], patients: Sequence[dict[str, Any]],
               rng: random.Random) -> float:
    """Milliseconds for one read of `kind` (a READS entry): a random community patient's $everything, or a
    search for a random stored patient, which must find them."""
    url = (f"/fhir/Patient/{rng.choice(communities)}/$everything" if kind == "everything"
           else search_url(kind, rng.choice(patients)))
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    if kind != "everything" and not response.json().get("total"):
        raise RuntimeError(f"the benchmark's search {url} did not find the resident it searched for")
    return elapsed
