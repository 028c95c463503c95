"""MLLP framing, for the listener (connectors/mllp) and for outbound delivery: <VT> message <FS><CR>.

Every byte that arrives is accounted for: a complete frame is a message; an oversized frame is
read to its end and kept whole (up to a memory ceiling), so the sender still gets an answer and
the dead letter holds every byte; a frame cut short by a new start block, or by the peer closing,
is reported as truncated; bytes outside any frame (raw HL7 sent without MLLP) are reported as
unframed once the peer pauses, so the sender gets a refusal instead of silence.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

START, END, CR = b"\x0b", b"\x1c", b"\x0d"
# Bytes of one frame held in memory at most; beyond this only the head is kept (and the size told).
KEEP_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Frame:
    data: bytes  # the message as received (its first KEEP_BYTES when larger)
    oversized: bool = False  # over the listener's message limit
    size: int = 0  # bytes received, kept or not
    truncated: bool = False  # cut short: a new start block, or the connection closed, before its end block
    unframed: bool = False  # bytes outside any frame: the sender does not speak MLLP

    @property
    def complete(self) -> bool:
        return not self.truncated and not self.unframed


def frame(message: bytes) -> bytes:
    return START + message + END + CR


def read_frames(sock: socket.socket, max_bytes: int, chunk: int = 65536, settle_s: float = 0.5,
                keep_bytes: int = KEEP_BYTES) -> Iterator[Frame]:
    """Yields frames until the peer closes the connection (or stays idle past the socket's timeout)."""
    idle = sock.gettimeout()
    buffer = bytearray()
    stray = bytearray()
    in_frame = False
    size = 0

    def current(truncated: bool = False) -> Frame:
        return Frame(bytes(buffer), size > max_bytes, size, truncated=truncated)

    def unframed() -> Frame:
        found = Frame(bytes(stray), len(stray) > max_bytes, len(stray), unframed=True)
        stray.clear()
        return found

    while True:
        waiting_on_stray = not in_frame and bool(stray.strip())
        sock.settimeout(settle_s if waiting_on_stray else idle)
        try:
            data = sock.recv(chunk)
        except TimeoutError:
            if not waiting_on_stray:
                raise
            yield unframed()  # the sender paused after raw bytes: it waits for an answer that MLLP never gives
            continue
        if not data:
            if in_frame and size:
                yield current(truncated=True)
            if stray.strip():
                yield unframed()
            return
        view = memoryview(data)
        position = 0
        while position < len(view):
            if not in_frame:
                start = data.find(START, position)
                outside = view[position:] if start < 0 else view[position:start]
                if len(stray) < keep_bytes:
                    stray.extend(outside[: keep_bytes - len(stray)])
                if not stray.strip():
                    stray.clear()  # the CR after an end block, or blank lines between frames
                if start < 0:
                    break
                if stray:
                    yield unframed()
                in_frame, size = True, 0
                buffer.clear()
                position = start + 1
                continue
            # Inside a frame: up to the next end block or start block, whichever comes first.
            end = data.find(END, position)
            restart = data.find(START, position)
            stop = min(i for i in (end, restart, len(data)) if i >= 0)
            part = view[position:stop]
            if len(buffer) < keep_bytes:
                buffer.extend(part[: keep_bytes - len(buffer)])
            size += len(part)
            position = stop
            if stop == len(data):
                break
            if stop == restart:
                # A new start block inside a frame: the frame before it was cut short.
                if size:
                    yield current(truncated=True)
                size = 0
                buffer.clear()
                position = stop + 1
                continue
            in_frame = False
            yield current()
            buffer.clear()
            position = stop + 1
