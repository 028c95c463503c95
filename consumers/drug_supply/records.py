"""Stock records on hub.stock.v1: what one event says, read from (and written as) its FHIR shape.

FHIR R4 has no resource for a stock count (InventoryReport arrives in R5) and none that can carry every
movement: SupplyDelivery has no batch expiry and no loss, MedicationDispense needs a patient context a
stock ledger does not have. So every stock record travels as one shape, an explicit hub record on
FHIR `Basic`, with this mapping (one shape also lets a HIS table map with one template):

  Basic.identifier[0]             the movement id (system urn:hub:facility:<facility>:stock-move): dedup key
  Basic.code                      urn:hub:code:stock-record | snapshot, receipt, dispense, transfer_in,
                                  transfer_out, loss, expiry, adjustment
  Basic.author                    Organization/<facility>, the member whose stock it is
  ext urn:hub:ext:stock-drug      valueCodeableConcept: community code (urn:hub:code:community-drug) and/or
                                  the member's local code (urn:hub:code:local-drug:<facility> or
                                  urn:hub:facility:<facility>:drug), text = the member's drug name
  ext urn:hub:ext:stock-lot       valueString: batch / lot number (Medication.batch.lotNumber)
  ext urn:hub:ext:stock-expiry    valueDate: the batch's expiry (Medication.batch.expirationDate)
  ext urn:hub:ext:stock-quantity  valueQuantity: in the catalogue's smallest unit; a count for a snapshot, a
                                  size for a movement (always >= 0 but for an adjustment, which is signed)
  ext urn:hub:ext:stock-time      valueDateTime: when counted / moved at the member
  ext urn:hub:ext:stock-counterpart  valueString: the other facility of a transfer or receipt (optional)

How the kinds correspond to R4/R5 resources, for a gateway that wants them: snapshot = R5 InventoryReport
(countType snapshot, one inventoryListing item per batch); receipt, transfer_in, transfer_out =
SupplyDelivery (suppliedItem = the drug, destination / supplier = the facilities); dispense =
MedicationDispense without subject (quantity, whenHandedOver); loss, expiry, adjustment = R5
InventoryReport countType difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hub.core.errors import PermanentError
from hub.core.events import Event
from hub.core.identifiers import fhir_id
from hub.core.terminology import COMMUNITY_DRUG, LOCAL_DRUG, Terminology

RECORD_SYSTEM = "urn:hub:code:stock-record"
EXT = "urn:hub:ext:stock-"
SNAPSHOT = "snapshot"
INFLOW = ("receipt", "transfer_in")
OUTFLOW = ("dispense", "transfer_out", "loss", "expiry")
KINDS = (SNAPSHOT, *INFLOW, *OUTFLOW, "adjustment")


class StockRecordError(PermanentError, ValueError):
    """A stock event the consumer cannot read; it goes to the dead letters with this reason."""

    def __init__(self, event: Event, problem: str) -> None:
        super().__init__(f"stock event {event.event_id} from {event.source.facility_id}: {problem}", "validate")


@dataclass(frozen=True)
class StockRecord:
    facility_id: str
    movement_id: str
    kind: str  # one of KINDS
    drug_key: str  # the community code, or "local:<member's code>" when the catalogue does not know it
    community_code: str | None
    local_code: str | None
    drug_name: str
    lot: str  # "" when the member keeps no batch for it
    expiry: date | None
    quantity: float  # signed change for movements (out is negative), the count for a snapshot
    at: datetime

    @property
    def known(self) -> bool:
        return self.community_code is not None


def _extension(resource: dict[str, Any], name: str) -> dict[str, Any] | None:
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == EXT + name:
            return ext
    return None


def read_record(event: Event, terminology: Terminology) -> StockRecord:
    """The stock record an event carries; StockRecordError names what is missing or wrong."""
    resource = event.resource
    if event.resource_type != "Basic":
        raise StockRecordError(event, f"hub.stock.v1 carries FHIR Basic stock records, not {event.resource_type or 'nothing'}")
    codes = [c.get("code") for c in (resource.get("code") or {}).get("coding") or []
             if isinstance(c, dict) and c.get("system") == RECORD_SYSTEM]
    if not codes or codes[0] not in KINDS:
        raise StockRecordError(event, f"Basic.code must be one of {', '.join(KINDS)} in {RECORD_SYSTEM}, not {codes or 'absent'}")
    kind = str(codes[0])
    identifiers = [i.get("value") for i in resource.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    if not identifiers:
        raise StockRecordError(event, "Basic.identifier must carry the movement id (it makes a re-sent movement a duplicate)")
    drug_ext = _extension(resource, "drug")
    concept = (drug_ext or {}).get("valueCodeableConcept") or {}
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]
    if not codings:
        raise StockRecordError(event, f"the {EXT}drug extension must name the drug with a community or local code")
    drug = terminology.find_drug(codings, concept.get("text"))
    local = next((str(c["code"]) for c in codings if str(c.get("system", "")).startswith(LOCAL_DRUG)), None)
    if drug is None and local is None:
        local = str(codings[0]["code"])  # a national or other code nobody maps: kept as the member's own
    community = drug.code if drug else None
    quantity_ext = (_extension(resource, "quantity") or {}).get("valueQuantity") or {}
    quantity = quantity_ext.get("value")
    if not isinstance(quantity, int | float) or isinstance(quantity, bool):
        raise StockRecordError(event, f"the {EXT}quantity extension must hold a number, not {quantity!r}")
    if quantity < 0 and kind != "adjustment":
        raise StockRecordError(event, f"a {kind} quantity must not be negative ({quantity}); only an adjustment is signed")
    when = (_extension(resource, "time") or {}).get("valueDateTime")
    try:
        at = datetime.fromisoformat(str(when))
    except ValueError:
        raise StockRecordError(event, f"the {EXT}time extension must hold a dateTime with its offset, not {when!r}") from None
    if at.tzinfo is None:
        raise StockRecordError(event, f"the {EXT}time {when!r} has no UTC offset")
    expiry_text = (_extension(resource, "expiry") or {}).get("valueDate")
    try:
        expiry = date.fromisoformat(str(expiry_text)) if expiry_text else None
    except ValueError:
        raise StockRecordError(event, f"the {EXT}expiry extension must be a date (YYYY-MM-DD), not {expiry_text!r}") from None
    lot = str((_extension(resource, "lot") or {}).get("valueString") or "")
    signed = -float(quantity) if kind in OUTFLOW else float(quantity)
    # The catalogue's name for a drug it knows (members spell names their own way); the member's otherwise.
    name = drug.name if drug else str(concept.get("text") or codings[0].get("display") or local or "")
    return StockRecord(event.source.facility_id, str(identifiers[0]), kind,
                       community or f"local:{local}", community, local, name, lot, expiry, signed, at)


def stock_resource(facility: str, movement_id: str, kind: str, codings: list[dict[str, str]], name: str,
                   quantity: float, at: datetime, lot: str = "", expiry: date | None = None,
                   counterpart: str | None = None) -> dict[str, Any]:
    """A stock record as its FHIR Basic (the mapping above): for tests, tools and members that push."""
    extension: list[dict[str, Any]] = [
        {"url": EXT + "drug", "valueCodeableConcept": {"coding": codings, "text": name}},
        {"url": EXT + "quantity", "valueQuantity": {"value": quantity}},
        {"url": EXT + "time", "valueDateTime": at.isoformat()},
    ]
    if lot:
        extension.append({"url": EXT + "lot", "valueString": lot})
    if expiry:
        extension.append({"url": EXT + "expiry", "valueDate": expiry.isoformat()})
    if counterpart:
        extension.append({"url": EXT + "counterpart", "valueString": counterpart})
    return {
        "resourceType": "Basic", "id": fhir_id(f"{facility}-stk-{movement_id}"),
        "identifier": [{"system": f"urn:hub:facility:{facility}:stock-move", "value": movement_id}],
        "code": {"coding": [{"system": RECORD_SYSTEM, "code": kind}]},
        "author": {"reference": f"Organization/{facility}"},
        "extension": extension,
    }


def community_coding(code: str) -> dict[str, str]:
    return {"system": COMMUNITY_DRUG, "code": code}
