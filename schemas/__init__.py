"""Avro schemas of the hub's events: one `.avsc` per event type, shared named types beside them.

`released/` keeps every published version, expanded; tests check that each current schema can
still read what they wrote (backward compatibility).
"""

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
RELEASED_DIR = SCHEMA_DIR / "released"
