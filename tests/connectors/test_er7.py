"""The ER7 reader on its own: separators, nulls, repetitions, escapes, segment names."""

from __future__ import annotations

import pytest

from connectors.mllp.er7 import ParseError, parse, part, repetitions, unescape, value


def test_fields_are_numbered_as_the_standard_numbers_them() -> None:
    msh, pid = parse("MSH|^~\\&|HIS|TH01|||20261123||ADT^A01|C1|P|2.5\nPID|1||7^^^TH01^MR||王^五\n").children
    assert value(msh, 1) == "|" and value(msh, 2) == "^~\\&" and value(msh, 9) == "ADT^A01"
    assert value(pid, 3) == "7^^^TH01^MR" and part(value(pid, 5), 1) == "五" and value(pid, 40) == ""


def test_null_empty_and_repetitions() -> None:
    (_, pid) = parse('MSH|^~\\&|A|B\rPID|1|""||a~""~b|x^""^y').children
    assert value(pid, 2) == "" and value(pid, 3) == ""  # null and empty both read as nothing here
    assert repetitions(pid, 4) == ["a", "", "b"] and part(value(pid, 5), 1) == "" and part(value(pid, 5), 2) == "y"


def test_a_sender_s_own_separators_are_read_as_the_defaults() -> None:
    (msh, pid) = parse("MSH#*!$%#A#B\rPID#1##7***TH01*MR!8##WANG*WU|^&").children
    assert value(msh, 3) == "A"
    assert repetitions(pid, 3) == ["7^^^TH01^MR", "8"]
    assert part(value(pid, 5), 0) == "WANG" and unescape(part(value(pid, 5), 1)) == "WU|^&"


@pytest.mark.parametrize("escaped, text", [
    ("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "a|b^c&d~e\\f"),
    ("\\Xe78e8b\\五", "王五"),  # UTF-8 bytes
    ("\\XCDF5\\", "王"),  # GB18030 bytes
    ("line\\.br\\next", "line\nnext"),
    ("\\H\\bold\\N\\ \\Zlocal\\", "bold "),
    ("\\X4\\ and \\Q\\", "\\X4\\ and \\Q\\"),  # not escapes the standard defines: kept as sent
])
def test_escape_sequences(escaped: str, text: str) -> None:
    assert unescape(escaped) == text


@pytest.mark.parametrize("text", ["PID|1", "MSH|^~\\&|A\rpid|1", "MSH|^~\\&|A\rPID1|2", "MSH|^~\\&|A\rP|1"])
def test_what_is_not_er7_is_refused_with_the_segment(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)
