"""The one error of the review package: a rule set that cannot be used (the prescription is never at fault)."""

from __future__ import annotations

from hub.core.errors import PermanentError


class ReviewRulesError(PermanentError, ValueError):
    """The review rules cannot be used; the message names the file and line (or rule id) and the problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, stage="rules")
