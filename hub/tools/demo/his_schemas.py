"""The two vendor HIS schemas of the simulated county, as SQLAlchemy Core tables.

vendor_a: an English-named product, ISO times, sex M/F, ICD-10 diagnosis codes.
vendor_b: an older domestic product with pinyin-abbreviation names (HZXX = 患者信息, JZJL =
就诊记录, CFMX = 处方明细 (YL 剂量, YF 用法, TZ 体重), JYBG/JYMX = 检验报告/明细, XDTSQ = 心电图申请), text dates, sex 1/2,
its own diagnosis numbers. Every table has a change-time column a poller can read by watermark.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from hub.tools.demo.stock_tables import stock_table_a, stock_table_b


def vendor_a(metadata: MetaData | None = None) -> MetaData:
    md = metadata or MetaData()
    Table("pat_info", md,
          Column("pat_id", String(16), primary_key=True), Column("name", String(64)), Column("sex", String(1)),
          Column("birth_date", String(10)), Column("id_no", String(32)), Column("phone", String(32)),
          Column("address", Text), Column("village", String(64)), Column("updated_at", String(26), index=True))
    Table("op_visit", md,
          Column("visit_id", Integer, primary_key=True), Column("pat_id", String(16), index=True),
          Column("visit_type", String(1)), Column("dept", String(32)), Column("doctor", String(32)),
          Column("diag_code", String(16)), Column("diag_name", String(64)), Column("start_time", String(19)),
          Column("end_time", String(19)), Column("status", String(12)), Column("updated_at", String(26), index=True))
    Table("rx_detail", md,
          Column("rx_line_id", Integer, primary_key=True), Column("rx_no", String(20)), Column("visit_id", Integer),
          Column("pat_id", String(16), index=True), Column("drug_code", String(16)), Column("drug_name", String(64)),
          Column("dose", String(16)), Column("freq", String(8)), Column("days", Integer), Column("qty", Integer),
          Column("unit", String(8)), Column("prescribed_at", String(19)), Column("updated_at", String(26), index=True),
          Column("route", String(16)), Column("weight_kg", String(8)))
    Table("lab_report", md,
          Column("report_id", Integer, primary_key=True), Column("pat_id", String(16), index=True),
          Column("visit_id", Integer), Column("panel_code", String(16)), Column("reported_at", String(19)),
          Column("status", String(12)), Column("updated_at", String(26), index=True))
    Table("lab_item", md,
          Column("item_id", Integer, primary_key=True), Column("report_id", Integer, index=True),
          Column("item_code", String(16)), Column("item_name", String(64)), Column("value", String(16)),
          Column("unit", String(16)), Column("ref_low", String(16)), Column("ref_high", String(16)),
          Column("flag", String(2)))
    Table("ecg_order", md,
          Column("order_id", Integer, primary_key=True), Column("pat_id", String(16), index=True),
          Column("visit_id", Integer), Column("priority", String(8)), Column("reason", Text),
          Column("ordered_at", String(19)), Column("status", String(12)), Column("updated_at", String(26), index=True))
    stock_table_a(md)
    return md


def vendor_b(metadata: MetaData | None = None) -> MetaData:
    md = metadata or MetaData()
    Table("HZXX", md,
          Column("BRID", String(16), primary_key=True), Column("XM", String(64)), Column("XB", String(1)),
          Column("CSRQ", String(8)), Column("SFZH", String(32)), Column("LXDH", String(32)), Column("JZDZ", Text),
          Column("XGSJ", String(26), index=True))
    Table("JZJL", md,
          Column("JZID", Integer, primary_key=True), Column("BRID", String(16), index=True), Column("MZZY", String(1)),
          Column("KSMC", String(32)), Column("YSXM", String(32)), Column("ZDDM", String(16)), Column("ZDMC", String(64)),
          Column("KSSJ", String(19)), Column("JSSJ", String(19)), Column("ZT", String(1)),
          Column("XGSJ", String(26), index=True))
    Table("CFMX", md,
          Column("CFMXID", Integer, primary_key=True), Column("CFH", String(20)), Column("JZID", Integer),
          Column("BRID", String(16), index=True), Column("YPDM", String(16)), Column("YPMC", String(64)),
          Column("YL", String(16)), Column("PC", String(8)), Column("TS", Integer), Column("SL", Integer),
          Column("DW", String(8)), Column("KFSJ", String(19)), Column("XGSJ", String(26), index=True),
          Column("YF", String(16)), Column("TZ", String(8)))
    Table("JYBG", md,
          Column("BGID", Integer, primary_key=True), Column("BRID", String(16), index=True), Column("JZID", Integer),
          Column("XMDM", String(16)), Column("BGSJ", String(19)), Column("ZT", String(1)),
          Column("XGSJ", String(26), index=True))
    Table("JYMX", md,
          Column("MXID", Integer, primary_key=True), Column("BGID", Integer, index=True), Column("ZBDM", String(16)),
          Column("ZBMC", String(64)), Column("JG", String(16)), Column("DW", String(16)), Column("CKXX", String(16)),
          Column("CKSX", String(16)), Column("BZ", String(2)))
    Table("XDTSQ", md,
          Column("SQID", Integer, primary_key=True), Column("BRID", String(16), index=True), Column("JZID", Integer),
          Column("JJ", String(1)), Column("SQYY", Text), Column("SQSJ", String(19)), Column("ZT", String(1)),
          Column("XGSJ", String(26), index=True))
    stock_table_b(md)
    return md


SCHEMAS = {"vendor_a": vendor_a, "vendor_b": vendor_b}
