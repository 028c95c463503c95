"""Drug supply (药品供应): stock and movements from every member, days of supply, stock-out, low-stock,
near-expiry and county shortage warnings, replenishment of village clinics, deliveries and 集采 use."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="drug_supply",
    description="Members' drug stock (hub.stock.v1): stock on hand by batch, days of supply, deduplicated warnings "
    "(stock-out, low, near expiry, county shortage as notices), replenishment of village clinics from their "
    "township and the county, deliveries with their fill rate, and 集采 use against agreed volumes.",
    consumer="consumers.drug_supply.consumer:DrugSupplyConsumer",
    models="consumers.drug_supply.models",
    migrations=HERE / "migrations",
    routers=("consumers.drug_supply.routes:router",),
    pages=(Page("/pharmacy/stock", "stock.html", "Drug stock", "药品库存"),),
    pages_dir=HERE / "pages",
    workers=("consumers.drug_supply.watch:run",),
    app_setup=("consumers.drug_supply.routes:install",),
    status="consumers.drug_supply.status:supply_status",
)
