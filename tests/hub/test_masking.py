"""Resident ID and phone numbers never reach a log line."""

from __future__ import annotations

import io
import logging
import re

import pytest

from hub.core.masking import MaskingFilter, install_log_masking, mask_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PID-3 330122199206105328 rejected", "PID-3 3301**********5328 rejected"),
        ("id 11010119900307093x", "id 1101**********093x"),
        ("call 13812345678 or +86 138-1234-5678", "call 138****5678 or +86**********5678"),
        ("old ID 330122920610532, landline (0571)8765-4321", "old ID 3301*******0532, landline (05********4321"),
        ("ID110101199003074573。", "ID1101**********4573。"),  # letters and CJK punctuation around it
        ("010100 0571-2000000", "010****057*****0000"),  # a number running into the next one
        ("UID 2.25.110101199003074573, v1.20.1", "UID 2.25.110101199003074573, v1.20.1"),  # a UID component
        ("blob:sha256/" + "1" * 64, "blob:sha256/" + "1" * 64),  # hashes are not numbers of people
        ("order 20261123083000123 and MRN 000123", "order 20261123083000123 and MRN 000123"),  # not IDs
        # the digests in the hub's ids, event ids: a mobile's digits by chance, a link all the same
        ("ImagingStudy/th01-img-19067716577eea29", "ImagingStudy/th01-img-19067716577eea29"),
        ("Patient/cp-13912345678a0b1c2d3e", "Patient/cp-13912345678a0b1c2d3e"),
        ("th01-pat-h19067716577eea29b", "th01-pat-h19067716577eea29b"),
        ("MSH-10 19067716577EEA290B1C", "MSH-10 19067716577EEA290B1C"),
        ("event 5f0c2a9e-1b2c-4d3e-8f40-013912345678", "event 5f0c2a9e-1b2c-4d3e-8f40-013912345678"),
        # a number written against letters is still a number
        ("TEL13812345678", "TEL138****5678"),
        ("abcdef13812345678", "abcdef138****5678"),
        ("13812345678abcdef", "138****5678abcdef"),
        ("th01-pat-13812345678", "th01-pat-138****5678"),
        ("13812345678901", "13812345678901"),  # too long to be a mobile
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_log_records_and_tracebacks_are_masked() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("patient %s phone %s", "330122199206105328", "13812345678")
        try:
            raise ValueError("bad resident ID 330122199206105328")
        except ValueError:
            logger.exception("mapping failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "330122199206105328" not in text and "13812345678" not in text
    assert "3301**********5328" in text and "138****5678" in text


def test_install_adds_the_filter_once() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        install_log_masking()
        install_log_masking()
        assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


# Property-based: whatever the format and wherever it stands, no resident ID or phone survives.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hub.core.identifiers import resident_id_check_digit  # noqa: E402
from hub.core.web.privacy import mask_json  # noqa: E402

digits = st.text("0123456789", min_size=1, max_size=1)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=17, max_size=17))
    check = resident_id_check_digit(body) if draw(st.booleans()) else draw(st.sampled_from("0123456789Xx"))
    value = body + check
    if draw(st.booleans()):  # written in groups 6-8-4
        sep = draw(st.sampled_from(" -"))
        value = f"{value[:6]}{sep}{value[6:14]}{sep}{value[14:]}"
    return value


@st.composite
def old_resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.integers(100000, 899999))
    year, month, day = draw(st.integers(0, 99)), draw(st.integers(1, 12)), draw(st.integers(1, 31))
    return f"{region}{year:02d}{month:02d}{day:02d}{draw(st.integers(0, 999)):03d}"


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    number = "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    sep = draw(st.sampled_from(["", " ", "-"]))
    number = f"{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "+86-", "86", "0086 ", "(+86)", "(86) "]))
    return prefix + number


@st.composite
def landlines(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(["010", "020", "021", "0571", "0851", "0379"]))
    local = draw(st.sampled_from("23456789")) + draw(st.text("0123456789", min_size=6, max_size=7))
    sep = draw(st.sampled_from(["", "-", " "]))
    if draw(st.booleans()):
        return f"({area}){sep}{local}"
    if draw(st.booleans()):
        return f"+86 {area[1:]}{sep}{local}"
    return f"{area}{sep}{local}"


numbers = st.one_of(resident_ids(), old_resident_ids(), mobiles(), landlines())
# Text around a number: anything but a digit right next to it (then it would be a longer number).
filler = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def _around(before: str, value: str, after: str) -> str:
    if before and before[-1].isdigit():
        before += " "
    if before.endswith(("." , "。")) and before[:-1][-1:].isdigit():
        before += " "  # "3." + number reads as a UID component
    if after and (after[0].isdigit() or after[0] in "Xx"):
        after = " " + after
    if re.search(r"\d[0-9a-fA-F]*$", before) or re.match(r"[0-9a-fA-F]*\d", after):
        before, after = before + " ", " " + after  # hex with digits on both sides reads as a digest
    return before + value + after


@settings(max_examples=400, deadline=None)
@given(numbers, filler, filler)
def test_no_number_survives_in_any_text(value: str, before: str, after: str) -> None:
    masked = mask_text(_around(before, value, after))
    assert value not in masked
    assert "***" in masked  # its middle is hidden, not just its formatting changed


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12,
)


@st.composite
def resources_with_a_number(draw: st.DrawFn) -> tuple[dict, str]:
    """A resource-like JSON tree with one number planted in some string, anywhere."""
    value = draw(numbers)
    tree = {"resourceType": draw(st.sampled_from(["Patient", "Observation", "Encounter", "Bundle"])),
            "x": draw(json_values)}
    planted = _around(draw(filler), value, draw(filler))
    path = draw(st.lists(st.sampled_from(["text", "div", "valueString", "telecom", "address", "entry"]),
                         min_size=1, max_size=4))
    node: dict = tree
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(node.get(step, {}), dict) else node
    node[path[-1]] = [planted] if draw(st.booleans()) else planted
    return tree, value


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


@settings(max_examples=300, deadline=None)
@given(resources_with_a_number())
def test_no_number_survives_anywhere_in_a_resource(case: tuple[dict, str]) -> None:
    tree, value = case
    assert any(value in s for s in _strings(tree))
    assert not any(value in s for s in _strings(mask_json(tree)))
