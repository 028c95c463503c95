"""Engine and sessions for SQLite (embedded, WAL) and PostgreSQL (production), with one set-up."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from hub.core.db.late_writes import LateWrites
from hub.core.db.migrate import upgrade
from hub.core.db.models import Base
from hub.core.errors import RetriableError

log = logging.getLogger(__name__)
# How long a read's audit rows wait for the SQLite write lock before they go to the spool.
LATE_WRITE_WAIT_MS = 10


class RetriableDatabaseError(RetriableError):
    """The database is down, busy or locked: the caller pauses and tries again (see is_retriable)."""


def is_retriable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # psycopg: serialization failures and deadlocks are worth another try.
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in {"40001", "40P01", "57P01", "57P03", "08006", "08003", "08001"}


class Database:
    def __init__(self, url: str, echo: bool = False, **engine_options: Any) -> None:
        self.url = url
        self.engine = _make_engine(url, echo, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: reads get their own engine (deferred BEGIN, query_only), so they never queue for
        # the write lock; rows a read adds (audit) are written after it by LateWrites.
        self._read_engine: Engine | None = None
        self._late: LateWrites | None = None
        file = make_url(url).database if self.is_sqlite else None
        if file and file != ":memory:" and not file.startswith("file:"):
            self._read_engine = _make_engine(url, echo, read_only=True, **engine_options)
            quick = _make_engine(url, echo, busy_ms=LATE_WRITE_WAIT_MS, pool_size=2, max_overflow=2)
            self._late = LateWrites(quick, self.engine, Path(f"{file}.late-rows"))
        self._reads = sessionmaker(self._read_engine or self.engine, expire_on_commit=False, autoflush=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read. On SQLite it never takes the write lock: a deferred, query-only transaction; rows
        added to the session (audit rows) are written when it ends, on disk before the caller answers.
        On PostgreSQL readers never wait for writers, so this is an ordinary transaction."""
        if self._late is None:
            with self.transaction() as session:
                yield session
            return
        with self._reads() as session, session.begin():
            yield session
            # Parents before children (an audit row before its patients): foreign keys are on.
            order = {table: i for i, table in enumerate(Base.metadata.sorted_tables)}
            added = sorted(session.new, key=lambda obj: order.get(obj.__table__, 0))
            for obj in added:
                session.expunge(obj)
            # A read that changed loaded rows is a bug; the query_only connection has refused it above.
        self._late.write(added)

    def reachable(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means not reachable
            return False

    def migrate(self, locations: Sequence[Path] = (), model_modules: Sequence[str] = ()) -> None:
        """Upgrades to every head: the core's and those of the parts whose migration directories and
        model modules the application passes."""
        upgrade(self.engine, locations, model_modules)

    def dispose(self) -> None:
        if self._late is not None:
            self._late.close()
        if self._read_engine is not None:
            self._read_engine.dispose()
        self.engine.dispose()


# Pages of the database each SQLite writer connection keeps in memory (negative: KiB). SQLite's default of
# 2 MiB holds a few hundred index pages: at a county's size (millions of search-index rows) each write then
# re-reads most of the b-tree pages it touches. Memory is taken as pages are read, up to 64 MiB. Readers keep
# the default: a reader's cache is dropped whenever another connection has committed (WAL), so a large one
# only costs the freeing (a $everything after each audit write was 1 ms slower with it).
SQLITE_CACHE_SIZE = -65536


def _make_engine(url: str, echo: bool, read_only: bool = False, busy_ms: int = 30000, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False},
                               **options)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling breaks savepoints).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            else:
                cursor.execute(f"PRAGMA cache_size={SQLITE_CACHE_SIZE}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers: IMMEDIATE takes the write lock up front, so concurrent writers wait instead of
            # deadlocking. Readers: a deferred BEGIN reads a WAL snapshot and never takes that lock.
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10, **options)
