"""Identifier systems of the community and checks on Chinese resident ID numbers (GB 11643-1999)."""

from __future__ import annotations

import re

# Identifier.system URIs used across connectors and consumers.
RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"  # 居民身份证号 (national identifier OID arc)
INSURANCE_ID = "urn:oid:2.16.156.10011.1.5"  # 医保卡号
PHONE = "phone"


def local_mrn_system(facility_id: str) -> str:
    """System for a member's own patient record number (病历号/门诊号)."""
    return f"urn:hub:facility:{facility_id}:mrn"


def local_system(facility_id: str, kind: str) -> str:
    """System for other local ids of a member: visits, orders, prescriptions, reports."""
    return f"urn:hub:facility:{facility_id}:{kind}"


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def resident_id_check_digit(first17: str) -> str:
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("the first 17 characters of a resident ID must be digits")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalise_resident_id(value: str) -> str:
    return value.strip().replace(" ", "").upper()


def resident_id_valid(value: str | None) -> bool:
    """True for an 18-character resident ID whose check digit is right."""
    if not value:
        return False
    value = normalise_resident_id(value)
    return bool(_SHAPE.match(value)) and resident_id_check_digit(value[:17]) == value[17]
