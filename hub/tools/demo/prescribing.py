"""What the simulated prescribers write on a prescription line: the drug, one dose as written ("500mg",
"1袋"), how often, by which route, for how many days, how much to dispense, and a child's weight (a
paediatric prescription carries it). Children get paediatric products dosed by weight.

On purpose, a small share of lines is what the central pharmacy's review must catch: an adult product
and dose for a child, an NSAID or aspirin at a township for someone the county hospital put on
warfarin, and metformin for someone whose latest eGFR from the county laboratory is below 30. The
simulator (generator.py) decides who; this module writes the lines.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import date

from hub.core.terminology import Drug
from hub.tools.demo.catalogues import DRUGS, FREQUENCIES

PER_DAY = {"qd": 1, "bid": 2, "tid": 3, "qn": 1}
CHILD_AGE = 14  # 儿科处方: a weight is written for a child under 14
_STRENGTH = re.compile(r"^(\d+(?:\.\d+)?)(mg|g|μg)$")
_MG = {"mg": 1.0, "g": 1000.0, "μg": 0.001}
_BY_NAME = {d.name: d for d in DRUGS}

# Paediatric products: (mg per kg per dose, frequency, days), or a fixed count per dose when mg/kg is None.
# Doses as the labels give them for children (药品说明书), rounded as a prescriber would.
PAEDIATRIC: dict[str, tuple[float | None, str, int]] = {
    "阿莫西林颗粒": (10, "tid", 5),
    "头孢克洛干混悬剂": (10, "tid", 5),
    "阿奇霉素干混悬剂": (10, "qd", 3),
    "布洛芬混悬液": (7.5, "tid", 3),
    "对乙酰氨基酚口服溶液": (12, "tid", 3),
    "盐酸氨溴索口服溶液": (0.5, "tid", 5),
    "小儿氨酚黄那敏颗粒": (None, "tid", 3),
    "小儿豉翘清热颗粒": (None, "tid", 3),
    "蒙脱石散": (None, "tid", 3),
    "口服补液盐散(Ⅲ)": (None, "tid", 3),
    "维生素AD滴剂": (None, "qd", 30),
    "孟鲁司特钠咀嚼片": (None, "qn", 14),
    "对乙酰氨基酚混悬滴剂": (12, "tid", 3),  # 100 mg/ml drops for infants: no adult product
}
# The label's daily maximum for a child, where a heavy child's mg/kg would pass it (头孢克洛: 日最大1g).
CHILD_DAILY_MAX_MG: dict[str, float] = {"头孢克洛干混悬剂": 1000.0}
# Adult products and doses that a child should not be given (what the review's age and dose rules see).
ADULT_FOR_CHILD = (("布洛芬缓释胶囊", 1, "bid"), ("对乙酰氨基酚片", 1, "tid"), ("左氧氟沙星片", 1, "qd"),
                   ("阿奇霉素片", 2, "qd"))
# The usual adult regimens of the drugs the county prescribes most: (units per dose, frequency).
USUAL: dict[str, tuple[int, str]] = {
    "阿莫西林胶囊": (2, "tid"), "头孢克肟分散片": (1, "bid"), "左氧氟沙星片": (1, "qd"), "阿奇霉素片": (2, "qd"),
    "硝苯地平缓释片": (1, "bid"), "苯磺酸氨氯地平片": (1, "qd"), "厄贝沙坦片": (1, "qd"), "缬沙坦胶囊": (1, "qd"),
    "美托洛尔缓释片": (1, "qd"), "氢氯噻嗪片": (1, "qd"), "二甲双胍片": (1, "tid"), "格列美脲片": (1, "qd"),
    "阿卡波糖片": (1, "tid"), "阿司匹林肠溶片": (1, "qd"), "阿托伐他汀钙片": (1, "qn"), "瑞舒伐他汀钙片": (1, "qn"),
    "氯吡格雷片": (1, "qd"), "奥美拉唑肠溶胶囊": (1, "bid"), "布洛芬缓释胶囊": (1, "bid"), "对乙酰氨基酚片": (1, "tid"),
    "华法林钠片": (1, "qd"), "氯雷他定片": (1, "qd"), "双氯芬酸钠缓释片": (1, "qd"),
    # Drugs whose label fixes how often (每日1次, 每日2次, 睡前): any other frequency is a wrong prescription.
    "注射用头孢唑林钠": (1, "tid"), "头孢呋辛酯片": (1, "bid"), "头孢克洛胶囊": (1, "tid"),
    "注射用头孢曲松钠": (1, "qd"), "注射用阿奇霉素": (1, "qd"), "红霉素肠溶片": (2, "tid"), "克拉霉素片": (1, "bid"),
    "左氧氟沙星氯化钠注射液": (1, "qd"), "盐酸环丙沙星片": (2, "bid"), "盐酸莫西沙星片": (1, "qd"),
    "硫酸庆大霉素注射液": (1, "bid"), "盐酸多西环素片": (1, "bid"), "盐酸米诺环素胶囊": (2, "bid"),
    "阿昔洛韦片": (1, "tid"), "磷酸奥司他韦胶囊": (1, "bid"), "氟康唑胶囊": (1, "qd"), "阿苯达唑片": (2, "qd"),
    "非洛地平缓释片": (1, "qd"), "尼群地平片": (1, "bid"), "氯沙坦钾片": (1, "qd"), "坎地沙坦酯片": (1, "qd"),
    "替米沙坦片": (1, "qd"), "卡托普利片": (1, "bid"), "马来酸依那普利片": (1, "qd"), "盐酸贝那普利片": (1, "qd"),
    "福辛普利钠片": (1, "qd"), "培哚普利叔丁胺片": (1, "qd"), "富马酸比索洛尔片": (1, "qd"), "阿替洛尔片": (1, "qd"),
    "卡维地洛片": (1, "bid"), "吲达帕胺片": (1, "qd"), "托拉塞米片": (1, "qd"), "地高辛片": (1, "qd"),
    "单硝酸异山梨酯缓释片": (1, "qd"), "盐酸曲美他嗪片": (1, "tid"), "辛伐他汀片": (1, "qn"), "普伐他汀钠片": (1, "qn"),
    "依折麦布片": (1, "qd"), "利伐沙班片": (1, "qd"), "达比加群酯胶囊": (1, "bid"), "替格瑞洛片": (1, "bid"),
    "盐酸二甲双胍缓释片": (2, "qd"), "格列齐特缓释片": (1, "qd"), "盐酸吡格列酮片": (1, "qd"), "磷酸西格列汀片": (1, "qd"),
    "茶碱缓释片": (2, "bid"), "孟鲁司特钠片": (1, "qn"), "盐酸西替利嗪片": (1, "qd"), "注射用奥美拉唑钠": (1, "qd"),
    "兰索拉唑肠溶胶囊": (1, "qd"), "泮托拉唑钠肠溶片": (1, "qd"), "雷贝拉唑钠肠溶片": (1, "qd"),
    "埃索美拉唑镁肠溶片": (1, "qd"), "盐酸雷尼替丁胶囊": (1, "bid"), "法莫替丁片": (1, "bid"), "塞来昔布胶囊": (1, "qd"),
    "美洛昔康片": (1, "qd"), "盐酸曲马多缓释片": (1, "bid"), "非布司他片": (1, "qd"), "艾司唑仑片": (1, "qn"),
    "酒石酸唑吡坦片": (1, "qn"), "奥氮平片": (1, "qn"), "盐酸帕罗西汀片": (1, "qd"), "盐酸舍曲林片": (1, "qd"),
    "盐酸氟西汀胶囊": (1, "qd"), "草酸艾司西酞普兰片": (1, "qd"), "左乙拉西坦片": (2, "bid"), "盐酸多奈哌齐片": (1, "qn"),
    "左甲状腺素钠片": (1, "qd"), "盐酸坦索罗辛缓释胶囊": (1, "qd"), "非那雄胺片": (1, "qd"),
}
# Mass per unit where the catalogue gives the strength in units but the label also gives mg
# ("2ml:8万单位(80mg)"): prescribers write the mg, which the pharmacy's dose rules compare.
LABEL_MG: dict[str, float] = {"硫酸庆大霉素注射液": 80.0}
WARFARIN = "华法林钠片"
INTERACTING = (("阿司匹林肠溶片", 1, "qd"), ("布洛芬缓释胶囊", 1, "bid"), ("双氯芬酸钠缓释片", 1, "qd"))
METFORMIN = ("二甲双胍片", 1, "tid")
_BY_THE_BOTTLE = {"口服": "10ml", "吸入": "2揿", "外用": "适量"}  # one dose as written, for a bottle's contents
DAYS = (3, 5, 7, 14, 30)  # how many days an adult line is written for
ADULT_DRUGS = tuple(d for d in DRUGS if d.name not in PAEDIATRIC)


@dataclass(frozen=True)
class Line:
    """One prescription line as a member's HIS stores it."""

    drug: Drug
    dose: str  # one administration as written: "500mg", "1袋", "7.5mg"
    freq: str  # the member's frequency code (FREQUENCIES)
    days: int
    qty: int  # units dispensed
    route: str
    weight_kg: float | None = None


def strength_mg(drug: Drug) -> float | None:
    """Milligrams in one unit, when the strength is one plain amount ("0.5g", "20mg", "50μg") or the
    label gives it (LABEL_MG)."""
    if drug.name in LABEL_MG:
        return LABEL_MG[drug.name]
    match = _STRENGTH.match(drug.strength or "")
    return float(match.group(1)) * _MG[match.group(2)] if match else None


def age_years(birth: date, on: date) -> float:
    return (on - birth).days / 365.25


def weight_for_age(age: float, rng: random.Random) -> float:
    """A plausible weight for a child (Chinese growth references, roughly): 2×age+8 kg, ±10%."""
    base = 8.0 if age < 1 else 2 * age + 8
    return round(base * rng.uniform(0.9, 1.1), 1)


def _mg_text(mg: float) -> str:
    return f"{mg:g}mg"


def _line(drug: Drug, count: int, freq: str, days: int, weight: float | None = None) -> Line:
    """`count` units per dose, written in mg when one unit has a plain strength."""
    mg = strength_mg(drug)
    dose = _mg_text(mg * count) if mg is not None else f"{count}{drug.unit}"
    return Line(drug, dose, freq, days, max(1, math.ceil(count * PER_DAY[freq] * days)), drug.route, weight)


def named(name: str, count: int, freq: str, days: int, weight: float | None = None) -> Line:
    return _line(_BY_NAME[name], count, freq, days, weight)


def adult_regimens(drug: Drug) -> tuple[tuple[int, str], ...]:
    """The (units per dose, frequency) an adult line of this drug may have: its usual regimen where the
    demo knows it, else one unit at any of the members' frequencies (the label does not fix how often)."""
    if drug.name in USUAL:
        return (USUAL[drug.name],)
    return tuple((1, code) for code, _ in FREQUENCIES)


def adult_regimen_line(drug: Drug, count: int, freq: str, days: int) -> Line:
    if drug.unit == "瓶" and drug.route in _BY_THE_BOTTLE:  # a syrup, an inhaler, a cream: one lasts the course
        return Line(drug, _BY_THE_BOTTLE[drug.route], freq, days, 1, drug.route)
    return _line(drug, count, freq, days)


def adult_line(rng: random.Random, drug: Drug | None = None) -> Line:
    """An ordinary adult line: one of the drug's adult regimens."""
    drug = drug or rng.choice(ADULT_DRUGS)
    regimens = adult_regimens(drug)
    count, freq = regimens[0] if len(regimens) == 1 else rng.choice(regimens)
    return adult_regimen_line(drug, count, freq, rng.choice(DAYS))


def child_line(rng: random.Random, weight: float) -> Line:
    """A paediatric product dosed by the child's weight."""
    return paediatric_line(rng.choice(sorted(PAEDIATRIC)), weight)


def paediatric_line(name: str, weight: float) -> Line:
    per_kg, freq, days = PAEDIATRIC[name]
    drug = _BY_NAME[name]
    if per_kg is None:
        return _line(drug, 1, freq, days, weight)
    # Rounded down to 5 mg (never above the labelled mg/kg), and no more than the label's daily maximum.
    mg = min(per_kg * weight, CHILD_DAILY_MAX_MG.get(name, math.inf) / PER_DAY[freq])
    mg = math.floor(mg / 5) * 5 if mg >= 10 else math.floor(mg * 10) / 10
    per_unit = strength_mg(drug)
    units = math.ceil(mg * PER_DAY[freq] * days / per_unit) if per_unit else 1
    if drug.unit == "瓶":  # a bottle of suspension or solution lasts the course
        units = 1
    return Line(drug, _mg_text(mg), freq, days, units, drug.route, weight)


def adult_dose_for_child(rng: random.Random, weight: float) -> Line:
    name, count, freq = rng.choice(ADULT_FOR_CHILD)
    return named(name, count, freq, 3, weight)


def interacting_with_warfarin(rng: random.Random) -> Line:
    name, count, freq = rng.choice(INTERACTING)
    return named(name, count, freq, rng.choice((3, 5, 7)))


def warfarin() -> Line:
    return named(WARFARIN, 1, "qd", 30)


def metformin() -> Line:
    name, count, freq = METFORMIN
    return named(name, count, freq, 30)
