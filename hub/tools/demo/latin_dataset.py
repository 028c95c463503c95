"""A labelled test set not in Chinese: people of an English-speaking county as several registers typed them.

Names in Latin script with nicknames (Robert/Bob), typos and initials; birth dates with day and
month swapped or one digit wrong; structured street addresses with and without abbreviations; an
insurance number (system INSURANCE_SYSTEM) that is often missing and sometimes mistyped; some
records without phone or sex. Households share a surname, an address and a phone; some are
twins. Rows are CSV rows (see hub/tools/labelled_sets.py for the columns); the `person` column is
the label. Deterministic for a seed (Faker's en_US provider, seeded).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from consumers.record_store.matching.comparators import _NICKNAMES
from hub.tools.demo.matching_dataset import mistyped_birth

INSURANCE_SYSTEM = "http://example.org/insurance"
COLUMNS = ("record_id", "facility", "person", "given", "family", "birth_date", "sex", "phone", "line", "city",
           "postal_code", "state", f"identifier:{INSURANCE_SYSTEM}", "errors")
FACILITIES = ("general", "north-clinic", "south-clinic", "lab", "pharmacy")
_ABBREVIATIONS = {"Street": "St", "Road": "Rd", "Avenue": "Ave", "Drive": "Dr", "Lane": "Ln", "Court": "Ct",
                  "Boulevard": "Blvd", "Place": "Pl"}


@dataclass(frozen=True)
class Person:
    index: int
    given: str
    family: str
    sex: str
    birth: date
    phone: str
    number: str
    street: str
    city: str
    postal_code: str
    state: str
    insurance: str


def _person(fake: Faker, rng: random.Random, index: int) -> Person:
    sex = rng.choice(("male", "female"))
    given = fake.first_name_male() if sex == "male" else fake.first_name_female()
    if rng.random() < 0.25:  # the names with nicknames are common in real registers
        given = rng.choice([n.capitalize() for n in _NICKNAMES])
    birth = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 33_000))
    phone = f"({rng.randrange(201, 990)}) {rng.randrange(200, 999)}-{rng.randrange(0, 10000):04d}"
    return Person(index, given, fake.last_name(), sex, birth, phone, str(rng.randrange(1, 9999)), fake.street_name(),
                  fake.city(), fake.postcode(), fake.state_abbr(), f"{rng.choice('ABCDEFGHJK')}{rng.randrange(10**8, 10**9)}")


def population(people: int, seed: int) -> list[Person]:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    found: list[Person] = []
    while len(found) < people:
        base = _person(fake, rng, len(found))
        found.append(base)
        if rng.random() < 0.2 and len(found) < people:  # a household member: same address and phone
            other = _person(fake, rng, len(found))
            while other.given == base.given:  # parents do not give two children one name
                other = _person(fake, rng, len(found))
            twin = rng.random() < 0.2
            birth = base.birth if twin else other.birth
            found.append(replace(base, index=len(found), given=other.given, sex=other.sex, birth=birth,
                                 insurance=other.insurance, family=base.family if rng.random() < 0.8 else other.family))
    return found


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # two letters swapped
    if kind < 0.7:
        return word[:i] + word[i + 1 :]  # a letter left out
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]  # a letter mistyped


def register(p: Person, facility: str, record_id: str, rng: random.Random) -> dict[str, str]:
    errors: list[str] = []
    given, family = p.given, p.family
    nicknames = _NICKNAMES.get(given.lower())
    roll = rng.random()
    if nicknames and roll < 0.15:
        given = rng.choice(nicknames).capitalize()
        errors.append("nickname")
    elif roll < 0.2:
        given = _typo(given, rng)
        errors.append("given-typo")
    elif roll < 0.22:
        given = given[0]
        errors.append("initial")
    if rng.random() < 0.05:
        family = _typo(family, rng)
        errors.append("family-typo")
    if rng.random() < 0.1:
        given, family = given.upper(), family.upper()
    birth, _ = mistyped_birth(p.birth, rng, errors, swapped=0.04, typo=0.04, positions=(2, 3, 7))
    sex = p.sex
    if rng.random() < 0.1:
        sex = ""
        errors.append("no-sex")
    phone = p.phone
    if rng.random() < 0.25:
        phone = ""
        errors.append("no-phone")
    elif rng.random() < 0.1:
        phone = f"({rng.randrange(201, 990)}) {rng.randrange(200, 999)}-{rng.randrange(0, 10000):04d}"
        errors.append("new-phone")
    street = p.street
    last = street.rsplit(" ", 1)[-1]
    if last in _ABBREVIATIONS and rng.random() < 0.4:
        street = street[: -len(last)] + _ABBREVIATIONS[last] + rng.choice(("", "."))
    line, city, postal_code = f"{p.number} {street}", p.city, p.postal_code
    if rng.random() < 0.05:
        line, city, postal_code = "", "", ""
        errors.append("no-address")
    elif rng.random() < 0.04:
        line = f"{rng.randrange(1, 9999)} {rng.choice(('Oak', 'Elm', 'Cedar', 'Hill', 'Lake'))} {rng.choice(tuple(_ABBREVIATIONS))}"
        postal_code = f"{rng.randrange(10000, 99999)}"
        errors.append("moved")
    insurance = p.insurance
    if rng.random() < 0.35:
        insurance = ""
        errors.append("no-insurance")
    elif rng.random() < 0.02:
        i = rng.randrange(1, len(insurance))
        insurance = insurance[:i] + str((int(insurance[i]) + 1) % 10) + insurance[i + 1 :]
        errors.append("insurance-typo")
    return {"record_id": record_id, "facility": facility, "person": str(p.index), "given": given, "family": family,
            "birth_date": birth, "sex": sex, "phone": phone, "line": line, "city": city, "postal_code": postal_code,
            "state": p.state, f"identifier:{INSURANCE_SYSTEM}": insurance, "errors": " ".join(errors)}


def rows(records: int, seed: int = 11) -> list[dict[str, str]]:
    """About `records` registrations, shuffled (1.9 a person on average)."""
    rng = random.Random(seed)
    found: list[dict[str, str]] = []
    counters = dict.fromkeys(FACILITIES, 0)
    for p in population(max(1, int(records / 1.85) + 1), seed):
        visits = rng.choices((1, 2, 3, 4), weights=(40, 35, 18, 7))[0]
        for facility in rng.sample(FACILITIES, k=visits):
            counters[facility] += 1
            found.append(register(p, facility, f"{facility}-{counters[facility]:06d}", rng))
    rng.shuffle(found)
    return found[:records]


def write_csv(path: Path, records: int, seed: int = 11) -> int:
    data = rows(records, seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(data)
    return len(data)
