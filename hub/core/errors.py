"""The hub's errors: one root and two branches, so every caller can tell what to do with a failure.

- `RetriableError`: the input is fine but something it needs (database, broker) is down or busy.
  Keep the input, wait, try again.
- `PermanentError`: the input (or a file, a request, a command line) is wrong. Trying again will
  not help: reject it with the reason, or dead-letter it (`reason`, `stage` go to the headers).

Every error class of the core and the parts derives from one of the branches. Where callers have
always caught a builtin (ValueError, for bad input) the class keeps it as a second base.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class RetriableError(HubError):
    """Network, broker or database busy or down: try again later, keep the input."""


class PermanentError(HubError):
    """Bad input: retrying will not help; it goes to the dead letters with this reason."""

    def __init__(self, reason: str, stage: str = "apply") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage
