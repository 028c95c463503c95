"""Stand-ins for a township's systems: an MLLP listener that ACKs (or refuses, or is down) and a FHIR
endpoint over HTTP. Both record what arrived, in order."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hub.core.mllp_framing import frame, read_frames
from tests.conftest import free_port

# What the listener answers to a message: (MSA-1 code, MSA-3 text); None: no answer at all.
Answer = Callable[[str], tuple[str, str] | None]


def always(code: str = "AA", text: str = "") -> Answer:
    return lambda _message: (code, text)


def field_of(message: str, segment: str, n: int) -> str:
    for line in message.split("\r"):
        parts = line.split("|")
        if parts[0] == segment:
            # MSH-1 is the separator itself, so MSH field n is parts[n - 1].
            index = n - 1 if segment == "MSH" else n
            return parts[index] if index < len(parts) else ""
    return ""


@dataclass
class MllpMember:
    """A township HIS's HL7 listener. `received` holds each message as decoded text."""

    charset: str = "utf-8"
    answer: Answer = field(default_factory=always)
    port: int = field(default_factory=free_port)
    received: list[str] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    _server: socketserver.ThreadingTCPServer | None = None
    _open: set[socket.socket] = field(default_factory=set)

    def start(self) -> MllpMember:
        member = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(30)
                member._open.add(self.request)
                try:
                    for found in read_frames(self.request, 10_000_000):
                        if not found.complete:
                            return
                        text = found.data.decode(member.charset)
                        member.raw.append(found.data)
                        member.received.append(text)
                        reply = member.answer(text)
                        if reply is None:
                            continue
                        code, reason = reply
                        ack = "\r".join([
                            f"MSH|^~\\&|HIS|{field_of(text, 'MSH', 6)}|COUNTY-HUB|CTY01|20261127093000||ACK^R01^ACK|"
                            f"A{len(member.received)}|P|2.5",
                            f"MSA|{code}|{field_of(text, 'MSH', 10)}|{reason}"]) + "\r"
                        self.request.sendall(frame(ack.encode(member.charset)))
                except (TimeoutError, OSError):
                    return
                finally:
                    member._open.discard(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections, and open connections are cut."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._open):
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def control_ids(self) -> list[str]:
        return [field_of(m, "MSH", 10) for m in self.received]


@dataclass
class FhirMember:
    """A township's FHIR endpoint: `status(bundle)` says what to answer to each POST."""

    status: Callable[[dict], tuple[int, dict | None]] = lambda _bundle: (200, None)
    port: int = field(default_factory=free_port)
    received: list[dict] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def start(self) -> FhirMember:
        member = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                bundle = json.loads(body)
                member.received.append(bundle)
                member.headers.append(dict(self.headers.items()))
                code, answer = member.status(bundle)
                payload = json.dumps(answer or {"resourceType": "Bundle", "type": "transaction-response"}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
