"""The ORU^R01 a member receives: structure (hl7apy, strict), fields, escapes, flags, character sets."""

from __future__ import annotations

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hypothesis import given
from hypothesis import strategies as st

from consumers.delivery import hl7_oru
from consumers.delivery.hl7_oru import Header, RenderError
from tests.delivery.factories import AT, glucose, notice_event, report_event
from tests.delivery.members import field_of


def header(charset: str = "UTF-8") -> Header:
    return Header("0123456789ABCDEF0123", "cty01", "HIS", "TH01", charset, AT)


def report(charset: str = "UTF-8", **kwargs: object) -> str:
    event = report_event(**kwargs)  # type: ignore[arg-type]
    observations = [r for r in event.related if r["resourceType"] == "Observation"]
    return hl7_oru.report_message(header(charset), event.resource, observations, "1", "th01").decode(
        hl7_oru.CODECS[charset])


def segment(message: str, name: str, index: int = 0) -> list[str]:
    return [line.split("|") for line in message.split("\r") if line.startswith(name + "|")][index]


def test_a_report_is_a_valid_oru_r01_v2_5() -> None:
    text = report()
    message = parse_message(text, find_groups=True, validation_level=VALIDATION_LEVEL.STRICT)
    assert message.validate()
    assert [line[:3] for line in text.split("\r") if line] == ["MSH", "PID", "ORC", "OBR", "OBX", "OBX", "NTE"]
    assert field_of(text, "MSH", 9) == "ORU^R01^ORU_R01"
    assert field_of(text, "MSH", 10) == "0123456789ABCDEF0123"
    assert (field_of(text, "MSH", 4), field_of(text, "MSH", 6)) == ("CTY01", "TH01")
    assert field_of(text, "MSH", 7) == "20261127093000+0800"  # China time, with its offset
    assert field_of(text, "MSH", 18) == "UNICODE UTF-8"


def test_patient_order_and_status() -> None:
    text = report()
    assert field_of(text, "PID", 3) == "1^^^TH01^MR"  # the member's own patient number
    assert field_of(text, "PID", 5) == "王秀英"
    obr = segment(text, "OBR")
    assert (obr[2], obr[3], obr[4]) == ("ORD0001", "R00001", "11524-6^心电图^LN")  # placer = the member's order
    assert (obr[7], obr[22], obr[25]) == ("20261127090000+0800", "20261127092500+0800", "F")
    assert segment(report(status="amended"), "OBR")[25] == "C"
    assert segment(report(status="preliminary"), "OBR")[25] == "P"


def test_observations_numbers_units_ranges_flags_and_text() -> None:
    text = report()
    number = segment(text, "OBX", 0)
    assert number[1:9] == ["1", "NM", "2345-7^葡萄糖^LN", "", "7.2", "mmol/L^mmol/L^UCUM", "3.9-6.1", "H"]
    assert number[11] == "F"
    words = segment(text, "OBX", 1)
    assert words[2] == "ST"
    assert words[5] == "窦性心律 \\F\\ 心率 72 次/分"  # "|" escaped: the segment keeps its fields
    assert segment(text, "NTE")[3] == "窦性心律，ST段压低（V4-V6），建议复查。"


def test_long_or_multiline_text_is_tx_with_a_line_per_repetition() -> None:
    observation = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "结论"},
                   "valueString": "第一行\n第二行 ^ 特殊"}
    text = report(observations=[observation], conclusion="甲\n乙")
    obx = segment(text, "OBX")
    assert (obx[2], obx[3], obx[5]) == ("TX", "^结论", "第一行~第二行 \\S\\ 特殊")
    assert segment(text, "NTE")[3] == "甲\\.br\\乙"


@pytest.mark.parametrize(("interpretation", "flag", "critical"), [
    ("H", "H", "HH"), ("L", "L", "LL"), ("HH", "HH", "HH"), ("LL", "LL", "LL"), ("HU", "HH", "HH"),
    ("A", "A", "AA"), ("N", "N", "AA"), (None, "", "AA"),
])
def test_abnormal_flags(interpretation: str | None, flag: str, critical: str) -> None:
    observation = glucose("th01", "1", 1, flag=interpretation)
    assert hl7_oru.abnormal_flag(observation) == flag
    assert hl7_oru.abnormal_flag(observation, critical=True) == critical


def test_a_critical_value_notice_flags_the_value_and_carries_its_text() -> None:
    event = notice_event(value=25.0, flag="H")
    text = hl7_oru.notice_message(header(), event.resource, event.related, "1", "th01").decode()
    assert parse_message(text, find_groups=True, validation_level=VALIDATION_LEVEL.TOLERANT)
    obx = segment(text, "OBX")
    assert (obx[2], obx[5], obx[8]) == ("NM", "25", "HH")
    assert segment(text, "NTE")[3] == "危急值：血糖 25.0 mmol/L，请立即处理并回复。"
    assert segment(text, "OBR")[4] == "2345-7^葡萄糖^LN"


def test_a_withdrawn_notice_is_a_correction_without_critical_flags() -> None:
    event = notice_event(value=25.0, flag="H")
    withdrawn = {**event.resource, "status": "entered-in-error"}
    text = hl7_oru.notice_message(header(), withdrawn, event.related, "1", "th01").decode()
    assert segment(text, "OBR")[25] == "C"
    assert segment(text, "OBX")[8] not in {"HH", "LL", "AA"}


def test_a_notice_with_only_text_is_one_text_result_flagged_aa() -> None:
    event = notice_event()
    text = hl7_oru.notice_message(header(), event.resource, (), "1", "th01").decode()
    obx = segment(text, "OBX")
    assert (obx[2], obx[8]) == ("ST", "AA")
    assert "危急值" in obx[5]


def test_gb18030_bytes_round_trip_chinese_and_say_so_in_msh_18() -> None:
    event = report_event()
    observations = [r for r in event.related if r["resourceType"] == "Observation"]
    raw = hl7_oru.report_message(header("GB18030"), event.resource, observations, "1", "th01")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really GB18030 on the wire, not UTF-8
    text = raw.decode("gb18030")
    assert field_of(text, "MSH", 18) == "GB 18030-2000"
    assert "心电图" in text and "王秀英" in text and "窦性心律，ST段压低" in text
    assert text.encode("gb18030") == raw


def test_a_report_without_code_or_status_is_refused_with_the_reason() -> None:
    event = report_event()
    del event.resource["code"]
    with pytest.raises(RenderError, match="DiagnosticReport.code"):
        hl7_oru.report_message(header(), event.resource, [], "1", "th01")
    event = report_event(status="bogus")
    with pytest.raises(RenderError, match="not a report status"):
        hl7_oru.report_message(header(), event.resource, [], "1", "th01")


def unescape(text: str) -> str:
    return (text.replace("\\F\\", "|").replace("\\S\\", "^").replace("\\T\\", "&").replace("\\R\\", "~")
            .replace("\\E\\", "\\"))


TEXT = st.text(alphabet=st.sampled_from(list("窦性心律正常|^~&\\\r\n \tabcXYZ019，。（）")), max_size=300)


@given(text=TEXT, charset=st.sampled_from(["UTF-8", "GB18030"]))
def test_any_text_keeps_the_message_whole_and_reads_back(text: str, charset: str) -> None:
    observation = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "结论"},
                   "valueString": text}
    raw = report(charset, observations=[observation], conclusion=text or "无")
    segments = [line for line in raw.split("\r") if line]
    assert [s[:3] for s in segments] == ["MSH", "PID", "ORC", "OBR", "OBX", "NTE"]  # no delimiter leaked
    obx = segment(raw, "OBX")
    assert len(obx) == 12  # OBX-1 .. OBX-11: text never adds a field
    lines = [unescape(r) for r in obx[5].split("~")]
    if obx[2] == "ST":
        assert lines == [text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")]
    else:
        assert lines == text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
