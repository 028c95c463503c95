"""What one attempt to deliver a message came to, whatever the transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Verdict = Literal["acknowledged", "refused", "retry", "down"]


@dataclass(frozen=True)
class Outcome:
    """acknowledged: the member took it (AA/CA, 2xx). refused: it never will (AE/AR, 4xx): dead-lettered
    with `reason`. retry: this message failed but may pass later (timeout, 5xx). down: the destination
    could not be reached at all (nothing was sent): every message waits."""

    verdict: Verdict
    reason: str = ""
    answer: str = ""  # what the member answered, for the record (an ACK, a status and body), cut short
    kind: str = ""  # for retries: connect, timeout, protocol, server (a metric label)


class Transport(Protocol):
    def send(self, message_id: str, body: bytes) -> Outcome: ...

    def close(self) -> None: ...
