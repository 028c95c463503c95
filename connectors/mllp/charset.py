"""Character sets of HL7 v2 messages: MSH-18 read from the raw bytes, strict decoding, and
detection of garbled Chinese text (mojibake) before anything is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.core.errors import PermanentError

# MSH-18 values (HL7 table 0211 and what Chinese systems send) -> Python codecs.
CHARSETS = {
    "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "UTF8": "utf-8",
    "GB 18030-2000": "gb18030", "GB18030": "gb18030", "GB 18030": "gb18030",
    "GBK": "gbk", "GB2312": "gbk", "CP936": "gbk",
    "ASCII": "ascii", "8859/1": "latin-1", "ISO-8859-1": "latin-1",
}


class CharsetError(PermanentError, ValueError):
    """Text that cannot be trusted; `location` is like 'PID-5' and `code` an HL7 error code."""

    def __init__(self, message: str, location: str | None = None, code: str = "102") -> None:
        super().__init__(message)
        self.location = location
        self.code = code


@dataclass(frozen=True)
class RawHeader:
    """MSH fields read from the undecoded bytes (MSH is ASCII in every character set used)."""

    separator: bytes
    fields: tuple[str, ...]  # fields[n] is MSH-n for n >= 2; fields[1] is the separator

    def get(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def component(self, n: int, index: int = 0) -> str:
        parts = self.get(n).split(self.get(2)[:1] or "^")
        return parts[index] if index < len(parts) else ""


def read_header(raw: bytes) -> RawHeader:
    text = raw.lstrip(b"\r\n\t ")
    if not text.startswith(b"MSH") or len(text) < 8:
        raise CharsetError("the message does not start with an MSH segment", "MSH", "100")
    separator = text[3:4]
    segment = re.split(rb"[\r\n]", text, maxsplit=1)[0]
    parts = segment.split(separator)
    fields = ("MSH", separator.decode("latin-1"), *(p.decode("latin-1") for p in parts[1:]))
    return RawHeader(separator, fields)


def codec_for(declared: str, default: str) -> str:
    # A repeated MSH-18 lists the message's default character set first; the others are reached through
    # ISO 2022 escape sequences (Japanese ISO IR87, for one), which the hub does not decode.
    first, *alternatives = declared.split("~")
    for alternative in alternatives:
        if alternative.strip() and alternative.strip().upper() not in CHARSETS:
            raise CharsetError(f"MSH-18 names {alternative!r} as an alternative character set (ISO 2022 code "
                               f"extension), which the hub does not decode; send the message in UTF-8 or GB18030",
                               "MSH-18", "203")
    name = (first or default).strip().upper()
    if name not in CHARSETS:
        raise CharsetError(f"MSH-18 names character set {declared!r}, which the hub does not support; "
                           f"supported: {', '.join(sorted(CHARSETS))}", "MSH-18", "203")
    return CHARSETS[name]


def decode(raw: bytes, codec: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        where = _location(raw, exc.start)
        raise CharsetError(f"bytes at offset {exc.start} ({raw[exc.start:exc.start + 4].hex()}) in {where} are not "
                           f"valid {codec}; is MSH-18 right?", where) from None


def _location(raw: bytes, offset: int) -> str:
    """'PID-5' for a byte offset, from segment and field separators (ASCII in every supported set)."""
    head = raw[:offset]
    segment = re.split(rb"[\r\n]", head)[-1]
    separator = raw[3:4] or b"|"
    name = segment[:3].decode("latin-1", "replace")
    field = segment.count(separator) + (1 if name == "MSH" else 0)
    return f"{name}-{field}"


_LATIN_MOJIBAKE = re.compile("[\u00c0-\u00ff][\u0080-\u00bf]")


def check_garbled(text: str) -> None:
    """Raises CharsetError naming the first field whose text looks garbled."""
    for segment in re.split(r"[\r\n]+", text):
        if len(segment) < 4:
            continue
        separator = segment[3]
        for n, value in enumerate(segment.split(separator)[1:], start=1):
            if not value or value.isascii():
                continue
            field = n + 1 if segment.startswith("MSH") else n
            where = f"{segment[:3]}-{field}"
            if "\ufffd" in value:
                raise CharsetError(f"{where} holds replacement characters (U+FFFD): the sender's text was "
                                   f"already broken", where)
            if _LATIN_MOJIBAKE.search(value) and _utf8_in_disguise(value, "latin-1"):
                raise CharsetError(f"{where} looks like UTF-8 read as Latin-1 ({value[:20]!r}); check MSH-18", where)
            if _utf8_in_disguise(value, "gb18030"):
                raise CharsetError(f"{where} looks like UTF-8 bytes read as GB18030 ({value[:20]!r}); "
                                   f"the message declares the wrong character set", where)


_CJK = re.compile("[㐀-鿿豈-﫿]")


def _utf8_in_disguise(value: str, codec: str) -> bool:
    """True when the text, turned back into bytes, is UTF-8 holding Chinese: it was UTF-8 all along.
    (Real GB18030 text almost never forms valid UTF-8 with CJK characters in it.)"""
    try:
        recovered = value.encode(codec).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return recovered != value and bool(_CJK.search(recovered))
