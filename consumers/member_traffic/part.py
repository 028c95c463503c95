"""Member traffic: each member's events per hour of the week, and which members have gone silent."""

from pathlib import Path

from hub.core.parts import Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="member_traffic",
    description="Counts each member's events per hour; judges who has gone silent against the member's own "
    "usual traffic at that hour of the week (status page, hub status, /metrics).",
    consumer="consumers.member_traffic.consumer:MemberTrafficConsumer",
    models="consumers.member_traffic.models",
    migrations=HERE / "migrations",
    workers=("consumers.member_traffic.watch:run",),
    provides={"member_activity": "consumers.member_traffic.queries:MemberTraffic"},
)
