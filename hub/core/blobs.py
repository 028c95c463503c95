"""The blob store: large binaries (DICOM files, ECG waveforms) kept out of events, by SHA-256.

Content-addressed: the same bytes are stored once, and a read checks the hash, so a corrupted file
is reported instead of served. Filesystem by default; the `BlobStore` protocol leaves room for an
object store.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hub.core.errors import PermanentError


class BlobError(PermanentError):
    """A blob is missing or its bytes no longer match their hash."""


@dataclass(frozen=True)
class BlobRef:
    uri: str  # blob:sha256/<hex>
    sha256: str
    size: int
    content_type: str


class BlobStore(Protocol):
    def put(self, data: bytes, content_type: str) -> BlobRef: ...

    def get(self, ref: BlobRef | str) -> bytes: ...


def _sha(ref: BlobRef | str) -> str:
    text = ref.sha256 if isinstance(ref, BlobRef) else ref
    text = text.removeprefix("blob:sha256/")
    if len(text) != 64 or not all(c in "0123456789abcdef" for c in text):
        raise BlobError(f"{ref!r} is not a blob reference (blob:sha256/<64 hex digits>)")
    return text


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, ref: BlobRef | str) -> Path:
        sha = _sha(ref)
        return self.root / sha[:2] / sha

    def put(self, data: bytes, content_type: str) -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write, sync, rename: a crash never leaves a half-written blob under its final name.
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp.name, target)
        return BlobRef(f"blob:sha256/{sha}", sha, len(data), content_type)

    def get(self, ref: BlobRef | str) -> bytes:
        path = self.path(ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {_sha(ref)} is not in the store at {self.root}") from None
        if hashlib.sha256(data).hexdigest() != _sha(ref):
            raise BlobError(f"blob {_sha(ref)} is corrupted: its bytes no longer match their SHA-256")
        return data
