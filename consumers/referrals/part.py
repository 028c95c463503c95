"""Two-way referrals (双向转诊): the referral loop from request to the receiving member's report back."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="referrals",
    description="Two-way referrals between members: states, clocks and the loop back to the sender.",
    consumer="consumers.referrals.consumer:ReferralConsumer",
    models="consumers.referrals.models",
    migrations=HERE / "migrations",
    routers=("consumers.referrals.routes:router",),
    pages=(Page("/referrals", "referrals.html", "Referrals", "双向转诊"),),
    pages_dir=HERE / "pages",
    provides={"referral_facts": "consumers.referrals.public:ReferralFacts"},
)
