"""MLLP framing: <VT> message <FS><CR>. Oversized frames are read to their end and reported, so the
connection stays usable and the sender still gets an answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

START, END, CR = b"\x0b", b"\x1c", b"\x0d"


@dataclass(frozen=True)
class Frame:
    data: bytes  # the message, or its first bytes when oversized
    oversized: bool = False
    size: int = 0


def frame(message: bytes) -> bytes:
    return START + message + END + CR


def read_frames(sock: socket.socket, max_bytes: int, chunk: int = 65536) -> Iterator[Frame]:
    """Yields frames until the peer closes the connection. Bytes outside frames are skipped."""
    buffer = bytearray()
    in_frame = False
    size = 0
    oversized = False
    while True:
        data = sock.recv(chunk)
        if not data:
            return
        for byte in memoryview(data):
            if not in_frame:
                if byte == 0x0B:
                    in_frame, size, oversized = True, 0, False
                    buffer.clear()
                continue
            if byte == 0x1C:
                in_frame = False
                yield Frame(bytes(buffer), oversized, size)
                buffer.clear()
                continue
            size += 1
            if size <= max_bytes:
                buffer.append(byte)
            else:
                oversized = True
                if len(buffer) > 4096:  # keep the head only: enough to read MSH and answer
                    del buffer[4096:]
