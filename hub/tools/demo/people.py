"""Synthetic residents of the county: Chinese names, valid resident ID numbers (some missing or
mistyped, as in real registers), phones and villages. Person n is the same on every run."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from faker import Faker

from hub.core.identifiers import resident_id_check_digit
from hub.tools.demo.catalogues import COUNTY, REGION_CODES, TOWNSHIPS, VILLAGES

_faker = Faker("zh_CN")


@dataclass(frozen=True)
class Person:
    index: int
    name: str
    sex: str  # "male" | "female"
    birth_date: date
    resident_id: str | None
    phone: str
    township: str
    village: str

    @property
    def address(self) -> str:
        return f"{COUNTY}{self.township}{self.village}{(self.index % 97) + 1}号"


def person(seed: int, index: int) -> Person:
    rng = random.Random(seed * 1_000_003 + index)
    _faker.seed_instance(seed * 7919 + index)
    sex = "male" if rng.random() < 0.5 else "female"
    name = _faker.name_male() if sex == "male" else _faker.name_female()
    birth = date(1935, 1, 1) + timedelta(days=rng.randrange(0, (date(2025, 12, 31) - date(1935, 1, 1)).days))
    age = 2026 - birth.year
    resident_id: str | None = resident_id_for(rng, birth, sex)
    # Young children and the very old are often registered without an ID number.
    if (age < 6 and rng.random() < 0.35) or (age > 80 and rng.random() < 0.2) or rng.random() < 0.02:
        resident_id = None
    elif resident_id and rng.random() < 0.01:
        wrong = str((int(resident_id[17]) + 1) % 10) if resident_id[17].isdigit() else "0"
        resident_id = resident_id[:17] + wrong  # mistyped: the check digit no longer matches
    township = TOWNSHIPS[index % len(TOWNSHIPS)][2]
    village = VILLAGES[(index // len(TOWNSHIPS)) % len(VILLAGES)]
    phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    return Person(index, name, sex, birth, resident_id, phone, township, village)


def resident_id_for(rng: random.Random, birth: date, sex: str) -> str:
    sequence = rng.randrange(0, 500) * 2 + (1 if sex == "male" else 0)  # odd for men, even for women
    first17 = f"{rng.choice(REGION_CODES)}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_digit(first17)


def as_registered(p: Person, rng: random.Random, village_clinic: bool) -> Person:
    """The person as a member's clerk typed them in: sometimes an old phone or swapped day/month."""
    changed = p
    if rng.random() < 0.05:
        changed = replace(changed, phone="1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9)))
    if village_clinic and p.birth_date.day <= 12 and rng.random() < 0.03:
        changed = replace(changed, birth_date=p.birth_date.replace(month=p.birth_date.day, day=p.birth_date.month))
    return changed
