"""decode_image: broken and strange uploads are refused with a helpful message; odd but valid
images come out as clean uint8 pixels."""

import base64
import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from vision.errors import InvalidImageError
from vision.images import (MAX_PIXELS, MAX_UPLOAD_BYTES, decode_image, jpeg_data_url,
                           png_data_url)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise(size=(64, 64), seed=0) -> Image.Image:
    """Random pixels, so that compressed files are long and cutting them loses pixel data."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_with_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims another size (how decompression bombs look)."""
    data = encode(Image.new("1", (16, 16)))
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.txt", "not really a photo")
    return buffer.getvalue()


def jpeg_with_garbage() -> bytes:
    data = bytearray(encode(noise(), "JPEG"))
    data[600:] = b"\x00" * 50 + b"\xff\xd9"  # the scan stops half way, then an end marker
    return bytes(data)


def bmp_with_size(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("RGB", (16, 16)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


PNG = encode(noise())
JPEG = encode(noise(), "JPEG")
GIF = encode(noise().convert("P"), "GIF")
WEBP = encode(noise(), "WEBP", lossless=True)
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10"></svg>'

BAD_FILES = {
    "none": (None, "empty"),
    "empty": (b"", "empty"),
    "text": (b"hello, this is my homework", "not an image"),
    "html": (b"<!DOCTYPE html><html><body><img src='cat.png'></body></html>", "not an image"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "not an image"),
    "random bytes": (np.random.default_rng(1).bytes(4096), "not an image"),
    "zip": (zip_file(), "not an image"),
    "svg": (SVG, "SVG"),
    "svg without xml line": (b"  <svg viewBox='0 0 10 10'><circle r='4'/></svg>", "SVG"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC"),
    "truncated png": (PNG[: len(PNG) // 2], "damaged"),
    "truncated jpeg": (JPEG[: len(JPEG) // 2], "damaged"),
    "truncated gif": (GIF[: len(GIF) // 2], "damaged"),
    "truncated webp": (WEBP[: len(WEBP) // 2], "damaged"),
    "jpeg cut short inside": (jpeg_with_garbage(), "damaged"),
    "png signature only": (b"\x89PNG\r\n\x1a\n", "damaged"),
    "gif header only": (b"GIF89a\x10\x00\x10\x00", "damaged"),
    "png with a bad checksum": (PNG[:30] + bytes([PNG[30] ^ 0xFF]) + PNG[31:], "damaged"),
    "png claiming zero width": (png_with_size(0, 16), "damaged"),
    "bomb under Pillow's limit": (png_with_size(6000, 6000), "too large"),
    "bomb with Pillow's warning": (png_with_size(10_000, 10_000), "too large"),
    "bomb with Pillow's error": (png_with_size(30_000, 30_000), "too large"),
    "bmp claiming 100k x 100k": (bmp_with_size(100_000, 100_000), "too large"),
    "over the upload limit": (PNG + b"\x00" * MAX_UPLOAD_BYTES, "too big"),
    "1x1 pixel": (encode(Image.new("RGB", (1, 1), RED)), "too small"),
    "7x100 pixels": (encode(Image.new("RGB", (7, 100), RED)), "too small"),
    "2000x10 strip": (encode(Image.new("RGB", (2000, 10), RED)), "too wide"),
    "10x2000 strip": (encode(Image.new("L", (10, 2000))), "too tall"),
}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("data, keyword", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_are_refused_with_a_helpful_message(data, keyword):
    with pytest.raises(InvalidImageError, match=f"(?i){keyword}") as caught:
        decode_image(data)
    assert len(str(caught.value)) < 200  # short enough to read on screen
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_the_pixel_limit_is_enforced_before_decoding():
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.raises(InvalidImageError, match="megapixels"):
        decode_image(png_with_size(side, side))


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_pillow_bomb_warning_is_caught_when_warnings_are_errors():
    with pytest.raises(InvalidImageError, match="too large"):
        decode_image(png_with_size(10_000, 10_000))


def test_unknown_mode_is_a_programming_error():
    with pytest.raises(ValueError):
        decode_image(PNG, mode="CMYK")


# ------------------------------------------------------------------ valid but odd images
def half_and_half(mode: str, left, right, size=(40, 20)) -> Image.Image:
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def assert_colour(pixel, expected, tolerance=12):
    assert np.abs(np.asarray(pixel, dtype=int) - np.asarray(expected)).max() <= tolerance, pixel


@pytest.mark.parametrize("fmt, options", [
    ("PNG", {}), ("JPEG", {"quality": 95}), ("WEBP", {"quality": 95}), ("BMP", {}),
    ("GIF", {}), ("TIFF", {}),
])
def test_common_formats_decode_to_rgb_uint8(fmt, options):
    pixels = decode_image(encode(half_and_half("RGB", RED, BLUE), fmt, **options))
    assert pixels.shape == (20, 40, 3) and pixels.dtype == np.uint8
    assert_colour(pixels[10, 5], RED)
    assert_colour(pixels[10, 35], BLUE)


def test_mode_l_gives_a_2d_array():
    pixels = decode_image(encode(half_and_half("RGB", WHITE, (0, 0, 0))), mode="L")
    assert pixels.shape == (20, 40) and pixels.dtype == np.uint8
    assert pixels[10, 5] == 255 and pixels[10, 35] == 0


def test_grayscale_file_gives_three_equal_channels():
    pixels = decode_image(encode(half_and_half("L", 30, 200), "JPEG", quality=95))
    assert pixels.shape == (20, 40, 3)
    assert np.array_equal(pixels[..., 0], pixels[..., 2])
    assert abs(int(pixels[10, 5, 0]) - 30) <= 3 and abs(int(pixels[10, 35, 0]) - 200) <= 3


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grayscale_is_scaled_not_clipped(fmt):
    values = np.tile(np.array([0, 257 * 50, 32768, 65535], dtype=np.uint16), (12, 3))
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    pixels = decode_image(encode(image, fmt), mode="L")
    assert pixels[0, :4].tolist() == [0, 50, 128, 255]


def test_32_bit_integer_image_with_16_bit_values_is_scaled():
    image = Image.fromarray(np.full((10, 10), 65535, dtype=np.int32).astype(np.int32))
    assert image.mode == "I"
    assert decode_image(encode(image, "TIFF"), mode="L").max() == 255


@pytest.mark.parametrize("top, expected", [(1.0, 255), (255.0, 255), (4.0e6, 255)])
def test_float_image_is_scaled_by_its_range(top, expected):
    values = np.tile(np.array([0.0, top / 2, top], dtype=np.float32), (10, 4))
    pixels = decode_image(encode(Image.fromarray(values), "TIFF"), mode="L")
    assert pixels[0, 0] == 0 and pixels[0, 2] == expected
    assert abs(int(pixels[0, 1]) - 128) <= 1


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_becomes_rgb(fmt):
    image = half_and_half("CMYK", (0, 255, 255, 0), (255, 255, 0, 0))  # red | blue
    pixels = decode_image(encode(image, fmt))
    assert pixels.shape == (20, 40, 3)
    assert_colour(pixels[10, 5], RED, tolerance=20)
    assert_colour(pixels[10, 35], BLUE, tolerance=20)
    assert decode_image(encode(image, fmt), mode="L").shape == (20, 40)


def test_palette_png():
    image = half_and_half("RGB", RED, BLUE).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    assert image.mode == "P"
    pixels = decode_image(encode(image))
    assert_colour(pixels[10, 5], RED, 0)
    assert_colour(pixels[10, 35], BLUE, 0)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_becomes_white(fmt):
    image = half_and_half("RGB", RED, BLUE).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    transparent_index = image.getpixel((35, 10))
    pixels = decode_image(encode(image, fmt, transparency=transparent_index))
    assert_colour(pixels[10, 5], RED, 0)
    assert_colour(pixels[10, 35], WHITE, 0)


def test_rgba_is_laid_on_white():
    image = half_and_half("RGBA", (0, 0, 0, 0), (0, 0, 0, 128))
    image.putpixel((0, 0), (0, 255, 0, 255))
    pixels = decode_image(encode(image))
    assert_colour(pixels[10, 5], WHITE, 0)
    assert_colour(pixels[10, 35], (127, 127, 127), 1)
    assert_colour(pixels[0, 0], GREEN, 0)


def test_la_is_laid_on_white():
    pixels = decode_image(encode(half_and_half("LA", (0, 0), (0, 255))), mode="L")
    assert pixels[10, 5] == 255 and pixels[10, 35] == 0


def test_rgb_png_with_a_transparent_colour():
    pixels = decode_image(encode(half_and_half("RGB", RED, BLUE), transparency=BLUE))
    assert_colour(pixels[10, 5], RED, 0)
    assert_colour(pixels[10, 35], WHITE, 0)


@pytest.mark.parametrize("orientation, top_colour, bottom_colour", [(6, RED, BLUE), (8, BLUE, RED)])
def test_exif_rotation_is_applied(orientation, top_colour, bottom_colour):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(half_and_half("RGB", RED, BLUE, (40, 20)), "JPEG", quality=95, exif=exif)
    pixels = decode_image(data)
    assert pixels.shape == (40, 20, 3)  # stored 40 wide, shown 40 high
    assert_colour(pixels[2, 10], top_colour)
    assert_colour(pixels[37, 10], bottom_colour)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_gives_the_first_frame(fmt):
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames == 3
    assert_colour(decode_image(data)[8, 8], RED)


def test_one_bit_image():
    image = Image.new("1", (16, 16), 0)
    image.paste(1, (8, 0, 16, 16))
    pixels = decode_image(encode(image), mode="L")
    assert pixels[4, 4] == 0 and pixels[4, 12] == 255


def test_smallest_allowed_and_elongated_images_pass():
    assert decode_image(encode(Image.new("RGB", (8, 8)))).shape == (8, 8, 3)
    assert decode_image(encode(Image.new("RGB", (400, 8)))).shape == (8, 400, 3)


def _decoded(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_a_jpeg_data_url_decodes_to_the_same_pixels():
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (7, 7, 3)), np.ones((40, 40, 1))).astype(np.uint8)
    url = jpeg_data_url(smooth)
    assert url.startswith("data:image/jpeg;base64,")
    decoded = _decoded(url)  # Pillow: a decoder independent of the OpenCV that encoded it
    assert decoded.shape == smooth.shape
    # colours in the right channels (OpenCV writes BGR), within JPEG's loss
    assert np.abs(decoded.astype(int) - smooth).mean() < 3
    assert _decoded(jpeg_data_url(smooth[..., 0])).ndim == 2


def test_a_png_data_url_carries_the_bytes_as_they_are():
    buffer = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buffer, format="PNG")
    url = png_data_url(buffer.getvalue())
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == buffer.getvalue()
    with pytest.raises(ValueError):
        png_data_url(b"\xff\xd8\xff not a png")
