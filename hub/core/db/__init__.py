"""The shared database: engine set-up, the declarative base, and migrations (Alembic)."""

from hub.core.db.engine import Database, RetriableDatabaseError, is_retriable
from hub.core.db.models import Base

__all__ = ["Base", "Database", "RetriableDatabaseError", "is_retriable"]
