"""Check and convert one image: the work done in the process pool.

:func:`convert` takes the downloaded bytes and a :class:`Recipe` and returns the encoded
outputs (the optimised original first, then each variant) or raises
:class:`~pipeline_core.exceptions.ImageError`. In order:

1. the type is sniffed from the bytes, and only that decoder is tried;
2. the pixel count is read from the header (``Image.open`` decodes nothing) and checked
   against ``max_pixels`` before any pixel is decoded;
3. a JPEG is reduced while it is decoded (``Image.draft``: libjpeg's DCT scaling) when
   every output is at most half its size;
4. decoding errors (truncated or corrupt files) become ``ImageError``;
5. the EXIF orientation is applied; the outputs carry no metadata but the ICC colour
   profile;
6. the original is written as a progressive, optimised JPEG, or as PNG (WebP for a WebP
   source) when it has transparency; each variant is fitted inside its size from the
   oriented original, bicubic with a block reduction first for large factors (never
   enlarged).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageFile, ImageOps

from pipeline_core.config import ImageVariant
from pipeline_core.exceptions import ImageError
from pipeline_core.images.sniff import PILLOW_FORMATS, describe, sniff

#: Content type and file extension of each output format.
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp"}

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never half an image


@dataclass(frozen=True)
class Recipe:
    """What to make of every image (from the ``PIPELINE_IMAGE_*`` settings)."""

    variants: tuple[ImageVariant, ...]
    jpeg_quality: int
    webp_quality: int
    max_pixels: int
    original_max: int = 0
    webp_method: int = 4


@dataclass(frozen=True)
class Output:
    """One encoded image: the original or a variant."""

    name: str
    format: str
    width: int
    height: int
    data: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True)
class Converted:
    """What :func:`convert` made: the source's type, the oriented size it was decoded at
    (smaller than the file's when ``Image.draft`` reduced a JPEG), and the outputs."""

    source_format: str
    width: int
    height: int
    outputs: tuple[Output, ...]


def _fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """``size`` scaled to fit inside ``box`` x ``box`` (never enlarged)."""
    width, height = size
    if max(width, height) <= box:
        return size
    scale = box / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Bicubic, as Pillow's ``thumbnail``, with a factor of 4 or more first reduced by whole
    pixel blocks (``reducing_gap=2``), which costs a fraction and looks the same; bilinear
    (Pillow's antialiased triangle filter) for a factor below 2, where it is 30 % cheaper and
    differs from bicubic by less than the encoders' own loss (decision 113)."""
    if max(image.size) < 2 * max(size):
        return image.resize(size, Image.Resampling.BILINEAR)
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def _encode(image: Image.Image, fmt: str, recipe: Recipe, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "jpeg":
        quality = recipe.jpeg_quality
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True, **extra)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=recipe.webp_quality, method=recipe.webp_method, **extra)
    else:
        image.save(out, "PNG", optimize=True, **extra)
    return out.getvalue()


def _open(data: bytes, recipe: Recipe) -> tuple[str, Image.Image]:
    kind = sniff(data)
    if kind is None:
        raise ImageError(f"not an image: the body is {describe(data)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[kind]])
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too many pixels ({exc}); the limit is {recipe.max_pixels}") from None
    except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt {kind.upper()}: {exc}") from None
    width, height = image.size
    if width * height > recipe.max_pixels:
        raise ImageError(
            f"too many pixels: {width} x {height} = {width * height} (its header), more "
            f"than PIPELINE_IMAGE_MAX_PIXELS={recipe.max_pixels}; not decoded"
        )
    return kind, image


def convert(data: bytes, recipe: Recipe) -> Converted:
    """Check ``data`` and make the original and the variants ``recipe`` names."""
    kind, image = _open(data, recipe)
    largest = max([v.size for v in recipe.variants] + [recipe.original_max or 0])
    if kind == "jpeg" and recipe.original_max and max(image.size) >= 2 * largest:
        # Every output is at most half the source: decode at 1/2, 1/4 or 1/8 scale.
        # (the size asked for is the fitted one: draft reduces only while both sides
        # stay at least that large)
        image.draft("RGB" if image.mode != "L" else "L", _fit(image.size, largest))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            icc = image.info.get("icc_profile")
            ImageOps.exif_transpose(image, in_place=True)  # no copy when upright
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too many pixels: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(f"truncated or corrupt {kind.upper()}: {exc}") from None
    alpha = _has_alpha(image)
    if alpha:
        image = image.convert("RGBA")
    elif image.mode == "CMYK":
        image, icc = image.convert("RGB"), None  # a CMYK profile does not fit RGB pixels
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    source_size = image.size
    if recipe.original_max:
        target = _fit(image.size, recipe.original_max)
        if target != image.size:
            image = _resize(image, target)
    original_format = ("webp" if kind == "webp" else "png") if alpha else "jpeg"
    outputs = [
        Output(
            "original",
            original_format,
            *image.size,
            _encode(image, original_format, recipe, icc),
        )
    ]
    for variant in recipe.variants:
        target = _fit(image.size, variant.size)
        resized = image if target == image.size else _resize(image, target)
        fmt = "png" if alpha and variant.format == "jpeg" else variant.format
        outputs.append(Output(variant.name, fmt, *resized.size, _encode(resized, fmt, recipe, icc)))
    return Converted(kind, source_size[0], source_size[1], tuple(outputs))
