"""How each vendor's HIS stores the same clinical facts: one writer per schema, local codes only
(each vendor's, read from its mapping file; see catalogues.VendorCodes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.core.terminology import Diagnosis, LabPanel, LabTest
from hub.tools.demo.catalogues import VendorCodes, vendor_codes
from hub.tools.demo.people import Person
from hub.tools.demo.prescribing import Line


@dataclass(frozen=True)
class Rows:
    """Rows to insert, by table, and updates as (table, key column, key, values)."""

    inserts: tuple[tuple[str, dict[str, Any]], ...] = ()
    updates: tuple[tuple[str, str, Any, dict[str, Any]], ...] = ()


def _t(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _weight(line: Line) -> str | None:
    return f"{line.weight_kg:g}" if line.weight_kg is not None else None


class VendorA:
    def __init__(self, codes: VendorCodes) -> None:
        self.codes = codes

    patient_table, patient_key = "pat_info", "pat_id"
    visit_table, visit_key = "op_visit", "visit_id"

    def patient_id(self, n: int) -> str:
        return f"A{n:07d}"

    def patient(self, pid: str, p: Person, change: str) -> Rows:
        row = {"pat_id": pid, "name": p.name, "sex": "M" if p.sex == "male" else "F",
               "birth_date": p.birth_date.isoformat(), "id_no": p.resident_id, "phone": p.phone,
               "address": p.address, "village": p.village, "updated_at": change}
        return Rows(inserts=(("pat_info", row),))

    def phone_change(self, pid: str, phone: str, change: str) -> Rows:
        return Rows(updates=(("pat_info", "pat_id", pid, {"phone": phone, "updated_at": change}),))

    def visit(self, vid: int, pid: str, inpatient: bool, dept: str, doctor: str, diag: Diagnosis,
              start: datetime, change: str) -> Rows:
        row = {"visit_id": vid, "pat_id": pid, "visit_type": "I" if inpatient else "O", "dept": dept, "doctor": doctor,
               "diag_code": self.codes.local("diagnoses", diag), "diag_name": diag.name, "start_time": _t(start),
               "end_time": None, "status": "in-progress", "updated_at": change}
        return Rows(inserts=(("op_visit", row),))

    def finish_visit(self, vid: int, end: datetime, change: str) -> Rows:
        return Rows(updates=(("op_visit", "visit_id", vid, {"end_time": _t(end), "status": "finished",
                                                            "updated_at": change}),))

    def rx_line(self, line_id: int, rx_no: str, vid: int, pid: str, line: Line, at: datetime, change: str) -> Rows:
        row = {"rx_line_id": line_id, "rx_no": rx_no, "visit_id": vid, "pat_id": pid,
               "drug_code": self.codes.local("drugs", line.drug), "drug_name": line.drug.name, "dose": line.dose,
               "freq": line.freq, "days": line.days, "qty": line.qty, "unit": line.drug.unit, "route": line.route,
               "weight_kg": _weight(line), "prescribed_at": _t(at), "updated_at": change}
        return Rows(inserts=(("rx_detail", row),))

    def lab(self, report_id: int, first_item: int, vid: int, pid: str, panel: LabPanel,
            results: list[tuple[LabTest, str, str]], at: datetime, change: str) -> Rows:
        rows: list[tuple[str, dict[str, Any]]] = [("lab_report", {
            "report_id": report_id, "pat_id": pid, "visit_id": vid,
            "panel_code": self.codes.local("lab_panels", panel), "reported_at": _t(at), "status": "final",
            "updated_at": change})]
        for i, (test, value, flag) in enumerate(results):
            rows.append(("lab_item", {"item_id": first_item + i, "report_id": report_id,
                                      "item_code": self.codes.local("lab_tests", test), "item_name": test.name,
                                      "value": value, "unit": test.unit, "ref_low": str(test.low),
                                      "ref_high": str(test.high), "flag": flag}))
        return Rows(inserts=tuple(rows))

    def ecg(self, order_id: int, vid: int, pid: str, priority: str, reason: str, at: datetime, change: str) -> Rows:
        row = {"order_id": order_id, "pat_id": pid, "visit_id": vid, "priority": priority,
               "reason": reason, "ordered_at": _t(at), "status": "active", "updated_at": change}
        return Rows(inserts=(("ecg_order", row),))


class VendorB:
    def __init__(self, codes: VendorCodes) -> None:
        self.codes = codes

    patient_table, patient_key = "HZXX", "BRID"
    visit_table, visit_key = "JZJL", "JZID"

    def patient_id(self, n: int) -> str:
        return f"{n:010d}"

    def patient(self, pid: str, p: Person, change: str) -> Rows:
        row = {"BRID": pid, "XM": p.name, "XB": "1" if p.sex == "male" else "2", "CSRQ": p.birth_date.strftime("%Y%m%d"),
               "SFZH": p.resident_id or "", "LXDH": p.phone, "JZDZ": p.address, "XGSJ": change}
        return Rows(inserts=(("HZXX", row),))

    def phone_change(self, pid: str, phone: str, change: str) -> Rows:
        return Rows(updates=(("HZXX", "BRID", pid, {"LXDH": phone, "XGSJ": change}),))

    def visit(self, vid: int, pid: str, inpatient: bool, dept: str, doctor: str, diag: Diagnosis,
              start: datetime, change: str) -> Rows:
        row = {"JZID": vid, "BRID": pid, "MZZY": "2" if inpatient else "1", "KSMC": dept, "YSXM": doctor,
               "ZDDM": self.codes.local("diagnoses", diag), "ZDMC": diag.name, "KSSJ": _t(start), "JSSJ": None,
               "ZT": "0", "XGSJ": change}
        return Rows(inserts=(("JZJL", row),))

    def finish_visit(self, vid: int, end: datetime, change: str) -> Rows:
        return Rows(updates=(("JZJL", "JZID", vid, {"JSSJ": _t(end), "ZT": "1", "XGSJ": change}),))

    def rx_line(self, line_id: int, rx_no: str, vid: int, pid: str, line: Line, at: datetime, change: str) -> Rows:
        row = {"CFMXID": line_id, "CFH": rx_no, "JZID": vid, "BRID": pid, "YPDM": self.codes.local("drugs", line.drug),
               "YPMC": line.drug.name, "YL": line.dose, "PC": line.freq, "TS": line.days, "SL": line.qty,
               "DW": line.drug.unit, "YF": line.route, "TZ": _weight(line), "KFSJ": _t(at), "XGSJ": change}
        return Rows(inserts=(("CFMX", row),))

    def lab(self, report_id: int, first_item: int, vid: int, pid: str, panel: LabPanel,
            results: list[tuple[LabTest, str, str]], at: datetime, change: str) -> Rows:
        rows: list[tuple[str, dict[str, Any]]] = [("JYBG", {
            "BGID": report_id, "BRID": pid, "JZID": vid, "XMDM": self.codes.local("lab_panels", panel),
            "BGSJ": _t(at), "ZT": "2", "XGSJ": change})]
        for i, (test, value, flag) in enumerate(results):
            rows.append(("JYMX", {"MXID": first_item + i, "BGID": report_id,
                                  "ZBDM": self.codes.local("lab_tests", test), "ZBMC": test.name,
                                  "JG": value, "DW": test.unit, "CKXX": str(test.low), "CKSX": str(test.high),
                                  "BZ": {"H": "↑", "L": "↓"}.get(flag, "")}))
        return Rows(inserts=tuple(rows))

    def ecg(self, order_id: int, vid: int, pid: str, priority: str, reason: str, at: datetime, change: str) -> Rows:
        # This vendor's HIS knows only urgent (急) or not.
        row = {"SQID": order_id, "BRID": pid, "JZID": vid, "JJ": "0" if priority == "routine" else "1", "SQYY": reason,
               "SQSJ": _t(at), "ZT": "0", "XGSJ": change}
        return Rows(inserts=(("XDTSQ", row),))


WRITERS: dict[str, VendorA | VendorB] = {"vendor_a": VendorA(vendor_codes("vendor_a")),
                                         "vendor_b": VendorB(vendor_codes("vendor_b"))}
