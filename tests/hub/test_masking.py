"""Resident ID and phone numbers never reach a log line."""

from __future__ import annotations

import io
import logging

import pytest

from hub.masking import MaskingFilter, install_log_masking, mask_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PID-3 330122199206105328 rejected", "PID-3 3301**********5328 rejected"),
        ("id 11010119900307093x", "id 1101**********093x"),
        ("call 13812345678 or +86 138-1234-5678", "call 138****5678 or +86**********5678"),
        ("order 20261123083000123 and MRN 000123", "order 20261123083000123 and MRN 000123"),  # not IDs
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
