"""Drug supply over HTTP (pharmacists and admins): the stock table, warnings, replenishment suggestions,
deliveries to village clinics (request, ship, receive, cancel; each step audited) and the 集采 figures.
Nothing here names a patient."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from consumers.drug_supply import metrics
from consumers.drug_supply.deliveries import Actor, DeliveryError, fill_rate, step
from consumers.drug_supply.deliveries import request as request_delivery
from consumers.drug_supply.hierarchy import load_parents, suppliers
from consumers.drug_supply.models import StockLevel, SupplyDelivery
from consumers.drug_supply.queries import deliveries, delivery_item, replenishment, stock_table, warnings
from consumers.drug_supply.vbp import DEFAULT_FILE, AgreedVolumes, figures, load_volumes
from hub.core.events import utcnow
from hub.core.terminology import community_terminology
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/api/pharmacy/stock", tags=["drug supply"])
pharmacist = require("pharmacist")  # admin passes every role check
MAX_LIMIT = 2000


def install(app: FastAPI) -> None:
    """Loads the 集采 agreed volumes when the app is made (a bad file stops the hub at start with one line)."""
    app.state.supply_volumes = load_volumes(DEFAULT_FILE, community_terminology())


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise FhirError(400, "invalid", f"limit must be 1 to {MAX_LIMIT}, not {limit}", ["limit"])
    return limit


@router.get("", summary="Stock per member and drug: stock-outs and county shortages first, then low stock")
@no_patient_data
def stock(request: Request, facility: str | None = None, limit: int = 500,
          principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    settings = request.app.state.settings
    with request.app.state.database.reading() as session:
        items = stock_table(session, facility or None, _limit(limit))
        open_warnings = warnings(session, "open", MAX_LIMIT)
    return {"now": utcnow().isoformat(), "low_days": settings.supply_low_days,
            "near_expiry_days": settings.supply_near_expiry_days, "shortage_members": settings.supply_shortage_members,
            "items": items, "warnings": open_warnings}


@router.get("/warnings", summary="Stock warnings: status=open (default), cleared or all, latest first")
@no_patient_data
def warning_list(request: Request, status: str = "open", limit: int = 500,
                 principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    if status not in ("open", "cleared", "all"):
        raise FhirError(400, "invalid", f"status must be open, cleared or all, not {status!r}", ["status"])
    with request.app.state.database.reading() as session:
        return {"items": warnings(session, status, _limit(limit))}


@router.get("/replenishment", summary="Suggested replenishment of each village clinic from its township and the county")
@no_patient_data
def suggestions(request: Request, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    settings = request.app.state.settings
    with request.app.state.database.reading() as session:
        return replenishment(session, settings.supply_target_days, settings.supply_reserve_days, utcnow().date())


@router.get("/deliveries", summary="Deliveries to village clinics, latest first, with the fill rate (配送到位率)")
@no_patient_data
def delivery_list(request: Request, limit: int = 200, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        rate = fill_rate(session)
        return {"items": deliveries(session, _limit(limit)), "fill": rate}


class LotBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lot: str = Field(max_length=64)
    expiry: str | None = Field(None, max_length=10)
    quantity: float = Field(ge=0)


class DeliveryBody(BaseModel):
    """A delivery request, usually one replenishment suggestion's line."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    village: str = Field(min_length=1, max_length=32, description="The village clinic to supply")
    source: str = Field(min_length=1, max_length=32, description="Its township or the county, which sends it")
    drug: str = Field(min_length=1, max_length=80, description="The drug key (community code or local:<code>)")
    quantity: float = Field(gt=0, description="Units (the catalogue's smallest unit)")
    lots: list[LotBody] = Field(default_factory=list, max_length=50, description="Batches to send, first to expire first")


class StepBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["shipped", "received", "cancelled"]
    quantity: float | None = Field(None, ge=0, description="Shipped or received units (default: all)")


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal.role, principal.facility_id)


def _fail(exc: DeliveryError) -> FhirError:
    return FhirError(409, "conflict", str(exc))


@router.post("/deliveries", summary="Request a delivery to a village clinic (audited)", status_code=201)
@no_patient_data
def create_delivery(body: DeliveryBody, request: Request, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    settings = request.app.state.settings
    now = utcnow()
    with request.app.state.database.transaction() as session:
        parents = load_parents(session)
        allowed = suppliers(parents, body.village)
        if len(allowed) < 2:
            raise FhirError(400, "invalid", f"{body.village} is not a village clinic of the supply hierarchy "
                            "(village -> township -> county; see HUB_FACILITY_PARENTS)", ["village"])
        if body.source not in allowed:
            raise FhirError(400, "invalid", f"{body.village} is supplied by {' or '.join(allowed)}, not {body.source}",
                            ["source"])
        level = session.get(StockLevel, (body.village, body.drug)) or session.get(StockLevel, (body.source, body.drug))
        if level is None:
            raise FhirError(400, "invalid", f"no member's stock holds drug {body.drug!r}", ["drug"])
        try:
            row = request_delivery(session, request.app.state.services.shared_record, _actor(principal), body.village,
                          body.source, body.drug, level.drug_name, body.quantity,
                          [lot.model_dump() for lot in body.lots], settings.supply_delivery_hours, now)
        except DeliveryError as exc:
            raise _fail(exc) from None
        answer = delivery_item(row)
    metrics.DELIVERIES.labels("requested").inc()
    return answer


@router.post("/deliveries/{delivery_id}", summary="Move a delivery on: shipped, received or cancelled (audited)")
@no_patient_data
def move_delivery(delivery_id: str, body: StepBody, request: Request,
                  principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    with request.app.state.database.transaction() as session:
        row = session.get(SupplyDelivery, delivery_id, with_for_update=True)
        if row is None:
            raise FhirError(404, "not-found", f"delivery {delivery_id} is not known", ["id"])
        try:
            step(session, request.app.state.services.shared_record, _actor(principal), row, body.state, body.quantity,
                 utcnow())
        except DeliveryError as exc:
            raise _fail(exc) from None
        answer = delivery_item(row)
        rate = fill_rate(session)
    metrics.DELIVERIES.labels(body.state).inc()
    if rate["fill_rate"] is not None:
        metrics.FILL_RATE.set(rate["fill_rate"])
        metrics.ON_TIME.set(rate["on_time"])
    return answer


@router.get("/vbp", summary="集采 use: dispensed against each member's agreed volume, share among equivalents, "
            "prescriptions where a 集采 equivalent existed")
@no_patient_data
def vbp(request: Request, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    volumes: AgreedVolumes = request.app.state.supply_volumes
    with request.app.state.database.reading() as session:
        return figures(session, volumes, community_terminology(), utcnow())

