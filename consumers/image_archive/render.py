"""Rendered frames (PS3.18 rendered resources): a frame's pixels as a PNG or JPEG for a person to see.

Grayscale: the modality rescale (slope/intercept) is applied, then the window (`window=center,width,
function`, else the file's default, else the frame's range) with the functions of PS3.3 C.11.2.1.2
(linear, linear-exact, sigmoid); MONOCHROME1 is inverted so that a high value is dark as intended.
Colour (RGB, YBR, palette) passes through as RGB. Decoding is pydicom's; compressed transfer syntaxes
need a decoder plugin (pylibjpeg for JPEG, Pillow for JPEG 2000), and one with none is refused.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, get_decoder, pixel_array
from pydicom.uid import UID

from consumers.image_archive.header import default_window, first_number, functional
from hub.core.errors import PermanentError

WindowFunction = Literal["linear", "linear-exact", "sigmoid"]
FUNCTIONS: tuple[WindowFunction, ...] = ("linear", "linear-exact", "sigmoid")
MEDIA = {"image/png": "PNG", "image/jpeg": "JPEG"}
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_WINDOW = re.compile(rf"\s*({_NUMBER})\s*,\s*({_NUMBER})\s*(?:,\s*([A-Za-z-]+)\s*)?")


class RenderError(PermanentError):
    """Why a frame cannot be rendered, with the HTTP status that says so."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: WindowFunction = "linear"


def parse_window(text: str) -> Window:
    """`center,width[,function]` as PS3.18 8.3.5.1.4 gives it; a clear 400 for anything else."""
    found = _WINDOW.fullmatch(text)
    if found is None:
        raise RenderError(400, f"window={text!r}: give window=center,width[,function], e.g. window=-600,1500,linear")
    center, width, function = float(found[1]), float(found[2]), (found[3] or "linear").lower()
    if function not in FUNCTIONS:
        raise RenderError(400, f"window function {function!r} is not one of {', '.join(FUNCTIONS)}")
    if not (math.isfinite(center) and math.isfinite(width)):
        raise RenderError(400, f"window={text!r}: center and width must be finite numbers")
    if width < 1 if function == "linear" else width <= 0:
        raise RenderError(400, f"window width {width:g} is too small: at least 1 for linear, above 0 otherwise")
    return Window(center, width, function)


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """Modality values to 0..255 by PS3.3 C.11.2.1.2.1 (linear), C.11.2.1.3.2 (linear exact, sigmoid)."""
    c, w = window.center, window.width
    x = values.astype(np.float64)
    if window.function == "sigmoid":
        out = 255.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
    elif window.function == "linear-exact":
        out = np.clip(((x - c) / w + 0.5) * 255.0, 0, 255)
        out = np.where(x <= c - w / 2, 0.0, np.where(x > c + w / 2, 255.0, out))
    elif w == 1:  # a threshold
        out = np.where(x <= c - 0.5, 0.0, 255.0)
    else:
        out = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
        out = np.where(x <= c - 0.5 - (w - 1) / 2, 0.0, np.where(x > c - 0.5 + (w - 1) / 2, 255.0, out))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def check_decodable(transfer_syntax: str) -> None:
    uid = UID(transfer_syntax)
    if not uid.is_compressed:
        return
    try:
        available = get_decoder(uid).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise RenderError(406, f"the instance is stored as {uid.name or uid} ({uid}), which this hub cannot decode "
                          "into pixels; retrieve the instance itself (WADO-RS) and view it in a workstation")


class FrameCache:
    """Decoded frames by (blob, frame), least recently used dropped past `limit_bytes`: scrolling and
    window changes re-window a kept frame instead of decoding the file again."""

    def __init__(self, limit_bytes: int = 256 * 1024 * 1024) -> None:
        self.limit = limit_bytes
        self._items: OrderedDict[tuple[str, int], tuple[np.ndarray, Dataset]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> tuple[np.ndarray, Dataset] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple[str, int], item: tuple[np.ndarray, Dataset]) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = item
            self._size += item[0].nbytes
            while self._size > self.limit and len(self._items) > 1:
                _, (old, _) = self._items.popitem(last=False)
                self._size -= old.nbytes


CACHE = FrameCache()


def decoded_frame(load: Callable[[], bytes], sha256: str, frame: int, frames: int) -> tuple[np.ndarray, Dataset]:
    """Frame `frame` (1-based) as modality values (grayscale, float) or RGB (uint8), and the header.
    `load` reads the file (hash-checked, so not cheap for a large multi-frame object) only when the
    frame is not kept already."""
    if not 1 <= frame <= max(frames, 0):
        raise RenderError(404, f"frame {frame} does not exist: the instance has {frames} frame(s)"
                          if frames else "the instance holds no image (no Pixel Data), so nothing can be rendered")
    cached = CACHE.get((sha256, frame))
    if cached is not None:
        return cached
    data = load()
    header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    check_decodable(str(getattr(header, "file_meta", Dataset()).get("TransferSyntaxUID", "1.2.840.10008.1.2")))
    try:
        pixels = pixel_array(io.BytesIO(data), index=frame - 1)
    except Exception as exc:  # noqa: BLE001 - decoders fail in many ways on damaged data
        raise RenderError(422, f"the pixel data of frame {frame} cannot be decoded ({type(exc).__name__}: {exc})") \
            from exc
    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "PALETTE COLOR":
        pixels = apply_color_lut(pixels, header)
        pixels = _to_uint8(pixels)
    elif int(header.get("SamplesPerPixel", 1) or 1) > 1:
        pixels = _to_uint8(pixels)  # pydicom hands YBR back as RGB
    else:
        slope = first_number(header.get("RescaleSlope")) or first_number(
            functional(header, "PixelValueTransformationSequence", "RescaleSlope", frame - 1))
        intercept = first_number(header.get("RescaleIntercept")) or first_number(
            functional(header, "PixelValueTransformationSequence", "RescaleIntercept", frame - 1))
        pixels = pixels.astype(np.float32) * float(slope if slope is not None else 1.0) + float(intercept or 0.0)
    CACHE.put((sha256, frame), (pixels, header))
    return pixels, header


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    top = float(pixels.max()) if pixels.size else 0.0
    scale = 255.0 / top if top > 255 else 1.0
    return np.clip(pixels.astype(np.float64) * scale, 0, 255).astype(np.uint8)


def render(load: Callable[[], bytes], sha256: str, frame: int, frames: int, window: Window | None,
           media_type: str, quality: int = 90) -> bytes:
    pixels, header = decoded_frame(load, sha256, frame, frames)
    if pixels.ndim == 3:  # colour: passed through, the window does not apply
        image = Image.fromarray(pixels[..., :3], "RGB")
    else:
        if window is None:
            center, width = default_window(header, frame - 1)
            if center is not None and width is not None:
                window = Window(center, max(width, 1.0))
            else:  # no default in the file: the frame's own range
                low, high = float(pixels.min()), float(pixels.max())
                window = Window((low + high) / 2 + 0.5, max(high - low + 1, 1.0))
        gray = apply_window(pixels, window)
        if str(header.get("PhotometricInterpretation", "")) == "MONOCHROME1":
            gray = 255 - gray
        image = Image.fromarray(gray, "L")
    buffer = io.BytesIO()
    if MEDIA[media_type] == "JPEG":
        image.save(buffer, "JPEG", quality=quality)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()
