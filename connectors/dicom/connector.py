"""The DICOM inbox (`kind: dicom`): files dropped into a folder become remote-read requests.

A file is taken once its size has stopped changing (devices write slowly, shares more slowly);
names starting with a dot or ending in .part/.tmp are still being written and are left alone.
Ingested files move to `done/`; files that cannot be read move to the quarantine folder with a
`.reason.txt` beside them, and a dead letter says why. watchdog wakes the scan; a periodic rescan
catches what a network share's events miss.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from connectors.dicom.ingest import ingest_dicom
from hub.core.blobs import FileBlobStore
from hub.core.connector import ANY_FACILITY, Connector
from hub.core.events import PollResult
from hub.core.pipeline import Sink

log = logging.getLogger(__name__)
SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".reason.txt")


class DicomOptions(BaseModel):
    inbox: str | None = Field(None, description="Folder to watch; default HUB_DICOM_INBOX.")
    after: Literal["move", "delete"] = Field("move", description="What to do with an ingested file.")
    priority: Literal["routine", "urgent", "asap", "stat"] = Field("routine", description="Default read priority.")
    rescan_s: float = Field(2.0, gt=0, description="Rescan period (network shares miss file events).")
    settle_s: float = Field(1.0, ge=0, description="A file must keep its size this long before it is read.")


class _Wake(FileSystemEventHandler):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.event.set()


class DicomInboxConnector(Connector):
    kind = "dicom"
    Options = DicomOptions

    def __init__(self, config: Any, settings: Any) -> None:
        super().__init__(config, settings)
        self.opts: DicomOptions = self.options  # type: ignore[assignment]
        self.inbox = Path(self.opts.inbox) if self.opts.inbox else settings.inbox
        self.blobs = FileBlobStore(settings.data_dir / "blobs")
        self.quarantine = settings.data_dir / "quarantine" / config.name
        self._sizes: dict[Path, tuple[int, float]] = {}

    def facilities(self) -> set[str]:
        return ANY_FACILITY  # STOW-RS posts for the facility of the caller's token

    def serve(self, stop: threading.Event, sink: Sink) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        wake = threading.Event()
        observer = Observer()
        observer.schedule(_Wake(wake), str(self.inbox), recursive=False)
        observer.start()
        try:
            while not stop.is_set():
                self.scan(sink)
                wake.wait(self.opts.rescan_s if not self._sizes else min(self.opts.rescan_s, self.opts.settle_s))
                wake.clear()
        finally:
            observer.stop()
            observer.join(5)

    def scan(self, sink: Sink) -> int:
        """Ingests every settled file; returns how many were handled."""
        handled = 0
        now = time.monotonic()
        present = set()
        for path in sorted(p for p in self.inbox.iterdir() if p.is_file()):
            if path.name.startswith(".") or path.name.endswith(SKIP_SUFFIXES):
                continue
            present.add(path)
            size = path.stat().st_size
            seen = self._sizes.get(path)
            if seen is None or seen[0] != size:
                self._sizes[path] = (size, now)
                if self.opts.settle_s > 0:
                    continue
            elif now - seen[1] < self.opts.settle_s:
                continue
            self._ingest(path, sink)
            self._sizes.pop(path, None)
            handled += 1
        for gone in set(self._sizes) - present:
            self._sizes.pop(gone, None)
        return handled

    def _ingest(self, path: Path, sink: Sink) -> None:
        result = ingest_dicom(path.read_bytes(), path.name, self.config.facility_id, self.blobs, self.opts.priority)
        report = sink.accept(result)
        if report.rejected:
            self.quarantine.mkdir(parents=True, exist_ok=True)
            target = self.quarantine / path.name
            shutil.move(str(path), target)
            reasons = [o.reason or "" for o in report.outcomes if not o.accepted]
            target.with_name(target.name + ".reason.txt").write_text("\n".join(reasons) + "\n", encoding="utf-8")
            log.warning("DICOM inbox %s: quarantined %s: %s", self.config.name, path.name, reasons[0])
        elif self.opts.after == "delete":
            path.unlink()
        else:
            done = self.inbox / "done"
            done.mkdir(exist_ok=True)
            shutil.move(str(path), done / path.name)

    def check(self, sample: Path | None) -> PollResult:
        if sample is None:
            raise ValueError("give --sample FILE with a DICOM file")
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:  # a dry run writes no blobs where they would stay
            return ingest_dicom(sample.read_bytes(), sample.name, self.config.facility_id, FileBlobStore(Path(tmp)),
                                self.opts.priority)

    def reprocess(self, payload: str, position: str) -> PollResult:
        path = self.quarantine / position
        if not path.exists():
            raise NotImplementedError(f"the quarantined file {path} is gone")
        return ingest_dicom(path.read_bytes(), path.name, self.config.facility_id, self.blobs, self.opts.priority)
