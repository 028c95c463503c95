"""What members send over HL7 v2 reaches the pharmacy's record: AL1 allergies, RDS^O13 dispenses and an
RDE^O11 prescription with a local code nobody mapped (held, and waiting in the mapping queue)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from consumers.pharmacy.models import PharmacyAllergy, PharmacyLocalCode, PharmacyMedication, PharmacyReview
from tests.api.conftest import Community
from tests.connectors.test_mllp import PID, PV1, Listener, msa, msh
from tests.pharmacy.factories import apply, bound_consumer


def test_hl7_allergies_dispenses_and_prescriptions(community: Community, settings, tmp_path: Path) -> None:
    listener = Listener(tmp_path)
    try:
        for message in (
            "\r".join([msh("ADT^A01", "P1"), PID, PV1, "AL1|1|DA|J01C^青霉素类^ATC|SV|皮疹|20200101"]),
            "\r".join([msh("RDS^O13", "P2"), PID, "ORC|RE|RX5||||||||20261123081500",
                       "RXD|1|B01AC06^阿司匹林肠溶片^WC|20261123090000|30|^片"]),
            "\r".join([msh("RDE^O11", "P3"), PID, "ORC|NW|RX6||||||||20261123081500", "RXE|1|YP-42^本院自制合剂|10||ml"]),
        ):
            assert msa(listener.send(message))[1] == "AA"
        events = listener.events()
    finally:
        listener.close()
    # The pharmacy reads its topics only (the runner subscribes it to them).
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, *[e for e in events if e.event_type in consumer.event_types])
    with community.db.sessions() as session:
        [allergy] = session.scalars(select(PharmacyAllergy)).all()
        assert (allergy.patient_key, allergy.atc, allergy.criticality) == ("th01/000123", "J01C", "high")
        medications = {m.kind: m for m in session.scalars(select(PharmacyMedication))}
        assert medications["dispense"].drug_code == "D0015" and medications["dispense"].status == "completed"
        assert medications["request"].drug_code is None and medications["request"].local_code == "YP-42"
        [code] = session.scalars(select(PharmacyLocalCode)).all()
        assert (code.system, code.code, code.display) == ("urn:hub:code:local-drug:th01", "YP-42", "本院自制合剂")
        [review] = session.scalars(select(PharmacyReview)).all()
        assert (review.outcome, review.waits_for_mapping) == ("hold", True)
