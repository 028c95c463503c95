"""Specific Character Set (0008,0005) checks: a file is refused when it declares a character set
DICOM does not define, or when its text bytes are not valid in the one it declares (as MLLP does
for MSH-18), instead of being stored with garbled names."""

from __future__ import annotations

import re

from pydicom import charset as dicom_charset
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag

from hub.core.errors import PermanentError

TEXT_VRS = {"SH", "LO", "ST", "LT", "UT", "UC", "PN"}
UTF8 = "ISO_IR 192"
GB2312_G1 = "ISO 2022 IR 58"
# ISO 2022 designations a GB2312 file (PS3.5 Annex J.3) switches with: GB2312 into G1, ASCII into G0.
_ISO2022_DESIGNATIONS = re.compile(rb"\x1b\$\)A|\x1b\(B")
PN_DELIMITERS = {0x5E, 0x3D}  # ^ and =
TEXT_DELIMITERS = set(dicom_charset.TEXT_VR_DELIMS) | {0x5C}


class DicomCharsetError(PermanentError, ValueError):
    pass


def _declared(ds: Dataset) -> list[str]:
    element = ds.get_item(Tag(0x0008, 0x0005))
    if element is None or element.value in (None, b"", ""):
        return []
    value = element.value
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else "\\".join(value) if isinstance(
        value, list | tuple | MultiValue) else str(value)
    return [term.strip() for term in text.split("\\")]


def check_charset(ds: Dataset) -> None:
    """Raises DicomCharsetError with the reason; call before the dataset is decoded."""
    terms = _declared(ds)
    unknown = [t for t in terms if t and t not in dicom_charset.python_encoding]
    if unknown:
        raise DicomCharsetError(
            f"declared character set {unknown[0]!r} (0008,0005) is not one DICOM defines; declare the one the "
            f"file's text is written in, e.g. {UTF8} (UTF-8) or GB18030")
    encodings = [dicom_charset.python_encoding[t] for t in terms] or [dicom_charset.default_encoding]
    for tag, vr, raw in _raw_text_elements(ds):
        if raw.isascii():
            continue
        name = f"({tag.group:04X},{tag.element:04X}) {keyword_for_tag(tag) or ''}".rstrip()
        if not terms:
            raise DicomCharsetError(f"{name} holds non-ASCII bytes but the file declares no character set "
                                    f"(0008,0005); declare it, e.g. {UTF8} (UTF-8) or GB18030")
        delimiters = PN_DELIMITERS if vr == "PN" else TEXT_DELIMITERS
        text = dicom_charset.decode_bytes(raw, encodings, delimiters)
        if "\ufffd" in text:
            raise DicomCharsetError(f"{name}: its bytes are not valid in the declared character set "
                                    f"{chr(92).join(terms)!r} (0008,0005); is the declaration right?")
        if terms[-1] != UTF8 and _utf8_with_multibyte(raw):
            raise DicomCharsetError(f"{name}: its bytes are UTF-8 but the file declares {chr(92).join(terms)!r} "
                                    f"(0008,0005); declare {UTF8}")


def as_utf8(ds: Dataset) -> None:
    """Rewrites a GB2312 file's text (ISO 2022 IR 58, with escape sequences) as UTF-8, declared so; call
    after check_charset and before the dataset is decoded. pydicom leaves the designations in the text
    (王 read as "\x1b$)A王") because Python's gb2312 codec does not know them; the file as stored keeps its
    own bytes. Other character sets are left to pydicom."""
    terms = _declared(ds)
    if GB2312_G1 not in terms:
        return
    for tag, _vr, raw in _raw_text_elements(ds):
        if b"\x1b" in raw or not raw.isascii():
            # GB2312 in G1 is EUC-CN: once the designations are gone, the bytes are gb2312 text.
            try:
                text = _ISO2022_DESIGNATIONS.sub(b"", raw).decode("gb2312")
            except UnicodeDecodeError:
                name = f"({tag.group:04X},{tag.element:04X}) {keyword_for_tag(tag) or ''}".rstrip()
                raise DicomCharsetError(f"{name}: its bytes are not valid GB2312 as {GB2312_G1} declares "
                                        f"(0008,0005); is the declaration right?") from None
            element = ds.get_item(tag)
            if isinstance(element, RawDataElement):  # not yet decoded (the usual case): replace its bytes
                ds[tag] = element._replace(value=text.encode("utf-8"))
            else:
                element.value = text.encode("utf-8")
    ds.SpecificCharacterSet = UTF8


def _utf8_with_multibyte(raw: bytes) -> bool:
    """Text in a legacy set (Latin-1, GB18030) almost never forms valid multi-byte UTF-8."""
    if b"\x1b" in raw:  # ISO 2022 escape sequences: a multi-set file, judged by decoding above
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _raw_text_elements(ds: Dataset) -> list[tuple[BaseTag, str, bytes]]:
    """Top-level text elements as the file holds them (the patient's and study's names live there)."""
    found = []
    for tag in ds.keys():  # noqa: SIM118 - iterating a Dataset converts its raw elements
        element = ds.get_item(tag)
        value = getattr(element, "value", None)
        if not isinstance(value, bytes) or not value:
            continue
        vr = getattr(element, "VR", None)
        if not vr:
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                continue
        if vr in TEXT_VRS:
            found.append((Tag(tag), str(vr), value))
    return found
