"""Bearer tokens of the demo county: random on the first run, kept in HUB_DATA_DIR (mode 0600) so
they stay the same across restarts. (They were once derived from the public demo seed, so anyone
could compute them; those old tokens are revoked when the random ones are made.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from hub.core.db import Database
from hub.core.web.auth import ensure_token, revoke_token

FILE_NAME = "demo-tokens.json"


def _seed_token(seed: int, name: str) -> str:
    """The old, computable token: only to revoke it."""
    return "demo-" + hmac.new(f"county-hub-demo-{seed}".encode(), name.encode(), hashlib.sha256).hexdigest()[:32]


def _load(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    os.chmod(path, 0o600)  # whatever an earlier copy or umask left, the file is the owner's alone
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object of token names to tokens; remove it to make new tokens")
    return {str(k): str(v) for k, v in data.items()}


def _save(path: Path, tokens: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(tokens, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def saved_tokens(data_dir: Path) -> dict[str, str]:
    """Every demo token by name (the demo's devices send with their member's connector token)."""
    return _load(data_dir / FILE_NAME)


def ensure_demo_tokens(database: Database, county: Any, data_dir: Path, seed: int | None = None) -> dict[str, str]:
    """Stores the demo's tokens (idempotent) and returns them by name, for the start-up banner."""
    seed = seed if seed is not None else getattr(county, "seed", 0)
    county_hospital = next(f.id for f in county.facilities if f.kind == "county")
    wanted: list[tuple[str, str, str | None]] = [
        ("admin", "admin", None),
        (f"clinician:{county_hospital}", "clinician", county_hospital),
        (f"reader:{county_hospital}", "reader", county_hospital),
        (f"pharmacist:{county_hospital}", "pharmacist", county_hospital),
    ]
    wanted += [(f"connector:{f.id}", "connector", f.id) for f in county.facilities]
    path = data_dir / FILE_NAME
    kept = _load(path)
    tokens = {name: kept.get(name) or "demo-" + secrets.token_urlsafe(24) for name, _, _ in wanted}
    if tokens != {name: kept.get(name) for name in tokens}:
        _save(path, {**kept, **tokens})
    with database.transaction() as session:
        for name, role, facility in wanted:
            ensure_token(session, tokens[name], name, role, facility)
            revoke_token(session, _seed_token(seed, name))
    shown = [name for name in tokens if not name.startswith("connector:")][:4]
    shown += [name for name in tokens if name.startswith("connector:")][:2]
    return {name: tokens[name] for name in shown}
