"""DICOM files for the image archive's tests, made with pydicom: pixel values are known, so rendered
frames can be checked pixel by pixel."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid

CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
CR_CLASS = "1.2.840.10008.5.1.4.1.1.1"
ENHANCED_MR_CLASS = "1.2.840.10008.5.1.4.1.1.4.1"
WSI_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"
MPEG2 = "1.2.840.10008.1.2.4.100"  # video: no decoder here, so not renderable


def _file(sop_class: str, modality: str, patient_id: str, study_uid: str | None, series_uid: str | None,
          transfer_syntax: str = ExplicitVRLittleEndian, **attrs: object) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = modality
    ds.PatientID = patient_id
    ds.PatientName = "Wang^Xiuying=王^秀英"
    ds.PatientSex = "F"
    ds.PatientBirthDate = "19900307"
    ds.StudyDate = "20261123"
    ds.StudyTime = "083000"
    ds.AccessionNumber = "ACC-1"
    ds.StudyDescription = "胸部CT"
    ds.InstitutionName = "青山镇卫生院"
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def _mono(ds: Dataset, pixels: np.ndarray, photometric: str = "MONOCHROME2", signed: bool = False) -> None:
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if signed else 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.PixelData = pixels.astype(np.int16 if signed else np.uint16).tobytes()


def _bytes(ds: FileDataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_slice_values(slice_index: int) -> np.ndarray:
    """Stored values of slice i (16 x 16): with intercept -1024, HU = -1000 + 8 * pixel + 100 * i."""
    return 24 + np.arange(256).reshape(16, 16) * 8 + 100 * slice_index


def ct_series(count: int = 4, patient_id: str = "1", study_uid: str | None = None,
              accession: str = "ACC-1", study_date: str = "20261123") -> list[bytes]:
    """A CT series: 16 x 16 slices, 0.5 x 0.8 mm pixels, rescale intercept -1024, default window 40/400."""
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    files = []
    for index in range(count):
        ds = _file(CT_CLASS, "CT", patient_id, study_uid, series_uid, AccessionNumber=accession, StudyDate=study_date,
                   SeriesNumber=2, SeriesDescription="肺窗 1mm", InstanceNumber=index + 1, PixelSpacing=[0.5, 0.8],
                   RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400,
                   SliceThickness=1)
        _mono(ds, ct_slice_values(index))
        files.append(_bytes(ds))
    return files


def cr_monochrome1(patient_id: str = "1", study_uid: str | None = None) -> bytes:
    """A CR in MONOCHROME1 (high values dark), 8 x 8, values 0..63 * 64, window 2016/4033 (the range)."""
    ds = _file(CR_CLASS, "CR", patient_id, study_uid, None, InstanceNumber=1, ImagerPixelSpacing=[0.2, 0.2],
               WindowCenter=2016.5, WindowWidth=4033)
    _mono(ds, np.arange(64).reshape(8, 8) * 64, "MONOCHROME1")
    return _bytes(ds)


def mr_multiframe(patient_id: str = "1", study_uid: str | None = None, frames: int = 3) -> bytes:
    """An enhanced MR with 3 frames of 8 x 8; spacing and window only in the functional groups."""
    ds = _file(ENHANCED_MR_CLASS, "MR", patient_id, study_uid, None, InstanceNumber=1, NumberOfFrames=frames)
    measures, voi, shared = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing = [1.5, 1.5]
    measures.SliceThickness = 3
    voi.WindowCenter, voi.WindowWidth = 100, 200
    shared.PixelMeasuresSequence = [measures]
    shared.FrameVOILUTSequence = [voi]
    ds.SharedFunctionalGroupsSequence = [shared]
    _mono(ds, np.stack([np.full((8, 8), 50 * f) for f in range(frames)]))
    return _bytes(ds)


def sm_rgb(patient_id: str = "1", study_uid: str | None = None) -> bytes:
    """A pathology slide image (SM): RGB 32 x 32 in four coloured quadrants, 0.25 um pixels."""
    ds = _file(WSI_CLASS, "SM", patient_id, study_uid, None, InstanceNumber=1, StudyDescription="病理切片")
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    pixels[:16, :16] = (200, 30, 30)
    pixels[:16, 16:] = (30, 200, 30)
    pixels[16:, :16] = (30, 30, 200)
    pixels[16:, 16:] = (240, 240, 240)
    measures, shared = Dataset(), Dataset()
    measures.PixelSpacing = [0.00025, 0.00025]
    shared.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.Rows, ds.Columns = 32, 32
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.PixelData = pixels.tobytes()
    return _bytes(ds)


def jpeg_baseline(patient_id: str = "1", study_uid: str | None = None) -> tuple[bytes, np.ndarray]:
    """An 8-bit CT-like image kept as JPEG Baseline; returns the file and the pixels it encodes."""
    pixels = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "JPEG", quality=100)
    ds = _file(CT_CLASS, "CT", patient_id, study_uid, None, JPEGBaseline8Bit, InstanceNumber=1)
    ds.Rows, ds.Columns = 16, 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    return _bytes(ds), pixels


def undecodable(patient_id: str = "1", study_uid: str | None = None) -> bytes:
    """An image kept in a transfer syntax the hub has no decoder for (MPEG-2 video)."""
    ds = _file(CT_CLASS, "CT", patient_id, study_uid, None, MPEG2, InstanceNumber=1)
    ds.Rows, ds.Columns = 16, 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    ds["PixelData"].VR = "OB"
    return _bytes(ds)
