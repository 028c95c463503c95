"""Each vendor HIS's drug stock movement table (药品库存变动): counts per batch and every movement, as a
pharmacy system keeps them; the HIS-database connector publishes its rows to hub.stock.v1.

vendor_a: drug_stock_move, move types COUNT, IN, OUT_RX, TRANS_IN, TRANS_OUT, LOSS, EXPIRED, ADJ.
vendor_b: YPKCBD (药品库存变动), BDLX PD 盘点, RK 入库, FY 发药, DR 调入, DC 调出, BS 报损, GQ 过期, TZ 调整;
expiry dates as YYYYMMDD text, as its other dates of birth.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

# The same kinds in each vendor's words (the mapping files translate them back).
MOVE_TYPES = {
    "vendor_a": {"snapshot": "COUNT", "receipt": "IN", "dispense": "OUT_RX", "transfer_in": "TRANS_IN",
                 "transfer_out": "TRANS_OUT", "loss": "LOSS", "expiry": "EXPIRED", "adjustment": "ADJ"},
    "vendor_b": {"snapshot": "PD", "receipt": "RK", "dispense": "FY", "transfer_in": "DR", "transfer_out": "DC",
                 "loss": "BS", "expiry": "GQ", "adjustment": "TZ"},
}


def stock_table_a(md: MetaData) -> Table:
    return Table("drug_stock_move", md,
                 Column("move_id", Integer, primary_key=True), Column("move_type", String(12)),
                 Column("drug_code", String(16)), Column("drug_name", String(64)), Column("lot_no", String(32)),
                 Column("expiry_date", String(10)), Column("qty", Integer), Column("unit", String(8)),
                 Column("moved_at", String(19)), Column("partner", String(32)),
                 Column("updated_at", String(26), index=True))


def stock_table_b(md: MetaData) -> Table:
    return Table("YPKCBD", md,
                 Column("BDID", Integer, primary_key=True), Column("BDLX", String(2)), Column("YPDM", String(16)),
                 Column("YPMC", String(64)), Column("PH", String(32)), Column("YXQ", String(8)), Column("SL", Integer),
                 Column("DW", String(8)), Column("BDSJ", String(19)), Column("DFDW", String(32)),
                 Column("XGSJ", String(26), index=True))
