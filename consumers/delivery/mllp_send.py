"""Sending one HL7 v2 message over MLLP and waiting for its ACK, on a connection kept per destination."""

from __future__ import annotations

import socket
from collections.abc import Iterator

from consumers.delivery.hl7_oru import CODECS
from consumers.delivery.transport import Outcome
from hub.core.destinations import MllpDestination
from hub.core.mllp_framing import Frame, frame, read_frames

ANSWER_LIMIT = 2000
ACK_LIMIT = 1024 * 1024  # an ACK is a few hundred bytes; anything this large is not one


class MllpTransport:
    def __init__(self, destination: MllpDestination) -> None:
        self.destination = destination
        self.codec = CODECS[destination.charset]
        self._sock: socket.socket | None = None
        self._frames: Iterator[Frame] | None = None

    def send(self, message_id: str, body: bytes) -> Outcome:
        reused = self._sock is not None
        outcome = self._attempt(message_id, body)
        if reused and outcome.kind == "connect":
            # The member closed the idle connection since the last message (listeners do): say it once
            # more on a new one before counting a failure.
            outcome = self._attempt(message_id, body)
        return outcome

    def _attempt(self, message_id: str, body: bytes) -> Outcome:
        d = self.destination
        if self._sock is None:
            try:
                self._sock = socket.create_connection((d.host, d.port), timeout=d.timeout_s)
            except OSError as exc:
                return Outcome("down", f"cannot connect to {d.host}:{d.port}: {_why(exc)}", kind="connect")
            self._frames = read_frames(self._sock, ACK_LIMIT)
        assert self._frames is not None
        try:
            self._sock.sendall(frame(body))
            answer = next(self._frames, None)
        except TimeoutError:
            self.close()  # a late ACK on this connection would answer the next message
            return Outcome("retry", f"no ACK from {d.host}:{d.port} within {d.timeout_s:g} s", kind="timeout")
        except OSError as exc:
            self.close()
            return Outcome("retry", f"the connection to {d.host}:{d.port} failed: {_why(exc)}", kind="connect")
        if answer is None:
            self.close()
            return Outcome("retry", f"{d.host}:{d.port} closed the connection without an ACK", kind="connect")
        if not answer.complete:
            self.close()
            return Outcome("retry", f"{d.host}:{d.port} answered with something that is not one MLLP frame",
                           kind="protocol")
        return self._verdict(message_id, answer.data)

    def _verdict(self, message_id: str, data: bytes) -> Outcome:
        text = data.decode(self.codec, "replace")
        shown = text.replace("\r", "\n").strip()[:ANSWER_LIMIT]
        segments = {s.split("|", 1)[0]: s.split("|") for s in reversed(text.replace("\n", "\r").split("\r")) if s}
        msa = segments.get("MSA")
        if msa is None or len(msa) < 2:
            self.close()
            return Outcome("retry", "the answer is not an HL7 ACK (no MSA segment)", shown, "protocol")
        code, control_id = msa[1].strip().upper(), (msa[2].strip() if len(msa) > 2 else "")
        if control_id != message_id:
            self.close()  # out of step with this connection: start a new one
            return Outcome("retry", f"the ACK answers message {control_id!r}, not {message_id!r}", shown, "protocol")
        if code in ("AA", "CA"):
            return Outcome("acknowledged", answer=shown)
        if code in ("AE", "AR", "CE", "CR"):
            return Outcome("refused", f"{code}: {_reason(msa, segments.get('ERR'))}", shown)
        self.close()
        return Outcome("retry", f"MSA-1 {code!r} is not an acknowledgement code", shown, "protocol")

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock, self._frames = None, None


def _reason(msa: list[str], err: list[str] | None) -> str:
    """MSA-3 (text message), else ERR-8 (user message) or ERR-3 (error code), with HL7 escapes undone."""
    candidates = [msa[3] if len(msa) > 3 else ""]
    if err:
        candidates += [err[8] if len(err) > 8 else "", err[3] if len(err) > 3 else ""]
    text = next((c for c in candidates if c.strip()), "no reason given")
    return (text.replace("\\F\\", "|").replace("\\S\\", "^").replace("\\T\\", "&").replace("\\R\\", "~")
            .replace("\\E\\", "\\"))[:ANSWER_LIMIT]


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__ if not isinstance(exc, TimeoutError) else "timed out"
