"""The community terminology: the drugs, lab tests, lab panels and diagnoses of the county medical
community, read once from terminology.yaml (beside this module; its header describes every field).

Vendor mappings translate local codes to community codes and take their FHIR codings from here; the
demo county draws its clinical facts from here. A file the hub cannot use fails at load with one line
naming the file, the entry and the problem.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, Protocol, TypeVar

import yaml

from hub.core.errors import PermanentError

DEFAULT_FILE = Path(__file__).with_name("terminology.yaml")
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
NHSA_DRUG = "urn:hub:code:nhsa-drug"  # 国家医保药品编码
COMMUNITY_DRUG = "urn:hub:code:community-drug"  # the community catalogue's own code
LOCAL_DRUG = "urn:hub:code:local-drug:"  # + facility id: a member's own drug code nobody has mapped yet
UNMAPPED_DRUG_FLAG = "unmapped-local-drug-code"  # the event flag of a prescription coded only locally
ATC = "http://www.whocc.no/atc"
SECTIONS = ("drugs", "lab_tests", "lab_panels", "diagnoses")
_T = TypeVar("_T")
ATC_CODE = re.compile(r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$")  # the five levels of a WHO ATC code
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


class TerminologyFileError(PermanentError, ValueError):
    """A terminology file the hub cannot use; the message names the file and the entry."""


class Term(Protocol):
    """What every section's entries share: a community code, a Chinese name and a FHIR coding."""

    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    def coding(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Drug:
    code: str
    name: str  # 通用名, with the dosage form
    form: str
    strength: str | None
    unit: str  # the smallest unit dispensed
    route: str
    atc: str | None
    nhsa: str | None  # national drug code
    generic: str | None = None  # the generic name without the dosage form (阿莫西林), matched with an ATC code
    essential: bool = False  # 国家基本药物
    vbp: str | None = None  # the national volume-based procurement (集采) batch that covers it, e.g. "第七批"
    chronic: tuple[str, ...] = ()  # 两病 coverage: "hypertension", "diabetes"
    source: str | None = None  # where its facts come from (a public list or label)

    def coding(self) -> dict[str, str]:
        """The primary coding: the community code, which every drug has (a national code only some)."""
        return {"system": COMMUNITY_DRUG, "code": self.code, "display": self.name}

    def codings(self) -> list[dict[str, str]]:
        """Every coding the drug can be known by: community, national (when known) and ATC."""
        codings = [self.coding()]
        if self.nhsa:
            codings.append({"system": NHSA_DRUG, "code": self.nhsa, "display": self.name})
        if self.atc:
            codings.append({"system": ATC, "code": self.atc, "display": self.generic or self.name})
        return codings


@dataclass(frozen=True)
class LabTest:
    code: str
    name: str
    loinc: str
    unit: str
    low: float
    high: float
    decimals: int

    def coding(self) -> dict[str, str]:
        return {"system": LOINC, "code": self.loinc, "display": self.name}


@dataclass(frozen=True)
class LabPanel:
    code: str
    name: str
    loinc: str
    tests: tuple[LabTest, ...]

    def coding(self) -> dict[str, str]:
        return {"system": LOINC, "code": self.loinc, "display": self.name}


@dataclass(frozen=True)
class Diagnosis:
    code: str  # ICD-10
    name: str

    def coding(self) -> dict[str, str]:
        return {"system": ICD10, "code": self.code, "display": self.name}


@dataclass(frozen=True)
class Terminology:
    source: Path
    drugs: tuple[Drug, ...]
    lab_tests: tuple[LabTest, ...]
    lab_panels: tuple[LabPanel, ...]
    diagnoses: tuple[Diagnosis, ...]

    @functools.cached_property
    def _index(self) -> Mapping[str, Mapping[str, Any]]:
        return MappingProxyType({
            section: MappingProxyType({t.code: t for t in getattr(self, section)}) for section in SECTIONS
        })

    def section(self, name: str) -> Mapping[str, Term]:
        """A section's terms by community code; KeyError for a section the terminology does not have."""
        return self._index[name]

    def drug(self, code: str) -> Drug:
        return self._term("drugs", code)

    def find_drug(self, codings: Iterable[Mapping[str, Any]], text: str | None = None) -> Drug | None:
        """The catalogue drug that FHIR codings name: a community code, a national (NHSA) code, or an ATC
        code together with the drug's generic name (in a coding's display or in `text`). None when none
        does; a member's local codes are the pharmacy's to map."""
        by_atc: list[tuple[str, str]] = []
        for coding in codings:
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(code, str):
                continue
            if system == COMMUNITY_DRUG and code in self._index["drugs"]:
                return self._index["drugs"][code]
            if system == NHSA_DRUG and code in self._by_nhsa:
                return self._by_nhsa[code]
            if system == ATC:
                by_atc.append((code, " ".join(filter(None, (coding.get("display"), text)))))
        for atc, names in by_atc:
            candidates = self._by_atc.get(atc, ())
            # The product named in full first (the longest name: 5%葡萄糖注射液(500ml) before 5%葡萄糖注射液),
            # then the first product of the longest generic named (复方氯化钠 before 氯化钠; forms and strengths
            # of one generic share an ATC code).
            named = sorted((d for d in candidates if d.name in names), key=lambda d: len(d.name), reverse=True)
            generic = sorted((d for d in candidates if d.generic and d.generic in names),
                             key=lambda d: len(d.generic or ""), reverse=True)
            if named or generic:
                return (named or generic)[0]
        return None

    @functools.cached_property
    def _by_nhsa(self) -> Mapping[str, Drug]:
        return MappingProxyType({d.nhsa: d for d in self.drugs if d.nhsa})

    @functools.cached_property
    def _by_atc(self) -> Mapping[str, tuple[Drug, ...]]:
        grouped: dict[str, list[Drug]] = {}
        for drug in self.drugs:
            if drug.atc:
                grouped.setdefault(drug.atc, []).append(drug)
        return MappingProxyType({atc: tuple(drugs) for atc, drugs in grouped.items()})

    def lab_test(self, code: str) -> LabTest:
        return self._term("lab_tests", code)

    def lab_panel(self, code: str) -> LabPanel:
        return self._term("lab_panels", code)

    def diagnosis(self, code: str) -> Diagnosis:
        return self._term("diagnoses", code)

    def _term(self, section: str, code: str) -> Any:
        try:
            return self._index[section][code]
        except KeyError:
            raise KeyError(f"{code!r} is not in {section} of the community terminology {self.source}") from None


def local_drug_system(facility_id: str) -> str:
    """The coding system of a member's own drug codes (kept as sent when no mapping names them)."""
    return f"{LOCAL_DRUG}{facility_id}"


@functools.cache
def community_terminology() -> Terminology:
    """The shipped terminology, read and checked once per process."""
    return load_terminology(DEFAULT_FILE)


def load_terminology(path: Path) -> Terminology:
    """Reads and checks a terminology file."""
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TerminologyFileError(f"cannot read terminology {source}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        _fail(source, where, f"not valid YAML ({problem})")
    if not isinstance(data, dict):
        _fail(source, "file", f"must be a mapping with {', '.join(SECTIONS)}")
    _known_keys(source, "file", data, set(SECTIONS))
    for section in SECTIONS:
        if not isinstance(data.get(section), list):
            _fail(source, section, "missing, or not a list of entries")
    lab_tests = _entries(source, data, "lab_tests", _lab_test)
    tests_by_code = {t.code: t for t in lab_tests}
    return Terminology(
        source=source,
        drugs=_entries(source, data, "drugs", _drug),
        lab_tests=lab_tests,
        lab_panels=_entries(source, data, "lab_panels", lambda entry: _lab_panel(entry, tests_by_code)),
        diagnoses=_entries(source, data, "diagnoses", _diagnosis),
    )


# Checking -------------------------------------------------------------------------------------------


class _Entry:
    """One entry of a section, with the file and its place for error messages."""

    def __init__(self, source: Path, where: str, data: Any, required: set[str], optional: set[str]) -> None:
        self.source, self.where = source, where
        if not isinstance(data, dict):
            self.fail(f"must be a mapping with {', '.join(sorted(required))}")
        _known_keys(source, where, data, required | optional)
        for key in sorted(required):
            if key not in data:
                self.fail(f"{key} is missing")
        self.data = data

    def fail(self, problem: str) -> NoReturn:
        _fail(self.source, self.where, problem)

    def text(self, key: str, optional: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key} must be text, not {value!r}")
        return value

    def number(self, key: str) -> float:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{key} must be a number, not {value!r}")
        return value


def _entries(source: Path, data: dict[str, Any], section: str, make: Callable[[_Entry], _T]) -> tuple[_T, ...]:
    terms: list[_T] = []
    seen: set[str] = set()
    for i, item in enumerate(data[section]):
        entry_name = f"{section}[{i}]"
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code:
            entry_name += f" ({code})"
            if not _CODE.match(code):
                _fail(source, entry_name, f"code {code!r} must be letters, digits, '.', '-' or '_' (at most 32)")
            if code in seen:
                _fail(source, entry_name, f"code {code!r} is given twice")
            seen.add(code)
        terms.append(make(_Entry(source, entry_name, item, *_FIELDS[section])))
    return tuple(terms)


_FIELDS = {
    "drugs": ({"code", "name", "form", "strength", "unit", "route", "atc"},
              {"nhsa", "generic", "essential", "vbp", "chronic", "source"}),
    "lab_tests": ({"code", "name", "loinc", "unit", "low", "high"}, {"decimals"}),
    "lab_panels": ({"code", "name", "loinc", "tests"}, set()),
    "diagnoses": ({"code", "name"}, set()),
}


CHRONIC = ("hypertension", "diabetes")  # 两病


def _drug(entry: _Entry) -> Drug:
    essential = entry.data.get("essential", False)
    if not isinstance(essential, bool):
        entry.fail(f"essential must be true or false, not {essential!r}")
    chronic = entry.data.get("chronic") or []
    if not isinstance(chronic, list) or any(c not in CHRONIC for c in chronic):
        entry.fail(f"chronic must be a list of {', '.join(CHRONIC)}, not {chronic!r}")
    atc = entry.text("atc", optional=True)
    if atc is not None and not ATC_CODE.match(atc):
        entry.fail(f"atc {atc!r} is not a WHO ATC code (A, A10, A10B, A10BA or A10BA02)")
    return Drug(entry.text("code"), entry.text("name"), entry.text("form"), entry.text("strength", optional=True),
                entry.text("unit"), entry.text("route"), atc,
                entry.text("nhsa", optional=True), generic=entry.text("generic", optional=True),
                essential=essential, vbp=entry.text("vbp", optional=True), chronic=tuple(chronic),
                source=entry.text("source", optional=True))


def _lab_test(entry: _Entry) -> LabTest:
    low, high = entry.number("low"), entry.number("high")
    if low > high:
        entry.fail(f"the reference range is upside down (low {low} > high {high})")
    decimals = entry.data.get("decimals", 1)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
        entry.fail(f"decimals must be a whole number from 0 to 6, not {decimals!r}")
    return LabTest(entry.text("code"), entry.text("name"), entry.text("loinc"), entry.text("unit"), low, high,
                   decimals)


def _lab_panel(entry: _Entry, tests: Mapping[str, LabTest]) -> LabPanel:
    codes = entry.data["tests"]
    if not isinstance(codes, list) or not codes:
        entry.fail("tests must be a non-empty list of lab test codes")
    unknown = [c for c in codes if c not in tests]
    if unknown:
        entry.fail(f"test {unknown[0]!r} is not in lab_tests")
    return LabPanel(entry.text("code"), entry.text("name"), entry.text("loinc"), tuple(tests[c] for c in codes))


def _diagnosis(entry: _Entry) -> Diagnosis:
    return Diagnosis(entry.text("code"), entry.text("name"))


def _fail(source: Path, entry: str, problem: str) -> NoReturn:
    raise TerminologyFileError(f"terminology {source}: {entry}: {problem}")


def _known_keys(source: Path, entry: str, data: dict[Any, Any], allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        _fail(source, entry, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
