"""A labelled test set for the patient index: the county's residents as each member typed them.

Every person is registered at one to four members, each registration with the errors real
registers have: names in homophone characters or in pinyin, day and month swapped, a digit
mistyped, a new phone, a missing resident ID, the village left out. Households share a surname,
a village and often a phone; some are twins. The labels (which person each record is) are
returned apart from the records, so the matcher never sees them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from faker.providers.person.zh_CN import Provider as ChineseNames
from pypinyin import lazy_pinyin

from hub.core.events import Event, Source, deterministic_event_id
from hub.core.identifiers import RESIDENT_ID, local_mrn_system
from hub.tools.demo.catalogues import TOWNSHIPS, VILLAGES
from hub.tools.demo.people import Person, person, resident_id_for

FACILITIES = ("cty01", *(t[0] for t in TOWNSHIPS), *(f"vc{i:02d}" for i in range(1, len(VILLAGES) + 1)))
GIVEN = tuple(dict.fromkeys((*ChineseNames.first_names_male, *ChineseNames.first_names_female)))


@dataclass(frozen=True)
class Registration:
    facility: str
    local_id: str
    person: Person
    name: str  # as typed
    errors: tuple[str, ...]  # which errors this record carries, for the evaluation report


@dataclass(frozen=True)
class LabelledSet:
    events: list[Event]
    labels: dict[str, int]  # patient key -> person index
    errors: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def _homophones() -> dict[str, tuple[str, ...]]:
    by_sound: dict[str, list[str]] = defaultdict(list)
    for char in GIVEN:
        by_sound[lazy_pinyin(char)[0]].append(char)
    return {c: tuple(o for o in by_sound[lazy_pinyin(c)[0]] if o != c) for c in GIVEN}


def _relative(base: Person, rng: random.Random, index: int, twin: bool) -> Person:
    """A spouse, child or twin: same surname (unless spouse), village and household phone."""
    sex = "male" if rng.random() < 0.5 else "female"
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    if twin and len(base.name) == 3 and rng.random() < 0.5:
        given = base.name[1] + rng.choice(GIVEN)  # twins often share the generation character
    birth = base.birth_date if twin else base.birth_date + timedelta(days=rng.choice((-1, 1)) * rng.randrange(300, 12000))
    birth = min(max(birth, date(1930, 1, 1)), date(2025, 12, 31))
    resident_id = resident_id_for(rng, birth, sex) if rng.random() < 0.6 else None
    return replace(base, index=index, name=base.name[0] + given, sex=sex, birth_date=birth, resident_id=resident_id)


def population(people: int, seed: int) -> list[Person]:
    rng = random.Random(seed)
    found: list[Person] = []
    while len(found) < people:
        base = person(seed, len(found))
        found.append(base)
        if rng.random() < 0.2 and len(found) < people:  # a household member registered too
            found.append(_relative(base, rng, len(found), twin=rng.random() < 0.15))
    return found


def _typed_name(p: Person, rng: random.Random, village_clinic: bool, errors: list[str]) -> str:
    name = p.name
    if len(name) > 1 and rng.random() < 0.08:
        position = rng.randrange(1, len(name))
        options = _homophones().get(name[position], ())
        if options:
            name = name[:position] + rng.choice(options) + name[position + 1 :]
            errors.append("homophone")
    if village_clinic and rng.random() < 0.15:
        syllables = [s.capitalize() for s in lazy_pinyin(name)]
        style = rng.random()
        errors.append("pinyin")
        if style < 0.4:
            return f"{syllables[0]} {''.join(syllables[1:]).capitalize()}"
        if style < 0.7:
            return f"{syllables[0].upper()} {''.join(syllables[1:]).upper()}"
        if style < 0.9:
            return "".join(syllables).lower()
        errors.append("given-first")
        return f"{''.join(syllables[1:]).capitalize()} {syllables[0]}"
    return name


def mistyped_birth(born: date, rng: random.Random, errors: list[str], swapped: float, typo: float,
                   positions: tuple[int, ...]) -> tuple[str, bool]:
    """A birth date as a clerk may type it: day and month swapped (share `swapped`, where it makes a date),
    or one digit wrong at one of `positions` of YYYYMMDD (share `typo`; kept right when the typo is no date).
    Returns the date and whether a mistake was tried, naming it in `errors`."""
    if born.day <= 12 and born.day != born.month and rng.random() < swapped:
        errors.append("day-month-swapped")
        return born.replace(month=born.day, day=born.month).isoformat(), True
    if rng.random() < typo:
        digits = list(born.strftime("%Y%m%d"))
        position = rng.choice(positions)
        digits[position] = str((int(digits[position]) + rng.randrange(1, 9)) % 10)
        text = "".join(digits)
        try:
            typed = date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            return born.isoformat(), True
        errors.append("birth-typo")
        return typed, True
    return born.isoformat(), False


def register(p: Person, facility: str, local_id: str, rng: random.Random) -> tuple[dict, tuple[str, ...]]:
    village_clinic = facility.startswith("vc")
    errors: list[str] = []
    name = _typed_name(p, rng, village_clinic, errors)
    typed, mistyped = mistyped_birth(p.birth_date, rng, errors, swapped=0.04, typo=0.03, positions=(2, 3, 5, 7))
    birth: str | None = typed
    if not mistyped and village_clinic and rng.random() < 0.02:
        birth = None
        errors.append("no-birth-date")
    rid = p.resident_id
    keep_id = {"c": 0.85, "t": 0.7, "v": 0.4}[facility[0]]
    if rid and rng.random() > keep_id:
        rid = None
        errors.append("no-resident-id")
    elif rid and rng.random() < 0.02:
        position = rng.randrange(6, 17)
        rid = rid[:position] + str((int(rid[position]) + 1) % 10) + rid[position + 1 :]
        errors.append("resident-id-typo")
    phone: str | None = p.phone
    if rng.random() < 0.25:
        phone = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
        errors.append("new-phone")
    elif rng.random() < 0.1:
        phone = None
        errors.append("no-phone")
    address = f"青山县{p.township}{p.village}{(p.index % 97) + 1}号"
    if rng.random() < 0.1:
        address = f"青山县{p.township}"
        errors.append("no-village")
    elif rng.random() < 0.03:
        address = f"青山县{p.township}{rng.choice(VILLAGES)}"
        errors.append("moved")
    identifiers = [{"system": local_mrn_system(facility), "value": local_id}]
    if rid:
        identifiers.append({"system": RESIDENT_ID, "value": rid})
    resource: dict = {
        "resourceType": "Patient",
        "id": f"{facility}-pat-{local_id}",
        "identifier": identifiers,
        "name": [{"text": name}],
        "address": [{"text": address}],
    }
    if rng.random() > 0.01:
        resource["gender"] = p.sex
    else:
        errors.append("no-sex")
    if birth:
        resource["birthDate"] = birth
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    return resource, tuple(errors)


def labelled_set(records: int, seed: int = 7) -> LabelledSet:
    """About `records` registrations of people drawn from the county, in shuffled order."""
    rng = random.Random(seed)
    people = population(max(1, int(records / 1.85) + 1), seed)  # 1.92 registrations a person
    when = datetime(2026, 1, 1, tzinfo=UTC)
    events: list[Event] = []
    labels: dict[str, int] = {}
    errors: dict[str, tuple[str, ...]] = {}
    counters: dict[str, int] = defaultdict(int)
    for p in people:
        visits = rng.choices((1, 2, 3, 4), weights=(40, 35, 18, 7))[0]
        home = TOWNSHIPS[p.index % len(TOWNSHIPS)][0]
        village_clinics = [f for f in FACILITIES if f.startswith("vc")]
        places = rng.sample(["cty01", home, rng.choice(village_clinics), rng.choice(FACILITIES)], k=4)
        for facility in list(dict.fromkeys(places))[:visits]:
            counters[facility] += 1
            local_id = f"{counters[facility]:06d}"
            resource, errs = register(p, facility, local_id, rng)
            key = f"{facility}/{local_id}"
            labels[key], errors[key] = p.index, errs
            events.append(Event(
                event_id=deterministic_event_id(facility, "matching-set", local_id, "0"),
                event_type="patient",
                source=Source(facility, "matching-set", local_id),
                occurred_at=when,
                recorded_at=when,
                patient_key=key,
                resource=resource,
            ))
            when += timedelta(seconds=1)
    order = list(range(len(events)))
    rng.shuffle(order)
    shuffled = [events[i] for i in order][:records]
    kept = {e.patient_key for e in shuffled}
    return LabelledSet(shuffled, {k: v for k, v in labels.items() if k in kept}, {k: v for k, v in errors.items() if k in kept})
