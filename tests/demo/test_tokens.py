"""The demo's tokens: random, kept in HUB_DATA_DIR (0600), the same after a restart; the old
seed-derived ones no longer work."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path
from types import SimpleNamespace

from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.web.auth import Authenticator, ensure_token
from hub.tools.demo.tokens import FILE_NAME, ensure_demo_tokens

SEED = 20261123
COUNTY = SimpleNamespace(seed=SEED, facilities=[SimpleNamespace(id="cty01", kind="county"),
                                                SimpleNamespace(id="th01", kind="township")])


def seed_token(name: str) -> str:
    """How the demo used to make its tokens: anyone with the public seed could compute them."""
    return "demo-" + hmac.new(f"county-hub-demo-{SEED}".encode(), name.encode(), hashlib.sha256).hexdigest()[:32]


def test_demo_tokens_are_random_kept_private_and_stable(db: Database, settings: HubSettings, tmp_path: Path) -> None:
    with db.transaction() as session:  # a database from before: the computable admin token works there
        ensure_token(session, seed_token("admin"), "admin", "admin", None)
    first = ensure_demo_tokens(db, COUNTY, tmp_path, SEED)
    assert first["admin"] != seed_token("admin")
    kept = tmp_path / FILE_NAME
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert first["admin"] in kept.read_text()
    again = ensure_demo_tokens(db, COUNTY, tmp_path, SEED)  # a restart
    assert again == first
    auth = Authenticator(settings, db)
    principal = auth.check_token(first["admin"])
    assert not isinstance(principal, str) and principal.role == "admin"
    assert auth.check_token(seed_token("admin")) == "revoked"
    assert isinstance(auth.check_token(seed_token("connector:th01")), str)  # never stored, so unknown
    other = tmp_path / "elsewhere"
    assert ensure_demo_tokens(db, COUNTY, other, SEED)["admin"] != first["admin"]  # not derived from the seed
