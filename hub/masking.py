"""Masking of resident ID and phone numbers: in API responses (hub/api/privacy.py) and in logs.

Log lines can quote input (a rejected HL7 field, a search URL), so every handler of the hub's
logs passes records through `MaskingFilter`, which masks anything shaped like a resident ID or a
mainland mobile number, in the message and in tracebacks.
"""

from __future__ import annotations

import logging
import re

# 18-character resident ID (region, birth date, sequence, check character) and 11-digit mobiles.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")


def mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_text(text: str) -> str:
    text = _RESIDENT_ID.sub(lambda m: mask_middle(m.group(0), 4, 4), text)
    return _MOBILE.sub(lambda m: mask_middle(m.group(0), 3, 4), text)


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
