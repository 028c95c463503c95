"""The demo county's medical-insurance settlements outside the county for a month: a CSV in the columns the
indicators part imports (consumers/indicators/insurance.py), written for a person to import, never imported
behind their back, so the page first shows that 县域内就诊率 has no denominator."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from hub.tools.demo.people import resident_id_for

HOSPITALS = (  # (hospital, where): the prefecture city's and the province's hospitals county residents go to
    ("青州市中心医院", "市辖区"), ("青州市第二人民医院", "市辖区"), ("青州市中医院", "市辖区"),
    ("省人民医院", "省会"), ("省肿瘤医院", "省会"), ("医科大学附属第一医院", "省会"), ("外省某三甲医院", "省外"),
)
DIAGNOSES = ("I21.9", "C34.9", "I63.9", "S72.0", "O80", "K80.2", "N18.5", "J18.9")


def write_settlements(directory: Path, month: date, rows: int, seed: int) -> Path:
    """Writes `insurance-YYYY-MM.csv` in `directory` with `rows` settlements dated in the month; returns its path."""
    rng = random.Random(seed + month.year * 100 + month.month)
    first = month.replace(day=1)
    days = ((first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1))
            - first).days
    path = directory / f"insurance-{first:%Y-%m}.csv"
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("settlement_id", "settled_on", "visit_type", "hospital", "region", "insured_id", "diagnosis"))
        for n in range(rows):
            hospital, region = rng.choice(HOSPITALS)
            birth = date(rng.randrange(1940, 2015), rng.randrange(1, 13), rng.randrange(1, 29))
            writer.writerow((f"YB{first:%Y%m}{n + 1:05d}", (first + timedelta(days=rng.randrange(days))).isoformat(),
                             "inpatient" if rng.random() < 0.35 else "outpatient", hospital, region,
                             resident_id_for(rng, birth, rng.choice(("male", "female"))), rng.choice(DIAGNOSES)))
    return path
