"""A database that goes away for real, on either backend: a SQLite file whose folder is moved away,
or a PostgreSQL reached through a TCP proxy that the test closes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.app import parts as registered
from hub.core.db import Database


class _Proxy:
    """Forwards 127.0.0.1:<port> to the database server until `down()`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.up:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        self.up = False
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@contextmanager
def breakable_database(url: str, tmp_path: Path) -> Iterator[tuple[Database, object]]:
    """A migrated Database on `url` (the test's own) and a function that takes it down."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder = tmp_path / "breakable"
        database = Database(f"sqlite:///{folder / 'hub.db'}")
        registered.migrate(database)

        def down_sqlite() -> None:
            database.dispose()
            folder.rename(tmp_path / "gone")  # the file is no longer where the hub looks

        yield database, down_sqlite
        database.dispose()
        return
    proxy = _Proxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    database = Database(parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                        pool_timeout=2, connect_args={"connect_timeout": 2})
    registered.migrate(database)

    def down_postgres() -> None:
        proxy.down()
        database.dispose()

    yield database, down_postgres
    proxy.down()
    database.dispose()
