"""Reference data of the simulated county: members, drugs, diagnoses and lab tests, with each
vendor's local codes. The hub's mapping files translate the local codes; the simulator only ever
writes local codes, as a real HIS does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

COUNTY = "青山县"
REGION_CODES = ("330122", "330127", "330182")  # resident ID region prefixes used for the county's people

TOWNSHIPS: tuple[tuple[str, str, str, Literal["vendor_a", "vendor_b"]], ...] = (
    ("th01", "青山镇卫生院", "青山镇", "vendor_b"),
    ("th02", "白溪乡卫生院", "白溪乡", "vendor_a"),
    ("th03", "龙门镇卫生院", "龙门镇", "vendor_b"),
    ("th04", "石桥镇卫生院", "石桥镇", "vendor_a"),
    ("th05", "桃源乡卫生院", "桃源乡", "vendor_b"),
)
VILLAGES = (
    "李家村", "王家坞", "上塘村", "下塘村", "枫树岭", "竹林村", "东岙村", "西岙村", "新民村", "红旗村",
    "双溪村", "大坪村", "梅岭村", "杨柳村", "荷花村", "高桥村", "石门村", "溪口村", "柏树村", "南山村",
)


@dataclass(frozen=True)
class Drug:
    name: str
    strength: str
    form: str
    route: str
    national_code: str  # 国家医保药品编码-style code
    code_a: str  # vendor_a local code
    code_b: str  # vendor_b local code


_DRUGS = (
    ("阿莫西林胶囊", "0.25g", "胶囊", "口服"), ("头孢克肟分散片", "0.1g", "片", "口服"),
    ("左氧氟沙星片", "0.5g", "片", "口服"), ("阿奇霉素片", "0.25g", "片", "口服"),
    ("硝苯地平缓释片", "20mg", "片", "口服"), ("苯磺酸氨氯地平片", "5mg", "片", "口服"),
    ("厄贝沙坦片", "150mg", "片", "口服"), ("缬沙坦胶囊", "80mg", "胶囊", "口服"),
    ("美托洛尔缓释片", "47.5mg", "片", "口服"), ("氢氯噻嗪片", "25mg", "片", "口服"),
    ("二甲双胍片", "0.5g", "片", "口服"), ("格列美脲片", "2mg", "片", "口服"),
    ("阿卡波糖片", "50mg", "片", "口服"), ("胰岛素注射液", "400IU/10ml", "注射液", "皮下注射"),
    ("阿司匹林肠溶片", "100mg", "片", "口服"), ("阿托伐他汀钙片", "20mg", "片", "口服"),
    ("瑞舒伐他汀钙片", "10mg", "片", "口服"), ("氯吡格雷片", "75mg", "片", "口服"),
    ("奥美拉唑肠溶胶囊", "20mg", "胶囊", "口服"), ("铝碳酸镁咀嚼片", "0.5g", "片", "口服"),
    ("布洛芬缓释胶囊", "0.3g", "胶囊", "口服"), ("对乙酰氨基酚片", "0.5g", "片", "口服"),
    ("复方甘草片", "—", "片", "口服"), ("氨溴索片", "30mg", "片", "口服"),
    ("沙丁胺醇气雾剂", "100μg/揿", "气雾剂", "吸入"), ("氯雷他定片", "10mg", "片", "口服"),
    ("0.9%氯化钠注射液", "250ml", "注射液", "静脉滴注"), ("5%葡萄糖注射液", "250ml", "注射液", "静脉滴注"),
    ("维生素B1片", "10mg", "片", "口服"), ("碳酸钙D3片", "600mg", "片", "口服"),
    ("板蓝根颗粒", "10g", "颗粒", "口服"), ("藿香正气水", "10ml", "酊剂", "口服"),
)
DRUGS = tuple(
    Drug(name, strength, form, route, f"XJ{i:02d}{'ABCDEFGH'[i % 8]}{i * 37 % 1000:03d}A001010{i:05d}",
         f"WA-{i:04d}", f"YP{i + 100:05d}")
    for i, (name, strength, form, route) in enumerate(_DRUGS, start=1)
)
# Hospital-made preparations (院内制剂) have no national code: a connector must report them.
LOCAL_ONLY_DRUGS = (
    Drug("院内制剂·止咳合剂", "100ml", "合剂", "口服", "", "WA-9001", "YP99001"),
)

DIAGNOSES = (
    ("I10", "原发性高血压"), ("E11.9", "2型糖尿病"), ("J06.9", "急性上呼吸道感染"), ("J20.9", "急性支气管炎"),
    ("J18.9", "肺炎"), ("K29.7", "胃炎"), ("K21.9", "胃食管反流病"), ("I25.1", "动脉粥样硬化性心脏病"),
    ("I63.9", "脑梗死"), ("I48.9", "心房颤动"), ("J44.9", "慢性阻塞性肺病"), ("J45.9", "哮喘"),
    ("M54.5", "腰痛"), ("M17.9", "膝关节病"), ("N39.0", "泌尿道感染"), ("E78.5", "高脂血症"),
    ("R51", "头痛"), ("R10.4", "腹痛"), ("A09.9", "胃肠炎"), ("B02.9", "带状疱疹"),
    ("L30.9", "皮炎"), ("H10.9", "结膜炎"), ("K35.8", "急性阑尾炎"), ("S52.5", "桡骨下端骨折"),
    ("O80", "单胎顺产"), ("Z00.0", "健康体检"),
)
# Local diagnosis codes: vendor_a uses ICD-10 itself; vendor_b its own numbers.
DIAGNOSIS_CODE_B = {code: f"ZD{i:04d}" for i, (code, _) in enumerate(DIAGNOSES, start=1)}


@dataclass(frozen=True)
class LabTest:
    loinc: str
    name: str
    unit: str
    low: float
    high: float
    code_a: str
    code_b: str
    decimals: int = 1


LAB_TESTS = (
    LabTest("6690-2", "白细胞计数", "10*9/L", 3.5, 9.5, "LA-WBC", "JY0101"),
    LabTest("789-8", "红细胞计数", "10*12/L", 3.8, 5.8, "LA-RBC", "JY0102", 2),
    LabTest("718-7", "血红蛋白", "g/L", 115, 175, "LA-HGB", "JY0103", 0),
    LabTest("777-3", "血小板计数", "10*9/L", 125, 350, "LA-PLT", "JY0104", 0),
    LabTest("2345-7", "葡萄糖", "mmol/L", 3.9, 6.1, "LA-GLU", "JY0201", 2),
    LabTest("4548-4", "糖化血红蛋白", "%", 4.0, 6.0, "LA-HBA1C", "JY0202"),
    LabTest("2160-0", "肌酐", "umol/L", 57, 111, "LA-CREA", "JY0301", 0),
    LabTest("3094-0", "尿素氮", "mmol/L", 3.1, 8.0, "LA-BUN", "JY0302"),
    LabTest("1742-6", "丙氨酸氨基转移酶", "U/L", 9, 50, "LA-ALT", "JY0303", 0),
    LabTest("2093-3", "总胆固醇", "mmol/L", 2.8, 5.2, "LA-TC", "JY0401", 2),
    LabTest("2571-8", "甘油三酯", "mmol/L", 0.5, 1.7, "LA-TG", "JY0402", 2),
    LabTest("13457-7", "低密度脂蛋白胆固醇", "mmol/L", 1.5, 3.4, "LA-LDL", "JY0403", 2),
)
# A test only one laboratory runs, with no community code yet.
LOCAL_ONLY_LAB = LabTest("", "微量元素锌", "umol/L", 11.6, 23.0, "LA-ZN", "JY0999")

PANELS = {
    "CBC": ("58410-2", "血常规", LAB_TESTS[0:4]),
    "GLU": ("2345-7", "血糖", LAB_TESTS[4:6]),
    "RENAL": ("24362-6", "肾功能", LAB_TESTS[6:9]),
    "LIPID": ("57698-3", "血脂", LAB_TESTS[9:12]),
}
PANEL_CODE_A = {"CBC": "LP-CBC", "GLU": "LP-GLU", "RENAL": "LP-RENAL", "LIPID": "LP-LIPID"}
PANEL_CODE_B = {"CBC": "JYZ01", "GLU": "JYZ02", "RENAL": "JYZ03", "LIPID": "JYZ04"}

DEPARTMENTS = ("全科", "内科", "外科", "儿科", "妇产科", "中医科", "急诊科")
FREQUENCIES = (("qd", "每日一次"), ("bid", "每日两次"), ("tid", "每日三次"), ("qn", "每晚一次"))
