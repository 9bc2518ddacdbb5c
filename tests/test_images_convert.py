"""Conversion alone (no download, no pool): JPEG reduced on decode when every output is at
most half its size, and only then."""

from __future__ import annotations

import io

from image_samples import jpeg, photo

from pipeline_core.config import ImageVariant
from pipeline_core.images.convert import Recipe, convert

RECIPE = Recipe(
    variants=(ImageVariant("thumb", 200, "jpeg"),),
    jpeg_quality=75,
    webp_quality=80,
    max_pixels=50_000_000,
    original_max=800,
)


def test_a_jpeg_much_larger_than_every_output_is_reduced_while_decoded() -> None:
    converted = convert(jpeg(photo(1, 1600, 1200)), RECIPE)
    assert (converted.width, converted.height) == (800, 600)  # decoded at 1/2 scale
    assert [(o.name, o.format, o.width, o.height) for o in converted.outputs] == [
        ("original", "jpeg", 800, 600),
        ("thumb", "jpeg", 200, 150),
    ]


def test_a_png_or_a_jpeg_not_twice_the_outputs_is_decoded_whole() -> None:
    png = io.BytesIO()
    photo(2, 1600, 1200).save(png, "PNG")
    assert (convert(png.getvalue(), RECIPE).width, 1600) == (1600, 1600)
    small = convert(jpeg(photo(3, 1200, 900)), RECIPE)  # 1200 < 2 x 800
    assert (small.width, small.height) == (1200, 900)
    assert [(o.width, o.height) for o in small.outputs] == [(800, 600), (200, 150)]
