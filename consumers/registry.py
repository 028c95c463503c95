"""The consumers, by name. A new consumer is one folder with a `part.py` and one line here."""

CONSUMERS: dict[str, str] = {
    "record_store": "consumers.record_store.part:PART",
    "dead_letters": "consumers.dead_letters.part:PART",
    "referrals": "consumers.referrals.part:PART",
    "reading": "consumers.reading.part:PART",
    "ecg": "consumers.ecg.part:PART",
    "image_archive": "consumers.image_archive.part:PART",
    "delivery": "consumers.delivery.part:PART",
    "critical_values": "consumers.critical_values.part:PART",
    "pharmacy": "consumers.pharmacy.part:PART",
    "drug_supply": "consumers.drug_supply.part:PART",
    "member_traffic": "consumers.member_traffic.part:PART",
    "indicators": "consumers.indicators.part:PART",
}
