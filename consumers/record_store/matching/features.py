"""What the matcher compares of a Patient, extracted once when the record arrives.

Features are stored beside the link (JSON), so candidates are compared without re-parsing their
FHIR resources.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from consumers.record_store.matching import names
from hub.core.identifiers import RESIDENT_ID, normalise_resident_id, resident_id_valid

_DIGITS = re.compile(r"\D")
_PLACE = r"(?:(?![省市县区镇乡])[\u4e00-\u9fff])"  # a character that does not end a place level
_TOWNSHIP = re.compile(rf"({_PLACE}{{1,6}}(?:镇|乡|街道))")
_VILLAGE = re.compile(rf"(?:^|县|区|市|镇|乡|街道)({_PLACE}{{2,8}}?)(?:[\d一二三四五六七八九十]+(?:组|号|队)|\d|$)")
_VILLAGE_LINE = re.compile(r"^[\u4e00-\u9fff]{2,6}$")


@dataclass(frozen=True, slots=True)
class Features:
    name: names.Syllables
    han: str  # the name in characters ('' when typed in pinyin)
    sex: str  # male | female | ''
    birth: str  # YYYYMMDD or ''
    phones: tuple[str, ...]  # 11-digit mobile or local numbers, digits only
    township: str
    village: str
    resident_id: str  # a valid resident ID
    resident_id_typo: str  # an 18-character ID whose check digit fails: compared, never linked on

    def to_json(self) -> str:
        name = " ".join("|".join(readings) for readings in self.name)  # "shan|dan li"
        return json.dumps(
            [name, self.han, self.sex, self.birth, list(self.phones), self.township, self.village, self.resident_id,
             self.resident_id_typo],
            ensure_ascii=False, separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Features:
        name, han, sex, birth, phones, township, village, rid, typo = json.loads(text)
        return cls(_name(name), han, sex, birth, tuple(phones), township, village, rid, typo)


@lru_cache(maxsize=100_000)
def _name(text: str) -> names.Syllables:
    """Names repeat across a county (王伟, 李娜, ...), so candidates' names are parsed once."""
    return tuple(tuple(s.split("|")) for s in text.split(" ")) if text else ()


def features(patient: dict[str, Any]) -> Features:
    name_text = _name_text(patient)
    syllables, is_han = names.syllables(name_text)
    rid = typo = ""
    for identifier in patient.get("identifier") or []:
        if identifier.get("system") == RESIDENT_ID and isinstance(identifier.get("value"), str):
            value = normalise_resident_id(identifier["value"])
            if resident_id_valid(value):
                rid = value
            elif len(value) == 18:
                typo = value
    township, village = _address(patient.get("address") or [])
    gender = patient.get("gender")
    return Features(
        name=syllables,
        han="".join(c for c in name_text if "\u3400" <= c <= "\u9fff") if is_han else "",
        sex=gender if gender in ("male", "female") else "",
        birth=_birth(patient.get("birthDate")),
        phones=_phones(patient.get("telecom") or []),
        township=township,
        village=village,
        resident_id=rid,
        resident_id_typo=typo,
    )


def _name_text(patient: dict[str, Any]) -> str:
    for name in patient.get("name") or []:
        if not isinstance(name, dict):
            continue
        if name.get("text"):
            return str(name["text"])
        family, given = name.get("family") or "", " ".join(name.get("given") or [])
        if family or given:
            han = any("\u3400" <= c <= "\u9fff" for c in family + given)
            return f"{family}{given}" if han else f"{family} {given}".strip()
    return ""


def _birth(value: Any) -> str:
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        digits = value[:4] + value[5:7] + value[8:10]
        return digits if digits.isdigit() else ""
    return ""


def _phones(telecoms: list[Any]) -> tuple[str, ...]:
    found: list[str] = []
    for telecom in telecoms:
        if isinstance(telecom, dict) and telecom.get("system") in ("phone", "sms", None) and telecom.get("value"):
            digits = _DIGITS.sub("", str(telecom["value"]))
            if digits.startswith("86") and len(digits) == 13:
                digits = digits[2:]  # +86 country code
            if len(digits) >= 7 and digits not in found:
                found.append(digits)
    return tuple(found)


def _address(addresses: list[Any]) -> tuple[str, str]:
    """Township and village of the first address that names them (free text or structured lines)."""
    for address in addresses:
        if not isinstance(address, dict):
            continue
        lines = [str(x) for x in address.get("line") or [] if x]
        text = str(address.get("text") or "") or "".join([str(address.get("district") or ""), *lines])
        township_match = _TOWNSHIP.search(text)
        village_match = _VILLAGE.search(text)
        village = village_match.group(1) if village_match else ""
        if not village:
            village = next((line for line in lines if _VILLAGE_LINE.match(line) and not line.endswith(("镇", "乡"))), "")
        township = township_match.group(1) if township_match else ""
        if township or village:
            return township, village
    return "", ""
