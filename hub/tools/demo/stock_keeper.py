"""The simulated county's pharmacies: each member's HIS keeps a drug stock table (see stock_tables.py), counted
twenty days ago and dispensed from every day since, and goes on dispensing while the demo runs. A few village
clinics run low on metformin (a county shortage when two do) and one runs out of amlodipine; a township holds a
batch close to expiry, so `make run` shows the stock page's warnings and replenishment suggestions.
"""

from __future__ import annotations

import logging
import random
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import MetaData, create_engine, func, insert, select

from hub.core.terminology import Drug, community_terminology
from hub.tools.demo.catalogues import vendor_codes
from hub.tools.demo.county import County, Facility
from hub.tools.demo.stock_tables import MOVE_TYPES, stock_table_a, stock_table_b

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
STOCKED = ("D0001", "D0005", "D0006", "D0011", "D0015", "D0016", "D0022", "D0024")
DAILY_USE = {"county": 60, "township": 18, "village": 4}  # units a day of each stocked drug, roughly
HISTORY_DAYS = 20
# (facility, drug): days of use the count twenty days ago covered; under 20 means it ran out.
SHORT = {("vc02", "D0011"): 21.5, ("vc06", "D0011"): 21.0, ("vc03", "D0006"): 18.0}
NEAR_EXPIRY = ("th02", "D0001", 40)  # a batch of this drug at this member expires in this many days


@dataclass
class _Member:
    facility: Facility
    table: Any
    columns: dict[str, str]
    codes: dict[str, str]  # community code -> the vendor's local code
    last_change: str = ""


class StockKeeper:
    def __init__(self, county: County, rate: float = 1.0, seed: int = 20261123) -> None:
        self.rng = random.Random(seed + 11)
        self.rate = max(rate, 0.01)
        self.drugs: dict[str, Drug] = {code: community_terminology().drug(code) for code in STOCKED}
        self.members = [self._member(f) for f in county.facilities]

    def _member(self, facility: Facility) -> _Member:
        md = MetaData()
        table = (stock_table_a if facility.vendor == "vendor_a" else stock_table_b)(md)
        engine = create_engine(facility.database_url)
        md.create_all(engine)
        engine.dispose()
        names = ("move_type", "drug_code", "drug_name", "lot_no", "expiry_date", "qty", "unit", "moved_at", "partner",
                 "updated_at")
        vendor_b = ("BDLX", "YPDM", "YPMC", "PH", "YXQ", "SL", "DW", "BDSJ", "DFDW", "XGSJ")
        columns = dict(zip(names, names if facility.vendor == "vendor_a" else vendor_b, strict=True))
        codes = dict(vendor_codes(facility.vendor).by_section["drugs"])
        return _Member(facility, table, columns, codes)

    # Writing rows -------------------------------------------------------------------------------------

    def _change(self, member: _Member) -> str:
        """A change time later than every earlier one of the table (the connector's watermark)."""
        moment = datetime.now(CHINA).replace(tzinfo=None)
        fmt = "%Y-%m-%dT%H:%M:%S.%f" if member.facility.vendor == "vendor_a" else "%Y-%m-%d %H:%M:%S.%f"
        text = moment.strftime(fmt)
        if text <= member.last_change:
            last = datetime.strptime(member.last_change, fmt)
            text = (last + timedelta(microseconds=1)).strftime(fmt)
        member.last_change = text
        return text

    def _row(self, member: _Member, kind: str, drug: Drug, quantity: int, at: datetime, lot: str = "",
             expiry: datetime | None = None, partner: str = "") -> dict[str, Any]:
        vendor = member.facility.vendor
        values = {
            "move_type": MOVE_TYPES[vendor][kind], "drug_code": member.codes[drug.code], "drug_name": drug.name,
            "lot_no": lot, "expiry_date": (expiry.strftime("%Y-%m-%d" if vendor == "vendor_a" else "%Y%m%d")
                                           if expiry else ""),
            "qty": quantity, "unit": drug.unit, "moved_at": at.strftime("%Y-%m-%d %H:%M:%S"), "partner": partner,
            "updated_at": self._change(member),
        }
        return {member.columns[k]: v for k, v in values.items()}

    def _write(self, member: _Member, rows: list[dict[str, Any]]) -> None:
        engine = create_engine(member.facility.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(insert(member.table), rows)
        finally:
            engine.dispose()

    # The story ------------------------------------------------------------------------------------------

    def use_of(self, member: _Member, code: str) -> int:
        base = DAILY_USE[member.facility.kind]
        return max(1, base + zlib.crc32(f"{member.facility.id}/{code}".encode()) % 3 - 1)

    def seed_stock(self) -> int:
        """Writes the count twenty days ago and the dispensing since, once per member (not on a restart)."""
        written = 0
        now = datetime.now(CHINA).replace(tzinfo=None)
        counted = (now - timedelta(days=HISTORY_DAYS)).replace(hour=8, minute=0, second=0, microsecond=0)
        for member in self.members:
            engine = create_engine(member.facility.database_url)
            try:
                with engine.connect() as conn:
                    if conn.scalar(select(func.count()).select_from(member.table)):
                        continue
            finally:
                engine.dispose()
            rows = []
            for code, drug in self.drugs.items():
                use = self.use_of(member, code)
                cover = SHORT.get((member.facility.id, code), self.rng.uniform(35, 90))
                total = int(use * cover)
                late = now + timedelta(days=self.rng.randint(300, 700))
                early = now + timedelta(days=self.rng.randint(150, 280))
                if (member.facility.id, code) == NEAR_EXPIRY[:2]:
                    early = now + timedelta(days=NEAR_EXPIRY[2])
                first = total // 3
                rows.append(self._row(member, "snapshot", drug, first, counted, f"{code}-{early:%y%m}A", early))
                rows.append(self._row(member, "snapshot", drug, total - first, counted, f"{code}-{late:%y%m}B", late))
                for day in range(HISTORY_DAYS):
                    at = counted + timedelta(days=day, hours=9)
                    rows.append(self._row(member, "dispense", drug, use, at))
            self._write(member, rows)
            written += len(rows)
        return written

    def tick(self) -> None:
        """A few dispenses at random members; now and then a township receives from the county."""
        now = datetime.now(CHINA).replace(tzinfo=None)
        for member in self.rng.sample(self.members, k=min(4, len(self.members))):
            code = self.rng.choice(STOCKED)
            quantity = max(1, self.use_of(member, code) // 6)
            self._write(member, [self._row(member, "dispense", self.drugs[code], quantity, now)])
        if self.rng.random() < 0.05:
            township = self.rng.choice([m for m in self.members if m.facility.kind == "township"])
            code = self.rng.choice(STOCKED)
            expiry = now + timedelta(days=self.rng.randint(300, 700))
            row = self._row(township, "transfer_in", self.drugs[code], self.use_of(township, code) * 10, now,
                            f"{code}-{expiry:%y%m}R", expiry, township.facility.parent or "")
            self._write(township, [row])

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(240 / self.rate):  # a dispensing round every few minutes at the default rate
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a busy HIS file (the county writes it too) skips one round
                log.exception("simulated pharmacies: a dispensing round failed; the next one comes as usual")
