"""What each indicator counts, written once: the page, the API, the CSV export and the README show these.

The chronic-disease definitions follow 国家基本公共卫生服务规范（第三版, 2017）: a hypertension or type 2
diabetes patient under management receives at least four face-to-face follow-ups a year (每年至少4次面对面
随访); 规范管理率 = patients managed according to the standard / patients under management in the year.
What the hub can see of that is visits (Encounters) at primary-level members (township health centres and
village clinics) that carry the diagnosis; public-health follow-up forms that never reach a member's HIS as a
visit, and the fasting glucose or blood pressure measured at each follow-up, are not seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Scope = Literal["county", "member"]  # county: one figure for the whole county only
Unit = Literal["percent", "count", "ratio", "hours"]


@dataclass(frozen=True)
class Definition:
    key: str
    name_zh: str
    name_en: str
    unit: Unit
    scope: Scope
    numerator_zh: str
    numerator_en: str
    denominator_zh: str
    denominator_en: str
    source_zh: str
    source_en: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


HYPERTENSION = ("I10", "I11", "I12", "I13", "I15")  # ICD-10 hypertensive diseases (I10-I15, no I14)
DIABETES_T2 = ("E11",)  # ICD-10 type 2 diabetes mellitus, any 4th character
FOLLOW_UPS = 4  # 国家基本公共卫生服务规范（第三版）: at least four face-to-face follow-ups a year
PRIMARY_LEVELS = ("township", "village")  # 基层医疗卫生机构

DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "in_county_visits", "县域内就诊率", "Visits kept in the county", "percent", "county",
        "本月成员机构（县域内）就诊人次", "Visits at the members (inside the county) in the month",
        "本月县域内就诊人次 + 医保结算数据中县域外就诊人次", "Those visits plus the residents' visits settled outside "
        "the county (medical insurance data)",
        "就诊事件（Encounter）；县域外人次只在医保结算数据中，须按月导入", "Encounter events; visits outside the county "
        "are only in the insurance settlement data, imported per month"),
    Definition(
        "primary_visits", "基层就诊率", "Visits at primary level", "percent", "county",
        "本月乡镇卫生院、村卫生室就诊人次", "Visits at township health centres and village clinics in the month",
        "本月全部成员机构就诊人次", "Visits at all members in the month",
        "就诊事件（Encounter）；机构级别见 HUB_FACILITY_LEVELS", "Encounter events; member levels from "
        "HUB_FACILITY_LEVELS"),
    Definition(
        "referrals_up", "上转人次", "Referrals up", "count", "member",
        "本月发出的向上转诊（向县医院方向），不含已撤销", "Referrals towards the county hospital requested in the month, "
        "cancelled ones left out", "—", "—",
        "转诊事件（ServiceRequest、Task），转诊部分的转诊闭环", "Referral events (ServiceRequest, Task), as the referral "
        "part follows them"),
    Definition(
        "referrals_down", "下转人次", "Referrals down", "count", "member",
        "本月发出的向下转诊（向乡镇、村方向），不含已撤销", "Referrals towards township and village requested in the month, "
        "cancelled ones left out", "—", "—",
        "转诊事件（ServiceRequest、Task），转诊部分的转诊闭环", "Referral events (ServiceRequest, Task), as the referral "
        "part follows them"),
    Definition(
        "referral_ratio", "上下转诊比", "Up to down ratio", "ratio", "member",
        "本月上转人次", "Referrals up in the month", "本月下转人次", "Referrals down in the month",
        "同上", "As above"),
    Definition(
        "referral_loops", "转诊闭环率", "Referral loops completed", "percent", "member",
        "本月发出的转诊中已回转（接收方转回或回传）的", "Referrals requested in the month that have come back (returned "
        "by the receiving member)", "本月发出的转诊（不含已撤销）", "Referrals requested in the month, cancelled ones "
        "left out",
        "转诊事件；闭环状态由转诊部分判定", "Referral events; the loop state as the referral part judges it"),
    Definition(
        "hypertension_managed", "高血压患者规范管理率", "Hypertension patients under standard management", "percent",
        "member",
        f"近12个月在基层机构有≥{FOLLOW_UPS}次不同日期、诊断为高血压（ICD-10 I10-I15）面对面就诊的患者",
        f"Patients with at least {FOLLOW_UPS} face-to-face visits on different days with a hypertension diagnosis "
        "(ICD-10 I10-I15) at primary-level members in the 12 months ending with the month",
        "近12个月在基层机构有≥1次此类就诊的患者（已管理患者）", "Patients with at least one such visit in those 12 "
        "months (patients under management)",
        "就诊事件的诊断（reasonCode、diagnosis）；同一人跨机构经主索引合并。国家基本公共卫生服务规范（第三版）：每年至少4次面对面随访。"
        "看不到：未进入HIS的公卫随访、每次随访的血压测量", "Diagnoses on Encounter events; one person across members through "
        "the patient index. 国家基本公共卫生服务规范 (3rd ed.): at least 4 face-to-face follow-ups a year. Not seen: "
        "public-health follow-ups that never reach a member's HIS, the blood pressure taken at each"),
    Definition(
        "diabetes_managed", "2型糖尿病患者规范管理率", "Type 2 diabetes patients under standard management", "percent",
        "member",
        f"近12个月在基层机构有≥{FOLLOW_UPS}次不同日期、诊断为2型糖尿病（ICD-10 E11）面对面就诊的患者",
        f"Patients with at least {FOLLOW_UPS} face-to-face visits on different days with a type 2 diabetes diagnosis "
        "(ICD-10 E11) at primary-level members in the 12 months ending with the month",
        "近12个月在基层机构有≥1次此类就诊的患者（已管理患者）", "Patients with at least one such visit in those 12 "
        "months (patients under management)",
        "就诊事件的诊断；同一人跨机构经主索引合并。国家基本公共卫生服务规范（第三版）：每年至少4次面对面随访。看不到：未进入HIS的公卫随访、"
        "每次随访的空腹血糖", "Diagnoses on Encounter events; one person across members through the patient index. "
        "国家基本公共卫生服务规范 (3rd ed.): at least 4 face-to-face follow-ups a year. Not seen: follow-ups that "
        "never reach a member's HIS, the fasting glucose taken at each"),
    Definition(
        "results_recognised", "检查检验结果互认率", "Results recognised instead of repeated", "percent", "member",
        "可互认的结果中，就诊机构在该次就诊（开始后24小时内）未重复检验的", "Recognisable results the visited member did "
        "not test again during the visit (within 24 hours of its start)",
        "本月就诊时，患者在其他成员机构已有可互认结果（互认目录内、互认实验室、最终结果、在有效期内）的（就诊, 检验项目）对",
        "(visit, test) pairs of the month where the patient already had a recognisable result of that test from "
        "another member (listed test, accredited laboratory, final, inside its validity window)",
        "检验结果事件；互认规则为共享记录部分的 HUB_RECOGNITION_RULES", "Lab result events; the recognition rules of "
        "the shared record part (HUB_RECOGNITION_RULES)"),
    Definition(
        "remote_reads", "远程诊断例数", "Remote reads", "count", "member",
        "本月签发报告的远程心电、影像、病理诊断", "Remote ECG, imaging and pathology reads whose report was signed in "
        "the month", "—", "—",
        "阅片工作列表（影像/心电申请事件与阅片报告）", "The reading worklist (imaging request events and readers' "
        "reports)"),
    Definition(
        "read_turnaround", "远程诊断报告时长（中位数）", "Remote read turnaround (median)", "hours", "member",
        "本月签发报告的远程诊断，从检查可阅到报告签发的时长中位数", "Median time from study ready to report signed, of "
        "the reads signed in the month", "本月签发报告的远程诊断", "Reads signed in the month",
        "阅片工作列表", "The reading worklist"),
    Definition(
        "vbp_share", "集采药品使用占比（处方行）", "集采 (VBP) drugs among prescription lines", "percent", "member",
        "本月处方行中，药品属于国家组织集中采购中选品种的", "Prescription lines of the month whose drug is a national "
        "volume-based procurement (集采) product",
        "本月药品可在共同药品目录中识别的处方行（未映射的成员本地编码不计入）", "Prescription lines of the month whose "
        "drug the community catalogue knows (lines with unmapped local codes are left out)",
        "处方事件（MedicationRequest）；集采批次见共同药品目录 hub/core/terminology.yaml。按处方行计，非按金额",
        "Prescription events (MedicationRequest); 集采 batches from the community catalogue (hub/core/terminology.yaml). "
        "Counted in lines, not in money"),
)

BY_KEY = {d.key: d for d in DEFINITIONS}
