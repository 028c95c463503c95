"""Bearer tokens of the demo county: derived from the demo seed, so they survive a restart."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from hub.db import Database


def demo_token(seed: int, name: str) -> str:
    return "demo-" + hmac.new(f"county-hub-demo-{seed}".encode(), name.encode(), hashlib.sha256).hexdigest()[:32]


def ensure_demo_tokens(database: Database, county: Any, seed: int | None = None) -> dict[str, str]:
    """Stores the demo's tokens (idempotent) and returns them by name, for the start-up banner."""
    from hub.api.auth import ensure_token

    seed = seed if seed is not None else getattr(county, "seed", 0)
    county_hospital = next(f.id for f in county.facilities if f.kind == "county")
    wanted: list[tuple[str, str, str | None]] = [
        ("admin", "admin", None),
        (f"clinician:{county_hospital}", "clinician", county_hospital),
        (f"reader:{county_hospital}", "reader", county_hospital),
        (f"pharmacist:{county_hospital}", "pharmacist", county_hospital),
    ]
    wanted += [(f"connector:{f.id}", "connector", f.id) for f in county.facilities]
    tokens: dict[str, str] = {}
    with database.transaction() as session:
        for name, role, facility in wanted:
            token = demo_token(seed, name)
            ensure_token(session, token, name, role, facility)
            tokens[name] = token
    shown = [name for name in tokens if not name.startswith("connector:")][:4]
    shown += [name for name in tokens if name.startswith("connector:")][:2]
    return {name: tokens[name] for name in shown}
