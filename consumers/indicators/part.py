"""County monitoring indicators (县域医共体监测指标): 县域内就诊率, 基层就诊率, two-way referrals, chronic disease
规范管理, mutual recognition of results, remote reads and 集采 share, per month and member, live from the events."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="indicators",
    description="County monitoring indicators per month and member, each with its definition and the records counted.",
    consumer="consumers.indicators.consumer:IndicatorConsumer",
    models="consumers.indicators.models",
    migrations=HERE / "migrations",
    routers=("consumers.indicators.routes:router",),
    pages=(Page("/indicators", "indicators.html", "Indicators", "监测指标"),),
    pages_dir=HERE / "pages",
    cli=("indicators", "consumers.indicators.cli:app"),
)
