"""Masking of resident ID and phone numbers, by what a value looks like: the one place for the patterns.

API responses for roles that may not see the numbers (hub/core/web/privacy.py) and every log handler
(`MaskingFilter`) pass text through `mask_text`, which masks anything shaped like a resident ID
(18 characters with a check character 0-9/X, plain or grouped 6-8-4; the old 15-digit IDs) or a
phone number (mainland mobiles 1[3-9]x, with or without +86/0086, spaces or dashes; landlines with
an area code), wherever it stands in the text: the system it is filed under does not matter.
Hashes (content hashes, UUIDs, the digests in the hub's own ids) are left whole: their digits are
no one's number, and a masked id is a broken link.
"""

from __future__ import annotations

import logging
import re

_SEP = r"[ \-]?"
_RESIDENT_ID = re.compile(
    r"(?<!\d)(?<!\d\.)(?:"
    r"\d{17}[\dXx]"  # the 18-character ID (GB 11643), whatever its region and date
    r"|\d{6}[ \-]\d{8}[ \-]\d{3}[\dXx]"  # the same, written 6-8-4
    r"|[1-8]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"  # the old 15-digit ID (YYMMDD)
    r")(?![\dXx])"
)
_COUNTRY = r"(?:(?:\+|00)?86[ \-]?|\((?:\+|00)?86\)[ \-]?)"
_MOBILE = re.compile(rf"(?<!\d)(?<!\d\.){_COUNTRY}?1[3-9]\d(?:{_SEP}\d{{4}}){{2}}(?!\d)")
# Area code (0 + 2-3 digits, or without the 0 after +86) and a 7- or 8-digit local number.
_LANDLINE = re.compile(
    rf"(?<!\d)(?<!\d\.)(?:\(0[1-9]\d{{1,2}}\)|0[1-9]\d{{1,2}}|{_COUNTRY}\(?[1-9]\d{{1,2}}\)?)"
    rf"{_SEP}[1-9]\d{{2,3}}{_SEP}\d{{4}}(?!\d)"
)
# A number after "digit." is a component of a DICOM UID or an OID (2.25.<uuid as digits>), not a
# person's number: masking it would break the readers' links to images.
# Hashes are not numbers of people, and masking one would break the link it names:
# - content hashes (blob references, ETags): hex runs of 32 or more;
# - UUIDs (event ids): 8-4-4-4-12 hex;
# - the short digests in the hub's ids (`th01-img-<16 hex>`, `cp-<20 hex>`, `h<16 hex>`): a word of
#   16 or more hex characters, after at most one other letter, whose digits are split by a letter.
#   One in a hundred such digests holds 11 digits that read as a mobile number. A number written
#   next to letters ("TEL13812345678", "13812345678ab") keeps one run of digits and is masked.
_HASHES = re.compile(
    r"[0-9a-fA-F]{32,}"
    r"|(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z])[G-Zg-z]?(?=[0-9a-fA-F]*\d[a-fA-F]+\d)[0-9a-fA-F]{16,}(?![0-9A-Za-z])"
)


def mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def _mask_numbers(text: str) -> str:
    # Again until nothing changes: a match that ran into a neighbouring number ("010100 0571-2000000")
    # leaves that number's rest next to the end it kept, and the next pass masks it.
    for _ in range(4):
        masked = _RESIDENT_ID.sub(lambda m: mask_middle(m.group(0), 4, 4), text)
        masked = _MOBILE.sub(lambda m: mask_middle(m.group(0), 3, 4), masked)
        masked = _LANDLINE.sub(lambda m: mask_middle(m.group(0), 3, 4), masked)
        if masked == text:
            break
        text = masked
    return text


def mask_text(text: str) -> str:
    """`text` with every resident-ID-shaped and phone-shaped value masked (first 4 and last 4, or
    first 3 and last 4 characters kept)."""
    if sum(map(str.isdigit, text)) < 10:  # every number masked here has at least 10 digits
        return text
    parts, start = [], 0
    for run in _HASHES.finditer(text):
        parts.append(_mask_numbers(text[start : run.start()]))
        parts.append(run.group(0))
        start = run.end()
    parts.append(_mask_numbers(text[start:]))
    return "".join(parts)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_masking() -> None:
    """Adds the filter to every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
