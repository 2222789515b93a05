"""Turn uploaded bytes into a clean uint8 image array, or tell the student why we cannot."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vision.errors import InvalidImageError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 25_000_000
MIN_SIDE = 8
MAX_ASPECT_RATIO = 50
# Only plain raster formats: Pillow's other plugins (EPS runs Ghostscript, for one) are not
# worth their risk for a classroom app. ("JPEG" also opens the MPO files of some phones.)
# Pillow fails on a format it has no plugin for (AVIF in older builds), so keep those it has.
Image.init()
FORMATS = tuple(f for f in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "AVIF") if f in Image.OPEN)
# File signatures that tell "a broken image" apart from "not an image at all".
_IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
_HEIC_BRANDS = (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypheim", b"ftypheis")

NOT_AN_IMAGE = "This file is not an image we can read. Try a PNG, JPEG, WEBP, GIF or BMP photo."
DAMAGED = ("This image file is damaged or incomplete, so we cannot read it. "
           "Open it on your computer, save it again as PNG or JPEG, and upload that.")


def decode_image(data: bytes | None, mode: str = "RGB") -> np.ndarray:
    """Decode an uploaded file to uint8 pixels: (H, W, 3) for mode "RGB", (H, W) for mode "L".

    EXIF rotation is applied, transparency is laid on white, 16-bit and float images are scaled
    to 0-255, and animations give their first frame. Nothing is written to disk.

    Raises:
        InvalidImageError: the bytes are empty, not an image, damaged, too large or too small;
            the message says what to do about it.
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', not {mode!r}")
    _check_bytes(data)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            _check_size(*image.size)
            image.load()  # decode every pixel now, so that a truncated file fails here
            return _to_array(ImageOps.exif_transpose(image), mode)
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InvalidImageError(_too_large_message()) from err
    except UnidentifiedImageError as err:
        raise InvalidImageError(DAMAGED if _has_image_signature(data) else NOT_AN_IMAGE) from err
    except Exception as err:  # Pillow's decoders raise many types on broken files
        raise InvalidImageError(DAMAGED) from err


def _check_bytes(data: bytes | None) -> None:
    if not data:
        raise InvalidImageError("The file is empty. Choose an image file and upload it again.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidImageError(
            f"This file is too big ({len(data) / 2**20:.0f} MB); the limit is "
            f"{MAX_UPLOAD_BYTES // 2**20} MB. Try a smaller photo, or save it as JPEG.")
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and b"<svg" in head:
        raise InvalidImageError(
            "SVG drawings are not supported. Export it as a PNG and upload that instead.")
    if data[4:12] in _HEIC_BRANDS:
        raise InvalidImageError(
            "HEIC photos (the iPhone format) are not supported. Export the photo as JPEG, "
            "or set the camera to 'Most Compatible', and upload it again.")


def _check_size(width: int, height: int) -> None:
    """Refuse sizes before any pixel is decoded: a tiny file can claim billions of pixels."""
    if width * height > MAX_PIXELS:
        raise InvalidImageError(_too_large_message(width, height))
    if min(width, height) < MIN_SIDE:
        raise InvalidImageError(
            f"This image is too small ({width}x{height} pixels). Use one at least "
            f"{MIN_SIDE} pixels wide and {MIN_SIDE} pixels high.")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        shape = "wide" if width > height else "tall"
        raise InvalidImageError(
            f"This image is too {shape} and thin ({width}x{height} pixels) to show one object. "
            "Crop it closer to a square and upload it again.")


def _too_large_message(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width}x{height} pixels)" if width else ""
    return (f"This image is too large{size}: the limit is {MAX_PIXELS // 1_000_000} megapixels. "
            "Make it smaller and upload it again.")


def _has_image_signature(data: bytes) -> bool:
    return data.startswith(_IMAGE_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _to_array(image: Image.Image, mode: str) -> np.ndarray:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        image = Image.fromarray(_deep_to_uint8(np.asarray(image), image.mode))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if image.mode != mode:  # through RGB, as Pillow cannot turn every mode (CMYK...) into L
        image = image.convert("RGB").convert(mode)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _deep_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Scale 16-bit, 32-bit or float pixels to 0-255 by their format's full range."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if mode.startswith("I;16"):
        ranges = (65535.0,)
    else:  # "I" and "F" say nothing of their range: take the smallest usual one that fits
        ranges = (1.0, 255.0, 65535.0) if mode == "F" else (255.0, 65535.0)
    if low >= 0 and high <= ranges[-1]:
        full = next(r for r in ranges if high <= r)
    else:  # no standard range (scientific data): stretch what is there
        values, full = values - low, max(high - low, 1e-12)
    return np.clip(np.rint(values * (255.0 / full)), 0, 255).astype(np.uint8)


def is_blank(pixels: np.ndarray, tolerance: int = 8) -> bool:
    """Whether a picture holds nothing to recognise: one flat colour in every channel, give or
    take `tolerance` levels of JPEG noise (a fully transparent PNG decodes to plain white)."""
    pixels = np.asarray(pixels)
    if pixels.size == 0:
        return True
    flat = pixels.reshape(-1, pixels.shape[-1]) if pixels.ndim == 3 else pixels.reshape(-1, 1)
    return int(np.ptp(flat, axis=0).max()) <= tolerance


def jpeg_data_url(image: np.ndarray, quality: int = 85) -> str:
    """An RGB or grey picture (uint8, or floats in [0, 1]) as a JPEG `data:` URL, for a page to
    show inline (`st.image` takes it). The picture then travels inside the page's message: no
    file kept in Streamlit's media store and no request of its own (the pictures that change on
    every doodle stroke cost two HTTP requests a stroke, and the browser showed them a round trip
    after the guess). Nor can it be missing: Streamlit drops a session's media files when its
    next full run starts and collects them when any session's run ends, so a picture whose run is
    cut short by the next one (Play, as a round ends under a stroke) can answer 404 before that
    run sends it again (python -m tests.load --scenario play)."""
    from vision.heatmaps import as_uint8

    pixels = as_uint8(image)
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels = pixels[..., ::-1]  # OpenCV writes BGR
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(pixels), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("this picture cannot be encoded as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def png_data_url(data: bytes) -> str:
    """PNG bytes (a stored drawing) as a `data:` URL, inline as `jpeg_data_url`'s, sent as they
    are with no decoding and encoding again."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("these bytes are not a PNG picture")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
