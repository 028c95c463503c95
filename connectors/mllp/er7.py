"""HL7 v2 ER7 text read as the standard writes it: segments, fields, repetitions, components,
escape sequences and the explicit null `""`.

Fields are kept as sent. hl7apy, used here before, re-numbered components beyond a version's
definition (a 2.4-style phone in XTN-12 of a 2.3 message was lost), re-escaped `\\X..\\` and
refused segments a version lacks (an SFT in a 2.3 message); the mapping needs none of its models.
A sender's own separators (MSH-1, MSH-2) are translated to the default `|^~\\&` on reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.core.errors import PermanentError

NULL = '""'  # HL7's explicit null: "this value is now empty", as against an empty field, "not sent"
DEFAULT_SEPARATORS = "|^~\\&"
_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")


class ParseError(PermanentError, ValueError):
    """The text is not HL7 v2 ER7; the message names the segment."""


@dataclass(frozen=True, eq=False)  # identity, not value: the same text can repeat (two equal OBX)
class Segment:
    name: str
    fields: tuple[str, ...]  # fields[n] is field n as sent (escaped); MSH-1 is the field separator

    def field(self, n: int) -> str:
        return self.fields[n] if 0 < n < len(self.fields) else ""


@dataclass(frozen=True)
class Message:
    children: tuple[Segment, ...]


def parse(text: str) -> Message:
    """Segments split on CR, LF or CR LF; blank lines ignored."""
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
        raise ParseError("the message does not start with an MSH segment")
    separators = lines[0][3] + lines[0][4:8]
    table = _translation(separators)
    children = []
    for number, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_NAME.fullmatch(name) or (len(line) > 3 and line[3] != separators[0]):
            raise ParseError(f"segment {number} ({line[:12]!r}) does not start with a segment name "
                             f"(three capital letters or digits) and the field separator {separators[0]!r}")
        if name == "MSH":
            rest = line[8:].split(separators[0])[1:] if len(line) > 8 else []
            fields = (name, "|", "^~\\&", *(f.translate(table) for f in rest))
        else:
            fields = (name, *(f.translate(table) for f in line[4:].split(separators[0])))
        children.append(Segment(name, fields))
    return Message(tuple(children))


def _translation(separators: str) -> dict[int, str]:
    """The sender's separators to the defaults; a default separator sent as data gets escaped."""
    if separators == DEFAULT_SEPARATORS:
        return {}
    table = {ord(c): e for c, e in zip("|^~\\&", ("\\F\\", "\\S\\", "\\R\\", "\\E\\", "\\T\\"), strict=True)}
    for theirs, ours in zip(separators[1:], "^~\\&", strict=True):
        table[ord(theirs)] = ours
    return table


def is_null(text: str) -> bool:
    return text == NULL


def value(segment: Segment, n: int) -> str:
    """The first repetition of field n, escaped as sent; '' when absent, empty or null."""
    if segment.name == "MSH" and n <= 2:
        return segment.field(n)  # the separators themselves
    text = segment.field(n).split("~")[0]
    return "" if is_null(text) else text


def repetitions(segment: Segment, n: int) -> list[str]:
    """Every repetition of field n; a null repetition reads ''."""
    text = segment.field(n)
    return [] if not text else ["" if is_null(r) else r for r in text.split("~")]


def part(text: str, index: int, sep: str = "^") -> str:
    """Component `index` (0-based), unescaped; '' when absent or null."""
    parts = text.split(sep)
    if index >= len(parts) or is_null(parts[index]):
        return ""
    return unescape(parts[index])


_ESCAPE = re.compile(r"\\([^\\]*)\\")
_PLAIN = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", ".br": "\n", ".sp": "\n"}


def unescape(text: str) -> str:
    """HL7 escape sequences to text: separators, `\\X..\\` hex (UTF-8 when it decodes, else GB18030),
    line breaks; highlighting, formatting and character-set switches are dropped."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(_one, text)


def _one(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _PLAIN:
        return _PLAIN[code]
    if code[:1] == "X" and len(code) > 1 and len(code) % 2 == 1:
        try:
            data = bytes.fromhex(code[1:])
        except ValueError:
            return match.group(0)
        for codec in ("utf-8", "gb18030"):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                continue
        return data.decode("latin-1")
    if code[:1] in ("H", "N", "C", "M", "Z", "."):
        return ""  # highlight on/off, character-set switches, locally defined, formatting
    return match.group(0)
