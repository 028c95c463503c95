"""The HL7 v2 MLLP listener (`kind: mllp`).

Each message is answered after its events are durably in the outbox: AA when accepted (a resent
message, same MSH-10 and MSH-7 from the same sender, is answered AA and not published twice), AE or AR with
the reason in MSA-3 and ERR otherwise. An AA names each malformed optional field it left out in an ERR
of severity W. A bad message never closes the connection without an ACK,
and every rejected message is kept as a dead letter, so accepted + rejected = received.

A connection speaks only for the members whose `allow_from` networks hold its source address
(loopback unless configured): MSH-4 names a member, the address proves it, so a message naming a
member the connection may not speak for is answered AR and kept as a dead letter.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import socket
import socketserver
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from connectors.mllp import ack as acks
from connectors.mllp import er7
from connectors.mllp.charset import CharsetError, RawHeader, check_garbled, codec_for, decode, read_header
from connectors.mllp.mapping import SUPPORTED, MappingError, MessageContext, map_message
from connectors.mllp.quality import FieldIssue
from hub.core.connector import Connector
from hub.core.errors import PermanentError
from hub.core.events import PollResult, Rejected
from hub.core.mllp_framing import Frame, frame, read_frames
from hub.core.pipeline import Sink

log = logging.getLogger(__name__)
VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
LOOPBACK = ["127.0.0.0/8", "::1/128"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(values: list[str]) -> list[Network]:
    try:
        return [ipaddress.ip_network(v, strict=False) for v in values]
    except ValueError as exc:
        raise ValueError(f"allow_from: {exc} (give addresses or networks such as 10.1.3.0/24)") from None


class Sender(BaseModel):
    facility_id: str = Field(description="The member facility this sender speaks for.")
    charset: str | None = Field(None, description="Default character set when MSH-18 is empty, e.g. GB18030.")
    allow_from: list[Network] = Field(default_factory=lambda: _networks(LOOPBACK),
                                      description="Source addresses or networks this member connects from.")

    _parse = field_validator("allow_from", mode="before")(lambda values: _networks([str(v) for v in values]))


class MllpOptions(BaseModel):
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int | None = Field(None, description="Port; default HUB_MLLP_PORT.")
    default_charset: str = Field("UTF-8", description="Character set when MSH-18 and the sender table say nothing.")
    senders: dict[str, Sender] = Field(default_factory=dict, description="MSH-4 (sending facility) -> member.")
    accept_unknown_senders: bool = Field(False, description="Accept senders not in the table as this facility.")
    idle_timeout_s: float = Field(300, description="Close connections idle this long.")
    allow_from: list[Network] = Field(default_factory=lambda: _networks(LOOPBACK),
                                      description="Source networks of this connector's own facility (unknown senders).")

    _parse = field_validator("allow_from", mode="before")(lambda values: _networks([str(v) for v in values]))


class MllpConnector(Connector):
    kind = "mllp"
    Options = MllpOptions

    def __init__(self, config: Any, settings: Any) -> None:
        super().__init__(config, settings)
        self.opts: MllpOptions = self.options  # type: ignore[assignment]
        self.server: socketserver.ThreadingTCPServer | None = None
        self.ready = threading.Event()

    def facilities(self) -> set[str]:
        return {self.config.facility_id, *(s.facility_id for s in self.opts.senders.values())}

    @property
    def port(self) -> int:
        if self.server is not None:
            return int(self.server.server_address[1])
        return self.opts.port or self.settings.mllp_port

    # Serving --------------------------------------------------------------------------------------

    def serve(self, stop: threading.Event, sink: Sink) -> None:
        connector = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                connector._connection(self.request, sink, stop)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((self.opts.host, self.opts.port or self.settings.mllp_port),
                                                      Handler)
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                  name=f"mllp-{self.config.name}", daemon=True)
        thread.start()
        self.ready.set()
        log.info("MLLP listener %s on %s:%d", self.config.name, self.opts.host, self.port)
        stop.wait()
        self.server.shutdown()
        self.server.server_close()

    def _connection(self, sock: socket.socket, sink: Sink, stop: threading.Event) -> None:
        sock.settimeout(self.opts.idle_timeout_s)
        peer = _peer(sock)  # host:port, for logs and dead letters
        address = _address(sock)  # host, for the sender allow-list
        try:
            for received in read_frames(sock, self.settings.max_event_bytes):
                if received.truncated:
                    # No ACK: the sender's next answer belongs to the complete message that follows.
                    self._dead_letter_fragment(received, sink, peer)
                    continue
                answer = self.handle(received, sink, address)
                sock.sendall(frame(answer))
                if received.unframed:
                    log.warning("MLLP %s: %d bytes without MLLP framing from %s: refused (AR) and connection closed",
                                self.config.name, received.size, peer)
                    break
                if stop.is_set():
                    break
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.debug("MLLP connection closed: %s", exc)

    def _dead_letter_fragment(self, received: Frame, sink: Sink, peer: str) -> None:
        reason = (f"frame cut short after {received.size} bytes from {peer}: a new start block (0x0B) or the end of "
                  "the connection came before its end block (0x1C); nothing of it was stored, the sender must resend it")
        log.warning("MLLP %s: %s", self.config.name, reason)
        fields: dict[int, str] = {}
        try:
            header = read_header(received.data)
            fields = {n: header.get(n) for n in (3, 4, 9, 10, 12, 18)}
        except CharsetError:
            pass
        self._reject(sink, received.data, fields, "utf-8", "AR", reason, acks.SEGMENT_SEQUENCE, None, "frame")

    # One message ----------------------------------------------------------------------------------

    def handle(self, received: Frame, sink: Sink, peer: str | None = None) -> bytes:
        """Processes one message from address `peer` and returns the ACK bytes (in the message's
        character set). `peer` None is the hub itself (dry runs, dead-letter replays)."""
        raw = received.data
        fields: dict[int, str] = {}
        codec = "utf-8"
        try:
            if received.unframed:
                with contextlib.suppress(CharsetError):
                    fields = {n: read_header(raw).get(n) for n in (3, 4, 9, 10, 12, 18)}
                raise _Reject("AR", "the message is not MLLP-framed: send each message as <VT> (0x0B) message "
                                    "<FS><CR> (0x1C 0x0D); this connection is closed", acks.SEGMENT_SEQUENCE, None)
            header = read_header(raw)
            fields = {n: header.get(n) for n in (3, 4, 9, 10, 12, 18)}
            facility, default = self._sender(header, peer)
            codec = codec_for(header.get(18), default)
            if received.oversized:
                raise _Reject("AR", f"message of {received.size} bytes is over the {self.settings.max_event_bytes}-byte "
                                    "limit; send large documents by reference", "100", "MSH")
            text = decode(raw, codec)
            check_garbled(text)
            result, issues = self._map(text, header, facility)
        except CharsetError as exc:
            kind = "AR" if exc.code in ("100", "203") else "AE"
            return self._reject(sink, raw, fields, codec, kind, str(exc), exc.code, exc.location, "parse")
        except _Reject as exc:
            stage = "frame" if received.unframed else "parse"
            return self._reject(sink, raw, fields, codec, exc.kind, str(exc), exc.code, exc.location, stage)
        except MappingError as exc:
            return self._reject(sink, raw, fields, codec, "AE", str(exc), exc.code, exc.location, "map")
        report = sink.accept(result)
        failed = [o for o in report.outcomes if not o.accepted]
        if failed:
            # The whole message was dead-lettered event by event; tell the sender why.
            return self._answer(acks.Ack("AE", failed[0].reason or "rejected", acks.DATA_TYPE), fields, codec)
        text = "duplicate of a message already accepted" if report.duplicates == len(report.outcomes) else ""
        # Optional fields left out: accepted, each one named in an ERR of severity W.
        return self._answer(acks.Ack("AA", text, warnings=tuple(issues)), fields, codec)

    def _sender(self, header: RawHeader, peer: str | None = None) -> tuple[str, str]:
        name = header.component(4)
        sender = self.opts.senders.get(name)
        if sender is not None:
            self._check_peer(peer, sender.allow_from, name, sender.facility_id)
            return sender.facility_id, sender.charset or self.opts.default_charset
        if self.opts.accept_unknown_senders or not self.opts.senders:
            self._check_peer(peer, self.opts.allow_from, name, self.config.facility_id)
            return self.config.facility_id, self.opts.default_charset
        raise _Reject("AR", f"sending facility {name!r} (MSH-4) is not in this listener's sender table", "207", "MSH-4")

    @staticmethod
    def _check_peer(peer: str | None, allowed: list[Network], name: str, facility: str) -> None:
        if peer is None:
            return
        try:
            address = ipaddress.ip_address(peer.split("%")[0])
        except ValueError:
            address = None
        if address is not None and isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address is None or not any(address in network for network in allowed):
            raise _Reject("AR", f"this connection (from {peer}) may not send for member {facility} (MSH-4 {name!r}); "
                                f"add its address to that sender's allow_from", "207", "MSH-4")

    def _map(self, text: str, header: RawHeader, facility: str) -> tuple[PollResult, list[FieldIssue]]:
        message_type = header.get(9)
        kind, trigger = header.component(9), header.component(9, 1)  # in the sender's own separators
        if (kind, trigger) not in SUPPORTED:
            raise _Reject("AR", f"unsupported message type {message_type!r}; supported: "
                                f"{', '.join(f'{k}^{t}' for k, t in sorted(SUPPORTED))}", acks.UNSUPPORTED_TYPE, "MSH-9")
        version = header.component(12)
        if version not in VERSIONS:
            raise _Reject("AR", f"HL7 version {version!r} is not supported (2.3 to 2.5)", acks.UNSUPPORTED_VERSION, "MSH-12")
        if not header.get(10):
            raise _Reject("AR", "MSH-10 (message control id) is empty", acks.REQUIRED_MISSING, "MSH-10")
        try:
            message = er7.parse(text)  # segments end in CR, LF or CR LF: senders differ
        except er7.ParseError as exc:
            raise _Reject("AE", f"the message cannot be parsed: {exc}", acks.SEGMENT_SEQUENCE, None) from None
        ctx = MessageContext(facility, f"{header.component(3)}|{header.component(4)}", header.get(10), message,
                             sent_at=header.get(7))
        events = map_message(ctx, kind, trigger, datetime.now(UTC))
        return PollResult(events=events, notes=[f"{i.location}: {i.text}" for i in ctx.issues]), ctx.issues

    def _reject(self, sink: Sink, raw: bytes, fields: dict[int, str], codec: str, kind: str, reason: str,
                code: str | None, location: str | None, stage: str) -> bytes:
        payload = raw.decode(codec if codec else "utf-8", "backslashreplace")
        position = f"{fields.get(3, '')}|{fields.get(4, '')}|{fields.get(10, '')}"
        fingerprint = hashlib.sha256(raw).hexdigest()
        sink.accept(PollResult(rejected=[Rejected(f"{kind}: {reason}", stage, payload, position, None, fingerprint)]))
        return self._answer(acks.Ack(kind, reason, code, location), fields, codec)

    def _answer(self, answer: acks.Ack, fields: dict[int, str], codec: str) -> bytes:
        return acks.build_ack(answer, fields).encode(codec, "replace")

    # Dry runs and re-mapping ----------------------------------------------------------------------

    def check(self, sample: Path | None) -> PollResult:
        if sample is None:
            raise ValueError("an MLLP listener has no source to read: give --sample FILE with HL7 messages")
        data = sample.read_bytes()
        chunks = [c for c in data.replace(b"\x0b", b"").split(b"\x1c") if c.strip()] if b"\x1c" in data else \
            [c for c in data.replace(b"\r\n", b"\n").split(b"\n\n") if c.strip()]
        result = PollResult()
        for chunk in chunks:
            raw = chunk.strip().replace(b"\n", b"\r")
            try:
                header = read_header(raw)
                facility, default = self._sender(header)
                text = decode(raw, codec_for(header.get(18), default))
                check_garbled(text)
                mapped, _ = self._map(text, header, facility)
                result.events.extend(mapped.events)
                result.notes.extend(mapped.notes)
            except (CharsetError, _Reject, MappingError) as exc:
                result.rejected.append(Rejected(str(exc), "parse", raw.decode("utf-8", "backslashreplace"),
                                                getattr(exc, "location", None) or "?"))
        return result

    def reprocess(self, payload: str, position: str) -> PollResult:
        raw = payload.encode("utf-8")
        header = read_header(raw)
        facility, _ = self._sender(header)
        return self._map(payload, header, facility)[0]


def _address(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return ""  # gone already: the allow-list refuses an address it cannot place (None is the hub itself)


def _peer(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "?"


class _Reject(PermanentError):
    def __init__(self, kind: str, message: str, code: str | None, location: str | None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.location = location
