"""The members of the simulated county and their HIS databases and connector configs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Engine

from hub.tools.demo.catalogues import COUNTY_HOSPITAL, TOWNSHIPS, VILLAGES
from hub.tools.demo.his_schemas import SCHEMAS


@dataclass(frozen=True)
class Facility:
    id: str
    name: str
    kind: Literal["county", "township", "village"]
    vendor: Literal["vendor_a", "vendor_b"]
    parent: str | None
    database_url: str
    township: str  # the township (乡镇) the member serves, for addresses


@dataclass(frozen=True)
class County:
    data_dir: Path
    facilities: tuple[Facility, ...]
    connector_configs: tuple[Path, ...]

    def facility(self, facility_id: str) -> Facility:
        return next(f for f in self.facilities if f.id == facility_id)


def roster(data_dir: Path) -> tuple[Facility, ...]:
    his = (data_dir / "demo" / "his").resolve()

    def url(fid: str) -> str:
        return f"sqlite:///{his / f'{fid}.db'}"

    cid, cname, ctown, cvendor = COUNTY_HOSPITAL
    members = [Facility(cid, cname, "county", cvendor, None, url(cid), ctown)]
    for fid, name, town, vendor in TOWNSHIPS:
        members.append(Facility(fid, name, "township", vendor, cid, url(fid), town))
    for i, village in enumerate(VILLAGES, start=1):
        fid, name, town, _ = TOWNSHIPS[(i - 1) // 4]
        village_vendor: Literal["vendor_a", "vendor_b"] = "vendor_b" if i % 2 else "vendor_a"
        members.append(
            Facility(f"vc{i:02d}", f"{village}卫生室", "village", village_vendor, fid, url(f"vc{i:02d}"), town)
        )
    return tuple(members)


def build_county(data_dir: Path, seed: int = 20261123,
                 deliver_to: Mapping[str, list[dict[str, object]]] | None = None) -> County:
    """Creates (or reuses) every member's HIS database and one connector config per member; a member
    in `deliver_to` gets its results there (the demo's own member listeners)."""
    data_dir = Path(data_dir)
    facilities = roster(data_dir)
    (data_dir / "demo" / "his").mkdir(parents=True, exist_ok=True)
    config_dir = data_dir / "demo" / "connectors"
    config_dir.mkdir(parents=True, exist_ok=True)
    configs = []
    for facility in facilities:
        engine = create_engine(facility.database_url)
        metadata = SCHEMAS[facility.vendor](MetaData())
        metadata.create_all(engine)
        _add_new_columns(engine, metadata)
        engine.dispose()
        path = config_dir / f"{facility.id}-his.yaml"
        config = {
            "name": f"{facility.id}-his",
            "kind": "his_db",
            "facility_id": facility.id,
            "poll_interval_s": 0.25,
            "batch_size": 500,
            "options": {"database_url": facility.database_url, "mapping": facility.vendor},
        }
        if facility.parent:  # the supply hierarchy: a village clinic is replenished from its township
            config["parent_facility"] = facility.parent
        if deliver_to and deliver_to.get(facility.id):
            config["deliver_to"] = deliver_to[facility.id]
        text = f"# {facility.name} ({facility.kind}, {facility.vendor}); written by the demo\n"
        text += yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        configs.append(path)
    return County(data_dir, facilities, tuple(configs))


def _add_new_columns(engine: Engine, metadata: MetaData) -> None:
    """Columns the simulated HIS gained since a member's database was made (a demo kept from an older
    version): added empty, as a vendor's upgrade script would, so the connector's mapping finds them."""
    existing = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
