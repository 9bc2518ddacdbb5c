"""Images made with Pillow for the image tests (photo-like, with EXIF orientation and an
ICC profile), and broken ones: corrupt, truncated, HTML, a decompression bomb."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageCms, ImageDraw, ImageFilter


def photo(seed: int, width: int = 1600, height: int = 1200, quality: int = 90) -> Image.Image:
    """A photo-like picture: gradient sky, blurred shapes, sensor-like noise."""
    rnd = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(base)
    for _ in range(40):
        x, y, r = rnd.randrange(width), rnd.randrange(height), rnd.randrange(20, width // 5)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(6))
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    return Image.blend(base, noise, 0.12)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg(image: Image.Image, *, orientation: int | None = None, icc: bytes | None = None) -> bytes:
    """``image`` as a JPEG with an EXIF orientation (and camera metadata) and a profile."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make: metadata that must not survive
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    image.save(out, "JPEG", quality=90, exif=exif.tobytes(), **extra)
    return out.getvalue()


def transparent_png(width: int = 640, height: int = 480) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    margin = min(width, height) // 8
    box = (margin, margin, width - margin, height - margin)
    ImageDraw.Draw(image).ellipse(box, fill=(200, 30, 30, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def corrupt_jpeg() -> bytes:
    """A JPEG start marker followed by garbage."""
    rnd = random.Random(7)
    return b"\xff\xd8\xff\xe0" + bytes(rnd.randrange(256) for _ in range(4000))


def truncated_png() -> bytes:
    """The first half of a real PNG."""
    out = io.BytesIO()
    photo(3, 400, 300).save(out, "PNG")
    data = out.getvalue()
    return data[: len(data) // 2]


def html_page() -> bytes:
    return b"<!DOCTYPE html><html><head><title>Not found</title></head><body>404</body></html>"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(side: int = 30_000) -> bytes:
    """A valid, small PNG of ``side`` x ``side`` black pixels (1 bit per pixel)."""
    row = b"\x00" + bytes((side + 7) // 8)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
