"""Identifier systems of the community, FHIR resource ids made from local record numbers, and checks
on Chinese resident ID numbers (GB 11643-1999)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from hub.core.errors import PermanentError

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


# FHIR resource ids --------------------------------------------------------------------------------
# Ids are made from a member's own record numbers (`th01-pat-{MRN}`). They must be injective (two
# record numbers never share a resource), stable (the same number gives the same id at every door,
# on every run) and valid FHIR ids ([A-Za-z0-9-.]{1,64}). A text that is already such an id, with no
# empty part between hyphens, is kept as it is; everything else keeps a readable prefix and gets
# `--` and a 128-bit hash of the whole text. A kept id never holds `--` and a hashed one always
# does, so the two kinds cannot meet, and two hashed ids meet only if SHA-256 collides.
FHIR_ID_MAX = 64
_KEPT_ID = re.compile(r"^[A-Za-z0-9.]+(?:-[A-Za-z0-9.]+)*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9.]+")
_HASH_CHARS = 26  # base32 of 16 bytes: 128 bits


def fhir_id(text: str) -> str:
    """A valid FHIR id for `text` (e.g. `th01-pat-{local record number}`), injective and stable."""
    if len(text) <= FHIR_ID_MAX and _KEPT_ID.match(text):
        return text
    digest = base64.b32encode(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16])
    readable = _UNSAFE.sub("-", text).strip("-")[: FHIR_ID_MAX - 2 - _HASH_CHARS].rstrip("-")
    return f"{readable}--{digest.decode('ascii').rstrip('=').lower()}"


def made_for(resource_id: str, facility_id: str, kind: str) -> bool:
    """True when `resource_id` can be an id `fhir_id` made from `{facility_id}-{kind}-...`: kept
    ids start with that prefix, hashed ones with its readable form."""
    prefix = f"{facility_id}-{kind}-"
    if resource_id.startswith(prefix) and not is_hashed_id(resource_id):
        return True
    readable = _UNSAFE.sub("-", prefix).strip("-")[: FHIR_ID_MAX - 2 - _HASH_CHARS]
    part = resource_id.rsplit("--", 1)[0]
    return is_hashed_id(resource_id) and (part == readable or part.startswith(readable + "-"))


def is_hashed_id(resource_id: str) -> bool:
    """True for ids `fhir_id` had to hash: the record number cannot be read back from them."""
    return "--" in resource_id


# Member-local identifier systems -------------------------------------------------------------------
_LOCAL_SYSTEM = re.compile(r"^urn:hub:facility:([^:]+)(?::|$)")


def system_facility(system: str | None) -> str | None:
    """The facility a member-local system (`urn:hub:facility:{F}:...`) belongs to, else None."""
    match = _LOCAL_SYSTEM.match(system or "")
    return match.group(1) if match else None


_IDENTIFIER_KEYS = ("identifier", "groupIdentifier", "masterIdentifier")


def foreign_identifier(resource: Any, facility_id: str, where: str) -> tuple[str, str] | None:
    """(element, system) of the first identifier in `resource` whose system is another member's
    own (`urn:hub:facility:{other}:...`): a sender may speak only for the facilities it is."""
    found = _foreign(resource, facility_id)
    if found is None:
        return None
    steps, system = found
    return where + "".join(reversed(steps)), system


_CONTAINERS = (dict, list)  # a tuple: `dict | list` in isinstance built a union at every node


def _foreign(node: Any, facility_id: str) -> tuple[list[str], str] | None:
    """The path to the first foreign identifier's system, its steps last first (the path of each
    resource is written only for the one that is refused), and that system."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, _CONTAINERS) and (found := _foreign(item, facility_id)):
                found[0].append(f"[{i}]")
                return found
        return None
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        if key in _IDENTIFIER_KEYS:
            many = isinstance(value, list)
            for i, identifier in enumerate(value if many else [value]):
                if not isinstance(identifier, dict):
                    continue
                system = identifier.get("system")
                owner = system_facility(system) if isinstance(system, str) and system.startswith("urn:hub:") else None
                if owner is not None and owner != facility_id:
                    return [".system", f"[{i}]" if many else "", f".{key}"], str(system)
                if found := _foreign(identifier, facility_id):  # e.g. its assigner
                    found[0].append(f".{key}")
                    return found
        elif isinstance(value, _CONTAINERS) and (found := _foreign(value, facility_id)):
            found[0].append(f".{key}")
            return found
    return None


class ForeignIdentifierError(PermanentError, ValueError):
    """A resource carries another member's own identifier; `expression` names the element."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


def check_speaks_for(resource: dict[str, Any], facility_id: str, where: str) -> None:
    """Refuses a resource from `facility_id` that carries another member's own identifier system."""
    found = foreign_identifier(resource, facility_id, where)
    if found is not None:
        element, system = found
        raise ForeignIdentifierError(
            f"{element}: {system} is the identifier system of member {system_facility(system)}; "
            f"{facility_id} may send only its own (urn:hub:facility:{facility_id}:...) or shared identifiers",
            element,
        )
