"""DICOM test files made with pydicom: a 12-lead ECG waveform and a small CT image."""

from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ECG_CLASS = "1.2.840.10008.5.1.4.1.1.9.1.1"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _base(sop_class: str, modality: str, patient_id: str, name: str, charset: str, description: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.PatientID = patient_id
    ds.PatientName = name
    ds.PatientSex = "F"
    ds.PatientBirthDate = "19920610"
    ds.StudyDate = "20261123"
    ds.StudyTime = "083000"
    ds.StudyDescription = description
    ds.InstitutionName = "青山镇卫生院" if charset != "ISO_IR 100" else "Qingshan"
    return ds


def ecg_file(patient_id: str = "000123", name: str = "Wang^Xiuying=王^秀英", charset: str = "ISO_IR 192",
             description: str = "常规心电图", samples: int = 500) -> bytes:
    ds = _base(ECG_CLASS, "ECG", patient_id, name, charset, description)
    group = Dataset()
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(LEADS)
    group.NumberOfWaveformSamples = samples
    group.SamplingFrequency = 500
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    channels = []
    for lead in LEADS:
        channel = Dataset()
        source = Dataset()
        source.CodeValue, source.CodingSchemeDesignator, source.CodeMeaning = "5.6.3-9-1", "SCPECG", f"Lead {lead}"
        channel.ChannelSourceSequence = [source]
        channel.ChannelSensitivity = "1.0"
        units = Dataset()
        units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = "uV", "UCUM", "microvolt"
        channel.ChannelSensitivityUnitsSequence = [units]
        channel.ChannelSensitivityCorrectionFactor = "1.0"
        channel.ChannelBaseline = "0"
        channel.WaveformBitsStored = 16
        channels.append(channel)
    group.ChannelDefinitionSequence = channels
    t = np.arange(samples) / 500
    data = np.stack([(np.sin(2 * np.pi * 1.2 * t + i) * (200 + 10 * i)).astype(np.int16) for i in range(len(LEADS))],
                    axis=1)
    group.WaveformData = data.tobytes()
    ds.WaveformSequence = [group]
    return _bytes(ds)


def ct_file(patient_id: str = "000123", name: str = "王^秀英", charset: str = "GB18030",
            description: str = "胸部CT 急诊") -> bytes:
    ds = _base(CT_CLASS, "CT", patient_id, name, charset, description)
    ds.Rows, ds.Columns = 8, 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = (np.arange(64, dtype=np.uint16) * 10).tobytes()
    return _bytes(ds)


def _bytes(ds: FileDataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def declaring(data: bytes, charset: str) -> bytes:
    """The same file with another Specific Character Set (0008,0005) declared, its bytes unchanged:
    how a misconfigured modality writes GB18030 names under a UTF-8 declaration."""
    marker = b"\x08\x00\x05\x00CS"
    start = data.index(marker)
    length = int.from_bytes(data[start + 6:start + 8], "little")
    value = charset.encode("ascii")
    value += b" " * (len(value) % 2)
    return data[:start + 6] + len(value).to_bytes(2, "little") + value + data[start + 8 + length:]


# Files whose declared character set is unknown, or wrong for their bytes, with the reason's words.
WRONG_CHARSETS = [
    ("unknown", lambda: declaring(ct_file(name="欧阳^娜娜", charset="GB18030"), "GB99999"), "not one DICOM defines"),
    ("gb18030-as-utf8", lambda: declaring(ct_file(name="欧阳^娜娜", charset="GB18030"), "ISO_IR 192"),
     "not valid in the declared character set"),
    ("utf8-as-latin1", lambda: declaring(ct_file(name="欧阳^娜娜", charset="ISO_IR 192"), "ISO_IR 100"),
     "bytes are UTF-8"),
    ("undeclared", lambda: declaring(ct_file(name="欧阳^娜娜", charset="GB18030"), ""), "declares no character set"),
]


def with_patient(data: bytes, **values: str) -> bytes:
    """The same file with patient module attributes changed (a modality's own idea of a birth date)."""
    ds = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return _bytes(ds)


def iso2022_gb2312_file(patient_id: str = "000456") -> bytes:
    """A CT from a modality writing Chinese as DICOM's PS3.5 Annex J.3 example does: Specific Character Set
    `ISO 2022 IR 6\\ISO 2022 IR 58`, each Chinese run of the name announced with ESC $ ) A (GB2312 in G1)."""
    placeholder = "WANGX^XIUYINGAB"  # as long as the escaped name below, so the file's lengths still hold
    escaped = b"\x1b$)A" + "王".encode("gb2312") + b"^\x1b$)A" + "秀英".encode("gb2312")
    assert len(escaped) == len(placeholder)
    data = ct_file(patient_id=patient_id, name=placeholder, charset="GB18030", description="胸部CT")
    return declaring(data.replace(placeholder.encode(), escaped), "ISO 2022 IR 6\\ISO 2022 IR 58")
