"""The demo members' own HL7 listeners: where the hub delivers readers' reports and critical-value
notices (ORU^R01 over MLLP), so `make run` shows results going back and being acknowledged.

Each member's simulated HIS listens on a free local port in its own character set (vendor A's
systems speak GB18030, vendor B's UTF-8) and answers every complete message with an AA that names
its MSH-10, as a real township HIS would. What arrived is counted per member and kept (last few).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from hub.core.mllp_framing import frame, read_frames
from hub.tools.demo.county import Facility

log = logging.getLogger(__name__)

CHARSETS = {"vendor_a": "GB18030", "vendor_b": "UTF-8"}
CODECS = {"GB18030": "gb18030", "UTF-8": "utf-8"}
MAX_MESSAGE_BYTES = 1_000_000


@dataclass(frozen=True)
class Listener:
    facility_id: str
    port: int
    charset: str

    def deliver_to(self) -> dict[str, object]:
        """This listener as a `deliver_to` entry of the member's connector configuration."""
        return {"kind": "mllp", "host": "127.0.0.1", "port": self.port, "charset": self.charset, "timeout_s": 10}


class MemberListeners:
    """One listening socket per member, served by one thread each (26 small threads in the demo)."""

    def __init__(self, facilities: Iterable[Facility], host: str = "127.0.0.1") -> None:
        self.received: Counter[str] = Counter()
        self.recent: deque[tuple[str, str]] = deque(maxlen=20)  # (facility, first line of OBR/OBX)
        self._sockets: dict[str, socket.socket] = {}
        self.listeners: dict[str, Listener] = {}
        for facility in facilities:
            server = socket.create_server((host, 0))
            server.settimeout(0.5)
            self._sockets[facility.id] = server
            self.listeners[facility.id] = Listener(facility.id, server.getsockname()[1], CHARSETS[facility.vendor])

    def deliver_to(self) -> dict[str, list[dict[str, object]]]:
        return {fid: [listener.deliver_to()] for fid, listener in self.listeners.items()}

    def run(self, stop: threading.Event) -> None:
        threads = [threading.Thread(target=self._accept, args=(fid, stop), name=f"demo-his-{fid}", daemon=True)
                   for fid in self._sockets]
        for thread in threads:
            thread.start()
        stop.wait()
        for thread in threads:
            thread.join(2)
        for server in self._sockets.values():
            server.close()

    def _accept(self, facility_id: str, stop: threading.Event) -> None:
        server = self._sockets[facility_id]
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(30)
                try:
                    self._serve(facility_id, conn)
                except (OSError, TimeoutError):
                    continue  # the hub closes idle connections; it reconnects for the next message

    def _serve(self, facility_id: str, conn: socket.socket) -> None:
        codec = CODECS[self.listeners[facility_id].charset]
        for received in read_frames(conn, MAX_MESSAGE_BYTES):
            if not received.complete:
                continue
            text = received.data.decode(codec, errors="replace")
            segments = [s.split("|") for s in text.replace("\n", "\r").split("\r") if s]
            msh = next((s for s in segments if s[0] == "MSH"), None)
            if msh is None or len(msh) < 10:
                conn.sendall(frame(_ack("AR", "", "no MSH segment").encode(codec)))
                continue
            control_id = msh[9]
            self.received[facility_id] += 1
            obr = next((s for s in segments if s[0] == "OBR"), None)
            self.recent.append((facility_id, obr[4] if obr and len(obr) > 4 else msh[8]))
            log.debug("demo HIS %s received %s %s", facility_id, msh[8], control_id)
            conn.sendall(frame(_ack("AA", control_id).encode(codec)))


def _ack(code: str, control_id: str, text: str = "") -> str:
    return f"MSH|^~\\&|HIS|DEMO|COUNTY-HUB|HUB|||ACK^R01|ACK-{control_id}|P|2.5\rMSA|{code}|{control_id}|{text}\r"
