"""Reference data of the simulated county.

Its clinical facts (drugs, lab tests and panels, diagnoses) are the community terminology's
(hub/core/terminology.yaml). Each vendor's local codes for them are read from that vendor's mapping
file, so what the simulator writes is exactly what the connector reads back; the simulator only ever
writes local codes, as a real HIS does. The county's own lists (members, villages, departments) live
here: they are the demo's invention, not the community's terminology.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from connectors.his_db.mapping import load_mapping, term_tables
from hub.core.terminology import Diagnosis, Drug, LabPanel, LabTest, Term, community_terminology

Vendor = Literal["vendor_a", "vendor_b"]
COUNTY = "青山县"
REGION_CODES = ("330122", "330127", "330182")  # resident ID region prefixes used for the county's people

# The members: the county hospital, its township health centres, and (in county.py) one village
# clinic per village. Facility ids are the hub's; a real county configures its own per connector.
COUNTY_HOSPITAL: tuple[str, str, str, Vendor] = ("cty01", "青山县人民医院", "青山镇", "vendor_a")
TOWNSHIPS: tuple[tuple[str, str, str, Vendor], ...] = (
    ("th01", "青山镇卫生院", "青山镇", "vendor_b"),
    ("th02", "白溪乡卫生院", "白溪乡", "vendor_a"),
    ("th03", "龙门镇卫生院", "龙门镇", "vendor_b"),
    ("th04", "石桥镇卫生院", "石桥镇", "vendor_a"),
    ("th05", "桃源乡卫生院", "桃源乡", "vendor_b"),
)
VILLAGES = (
    "李家村", "王家坞", "上塘村", "下塘村", "枫树岭", "竹林村", "东岙村", "西岙村", "新民村", "红旗村",
    "双溪村", "大坪村", "梅岭村", "杨柳村", "荷花村", "高桥村", "石门村", "溪口村", "柏树村", "南山村",
)


TERMS = community_terminology()
DRUGS: tuple[Drug, ...] = TERMS.drugs
DIAGNOSES: tuple[Diagnosis, ...] = TERMS.diagnoses
LAB_TESTS: tuple[LabTest, ...] = TERMS.lab_tests
PANELS: tuple[LabPanel, ...] = TERMS.lab_panels

# Hospital-made preparations (院内制剂) and a test only one laboratory runs: no community term and
# no entry in any mapping file, on purpose. The connector keeps them with the member's local coding
# (a drug's prescription flagged for the central pharmacy's mapping queue). Local codes by vendor.
LOCAL_ONLY_DRUGS = (
    Drug("", "院内制剂·止咳合剂", "合剂", "100ml", "瓶", "口服", atc=None, nhsa=None),
    Drug("", "院内制剂·清热解毒合剂", "合剂", "100ml", "瓶", "口服", atc=None, nhsa=None),
    Drug("", "院内制剂·复方硼砂含漱液", "含漱液", "250ml", "瓶", "含漱", atc=None, nhsa=None),
)
LOCAL_ONLY_LAB = LabTest("", "微量元素锌", loinc="", unit="umol/L", low=11.6, high=23.0, decimals=1)
_LOCAL_ONLY_CODES: dict[str, dict[str, str]] = {
    "vendor_a": {"院内制剂·止咳合剂": "WA-9001", "院内制剂·清热解毒合剂": "WA-9002",
                 "院内制剂·复方硼砂含漱液": "WA-9003", "微量元素锌": "LA-ZN"},
    "vendor_b": {"院内制剂·止咳合剂": "YP99001", "院内制剂·清热解毒合剂": "YP99002",
                 "院内制剂·复方硼砂含漱液": "YP99003", "微量元素锌": "JY0999"},
}


@dataclass(frozen=True)
class VendorCodes:
    """One vendor's local code for each community term, by terminology section (its mapping's code
    tables read backwards), and for the local-only items above."""

    vendor: str
    by_section: Mapping[str, Mapping[str, str]]

    def local(self, section: str, term: Term) -> str:
        if not term.code:
            return _LOCAL_ONLY_CODES[self.vendor][term.name]
        return self.by_section[section][term.code]


def vendor_codes(vendor: str) -> VendorCodes:
    mapping = load_mapping(vendor)
    by_section: dict[str, dict[str, str]] = {}
    for table, section in term_tables(mapping).items():
        for local, community in mapping.code_tables[table].items():
            if isinstance(community, str):  # the first local code wins where two share a term
                by_section.setdefault(section, {}).setdefault(community, str(local))
    return VendorCodes(vendor, MappingProxyType({k: MappingProxyType(v) for k, v in by_section.items()}))


DEPARTMENTS = ("全科", "内科", "外科", "儿科", "妇产科", "中医科", "急诊科")
FREQUENCIES = (("qd", "每日一次"), ("bid", "每日两次"), ("tid", "每日三次"), ("qn", "每晚一次"))
