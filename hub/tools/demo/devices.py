"""The simulated county's devices: township and village ECG carts and the DR/CT machines, sending
synthetic but realistic DICOM through the doors members use.

An ECG order written into a member's HIS (by the county simulator) is recorded by that member's
cart a little later: township and village carts post it to the hub's STOW-RS with their member's
connector token (village carts record eight leads, I, II, V1–V6, as many do); the county hospital's
own cart drops it into the hub's DICOM inbox. DR and CT machines at the county hospital and the
township centres send small images now and then, some marked urgent (急诊). A few recordings are
flawed as real ones are (an electrode off, a cut-short strip) so readers see validation problems.
"""

from __future__ import annotations

import io
import logging
import math
import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from hub.tools.demo.county import County
from hub.tools.demo.ecgs import EcgSpec, Subject, ecg_dataset, simulate
from hub.tools.demo.people import person

log = logging.getLogger(__name__)
CST = ZoneInfo("Asia/Shanghai")
CT_IMAGE = UID("1.2.840.10008.5.1.4.1.1.2")
DX_IMAGE = UID("1.2.840.10008.5.1.4.1.1.1.1")
EIGHT_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


@dataclass(frozen=True)
class EcgOrder:
    """An ECG ordered in a member's HIS, waiting for its cart."""

    facility_id: str
    patient_id: str  # the member's local patient number (DICOM PatientID)
    person: int  # the simulated resident
    order_id: int
    priority: str  # routine | urgent | asap | stat
    reason: str
    ordered_at: float  # time.monotonic()


def random_spec(rng: random.Random) -> EcgSpec:
    """A plausible adult resting ECG; about one in eight has a long PR, a wide QRS or a long QT."""
    rate = rng.uniform(52, 105)
    rr = 60 / rate
    qtc = rng.uniform(380, 450) if rng.random() > 0.06 else rng.uniform(470, 500)
    return EcgSpec(
        heart_rate=rate,
        pr_ms=rng.uniform(130, 190) if rng.random() > 0.05 else rng.uniform(215, 260),
        p_ms=rng.uniform(85, 110),
        qrs_ms=rng.uniform(80, 105) if rng.random() > 0.05 else rng.uniform(125, 150),
        qt_ms=qtc * math.sqrt(rr),
        p_axis=rng.uniform(30, 70),
        qrs_axis=rng.uniform(-30, 90),
        t_axis=rng.uniform(10, 60),
        qrs_mv=rng.uniform(1.0, 1.8),
        sampling_rate=rng.choice((500, 500, 500, 1000)),
        seed=rng.randrange(1 << 30),
    )


def _subject(seed: int, index: int, patient_id: str) -> Subject:
    someone = person(seed, index)
    return Subject(patient_id, f"{someone.name[:1]}^{someone.name[1:]}", "M" if someone.sex == "male" else "F",
                   someone.birth_date.strftime("%Y%m%d"))


def ecg_for(order: EcgOrder, seed: int, rng: random.Random, village: bool) -> Dataset:
    spec = random_spec(rng)
    leads = simulate(spec)
    if village:
        leads = {name: leads[name] for name in EIGHT_LEADS}
    flaw = rng.random()
    if flaw < 0.03:
        leads = {name: (np.zeros_like(v) + 3 if name == "V3" else v) for name, v in leads.items()}  # electrode off
    elif flaw < 0.05:
        cut = int(spec.sampling_rate * 4.5)  # the cart was stopped early
        leads = {name: v[:cut] for name, v in leads.items()}
    urgent = order.priority in ("stat", "asap")
    description = ("急诊" if urgent else "") + f"十二导联心电图（{order.reason}）"
    ds = ecg_dataset(spec, _subject(seed, order.person, order.patient_id), datetime.now(CST), description,
                     leads=leads)
    # The cart takes the order number from its HIS worklist, as DICOM modality worklists do: the hub
    # matches the study to the member's order by it.
    ds.AccessionNumber = str(order.order_id)[:16]
    ds.RequestedProcedureDescription = description
    return ds


def image(kind: str, subject: Subject, when: datetime, urgent: bool, rng: random.Random) -> Dataset:
    """A small CT slice (128×128) or chest DR (256×256): shapes of a body, not a real patient."""
    size = 128 if kind == "CT" else 256
    y, x = np.mgrid[-1:1:complex(size), -1:1:complex(size)]
    body = (x / 0.85) ** 2 + (y / 0.65) ** 2 < 1
    lungs = (((x - 0.38) / 0.28) ** 2 + (y / 0.45) ** 2 < 1) | (((x + 0.38) / 0.28) ** 2 + (y / 0.45) ** 2 < 1)
    spine = (x / 0.08) ** 2 + ((y - 0.45) / 0.12) ** 2 < 1
    if kind == "CT":
        pixels = np.where(body, 40, -1000) + np.where(lungs, -820, 0) + np.where(spine, 700, 0)
        pixels = (pixels + 1024 + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 12, (size, size))).astype(np.uint16)
    else:
        pixels = np.where(body, 2600, 300) - np.where(lungs, 1500, 0) + np.where(spine, 900, 0)
        pixels = np.clip(pixels + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 40, (size, size)), 0, 4095).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE if kind == "CT" else DX_IMAGE
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = kind if kind == "CT" else "DX"
    ds.StudyDate, ds.StudyTime = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    ds.StudyDescription = ("急诊" if urgent else "") + ("胸部CT平扫" if kind == "CT" else "胸部正位片")
    ds.PatientID, ds.PatientName = subject.patient_id, "=" + subject.name
    ds.PatientSex, ds.PatientBirthDate = subject.sex, subject.birth_date
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12 if kind != "CT" else 16, 11 if kind != "CT" else 15, 0
    ds.PixelSpacing = [0.7, 0.7] if kind == "CT" else [1.4, 1.4]
    if kind == "CT":
        ds.RescaleIntercept, ds.RescaleSlope, ds.SliceThickness = -1024, 1, 5
        ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = pixels.tobytes()
    return ds


def _bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


class DeviceFleet:
    """Records ordered ECGs and sends images, at about `rate` studies per second across the county."""

    def __init__(self, county: County, orders: deque[EcgOrder], registered: dict[str, list[tuple[str, int]]],
                 tokens: dict[str, str], base_url: str, inbox: Path, rate: float, seed: int,
                 cart_delay_s: float = 20.0, mllp: tuple[str, int] | None = None) -> None:
        self.county, self.orders, self.registered = county, orders, registered
        self.tokens, self.base_url, self.inbox = tokens, base_url.rstrip("/"), inbox
        self.rate, self.seed, self.cart_delay_s = rate, seed, cart_delay_s
        self.rng = random.Random(seed ^ int(time.time()))
        self.sent = 0
        self.mllp = mllp  # the hub's HL7 listener: members' RIS order their DR/CT there first
        self._imaging_orders = 0
        self._client = httpx.Client(timeout=10)  # a hub that is stopping must not hold the devices long

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            stop.wait(self.rng.expovariate(self.rate) if self.rate > 0 else 60)
            if stop.is_set():
                break
            try:
                self.step()
            except httpx.HTTPError as exc:  # the hub is still starting, or busy: the next study tries again
                log.info("demo devices: a study could not be sent (%s)", exc)
            except Exception:  # noqa: BLE001 - a demo hiccup must not stop the devices
                log.exception("demo devices: a study could not be made")
        self._client.close()

    def step(self) -> str | None:
        """Sends one study: the oldest ECG order whose cart has had time, else sometimes an image."""
        if self.orders and time.monotonic() - self.orders[0].ordered_at >= self.cart_delay_s:
            order = self.orders.popleft()
            level = self.county.facility(order.facility_id).kind
            ds = ecg_for(order, self.seed, self.rng, village=level == "village")
            self._send(order.facility_id, level, ds)
            return "ECG"
        imaging = [f for f in self.county.facilities if f.kind in ("county", "township") and self.registered[f.id]]
        if imaging and self.rng.random() < 0.5:
            facility = self.rng.choice(imaging)
            patient_id, index = self.rng.choice(self.registered[facility.id])
            modality = "CT" if facility.kind == "county" and self.rng.random() < 0.5 else "DR"
            priority = self.rng.choices(["routine", "urgent", "asap", "stat"], [70, 15, 5, 10])[0]
            subject = _subject(self.seed, index, patient_id)
            ds = image(modality, subject, datetime.now(CST), priority == "stat", self.rng)
            accession = self._order(facility.id, subject, modality, priority)
            if accession:
                ds.AccessionNumber = accession
            self._send(facility.id, facility.kind, ds)
            return modality
        return None

    def _order(self, facility_id: str, subject: Subject, modality: str, priority: str) -> str | None:
        """The member's RIS orders the study over HL7 (ORM^O01) before the machine sends it; the
        machine takes the placer order number as its accession number, as modality worklists do."""
        if self.mllp is None:
            return None
        self._imaging_orders += 1
        number = f"R{int(time.time()) % 100000:05d}{self._imaging_orders:04d}"
        service = "CT^胸部CT平扫" if modality == "CT" else "DX^胸部正位片"
        flag = {"routine": "R", "urgent": "R", "asap": "A", "stat": "S"}[priority]
        now = datetime.now(CST).strftime("%Y%m%d%H%M%S")
        message = "\r".join([
            f"MSH|^~\\&|RIS|{facility_id.upper()}|HUB|COUNTY|{now}||ORM^O01|{number}|P|2.5|||||CHN|UNICODE UTF-8",
            f"PID|1||{subject.patient_id}^^^{facility_id.upper()}^MR||{subject.name}||{subject.birth_date}|{subject.sex}",
            f"ORC|NW|{number}|||||^^^^^{flag}||{now}",
            f"OBR|1|{number}||{service}|||{now}" + "|" * 20 + f"^^^^^{flag}",
        ]) + "\r"
        try:
            with socket.create_connection(self.mllp, timeout=10) as conn:
                conn.sendall(b"\x0b" + message.encode() + b"\x1c\r")
                answer = conn.recv(4096).decode(errors="replace")
        except OSError as exc:
            log.info("demo devices: the RIS order could not be sent (%s)", exc)
            return None
        if "MSA|AA" not in answer:
            log.info("demo devices: the hub did not accept the RIS order %s: %s", number, answer.strip()[-200:])
            return None
        return number

    def _send(self, facility_id: str, level: str, ds: Dataset) -> None:
        data = _bytes(ds)
        if level == "county":  # the county hospital's own devices write to the hub's inbox
            self.inbox.mkdir(parents=True, exist_ok=True)
            partial = self.inbox / f".{ds.SOPInstanceUID}.part"
            partial.write_bytes(data)
            partial.rename(self.inbox / f"{ds.SOPInstanceUID}.dcm")
        else:
            token = self.tokens.get(f"connector:{facility_id}")
            if token is None:
                return
            answer = self._client.post(f"{self.base_url}/dicomweb/studies", content=data, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/dicom",
                "Accept": "application/dicom+json"})
            if answer.status_code >= 300:
                log.info("demo devices: STOW-RS answered %s for %s", answer.status_code, facility_id)
                return
        self.sent += 1
