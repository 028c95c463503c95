"""What the status, the API and the command line read: per destination, and the refused messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.delivery.models import QUEUED, REFUSED, DestinationState, OutboundMessage


@dataclass(frozen=True)
class DestinationSummary:
    destination: str  # facility/name
    facility_id: str
    kind: str | None  # None: messages wait for a destination that no configuration names any more
    address: str | None
    queued: int
    oldest_queued_at: datetime | None
    sent: int  # attempts, resends included
    acknowledged: int
    refused: int  # dead-lettered with the member's reason
    refused_waiting: int  # refused messages still kept (not sent again by hand)
    failing_since: datetime | None
    last_error: str | None
    last_acknowledged_at: datetime | None

    @property
    def needs_attention(self) -> bool:
        return self.failing_since is not None or self.refused_waiting > 0 or self.kind is None


def summaries(session: Session) -> list[DestinationSummary]:
    counts: dict[tuple[str, str], tuple[int, datetime | None]] = {
        (dest, state): (int(n), oldest)
        for dest, state, n, oldest in session.execute(
            select(OutboundMessage.destination, OutboundMessage.state, func.count(), func.min(OutboundMessage.created_at))
            .where(OutboundMessage.state.in_((QUEUED, REFUSED)))
            .group_by(OutboundMessage.destination, OutboundMessage.state)
        ).all()
    }
    states = {row.key: row for row in session.scalars(select(DestinationState))}
    keys = sorted(set(states) | {dest for dest, _ in counts})
    found = []
    for key in keys:
        row = states.get(key)
        queued, oldest = counts.get((key, QUEUED), (0, None))
        found.append(DestinationSummary(
            destination=key, facility_id=row.facility_id if row else key.partition("/")[0],
            kind=row.kind if row else None, address=row.address if row else None,
            queued=queued, oldest_queued_at=oldest,
            sent=row.sent_total if row else 0, acknowledged=row.acknowledged_total if row else 0,
            refused=row.refused_total if row else 0, refused_waiting=counts.get((key, REFUSED), (0, None))[0],
            failing_since=row.failing_since if row else None, last_error=row.last_error if row else None,
            last_acknowledged_at=row.last_acknowledged_at if row else None,
        ))
    return found


def refused(session: Session, destination: str | None = None, limit: int = 50) -> list[OutboundMessage]:
    query = select(OutboundMessage).where(OutboundMessage.state == REFUSED)
    if destination:
        query = query.where(OutboundMessage.destination == destination)
    return list(session.scalars(query.order_by(OutboundMessage.done_at.desc()).limit(limit)))
