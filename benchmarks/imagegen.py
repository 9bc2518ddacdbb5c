"""Photo-like JPEGs for ``python -m benchmarks.images``: smooth gradients and blurred shapes
under sensor-like noise, each image a different crop of a few larger scenes (so no two are
the same bytes), saved as a camera would (quality 90, EXIF with an orientation)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

#: Scenes the images are cut from.
SCENES = 6


def scene(seed: int, width: int, height: int) -> Image.Image:
    """A photo-like picture: gradient sky, blurred shapes, noise."""
    rnd = random.Random(seed)
    base = Image.linear_gradient("L").rotate(rnd.randrange(360)).resize((width, height))
    base = base.convert("RGB")
    draw = ImageDraw.Draw(base)
    for _ in range(60):
        x, y, r = rnd.randrange(width), rnd.randrange(height), rnd.randrange(10, width // 6)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(5))
    noise = Image.effect_noise((width, height), 20).convert("RGB")
    return Image.blend(base, noise, 0.10)


def photos(count: int, width: int, height: int, seed: int = 12) -> list[bytes]:
    """``count`` distinct JPEGs of ``width`` x ``height``."""
    margin = 64
    scenes = [scene(seed + i, width + margin, height + margin) for i in range(SCENES)]
    rnd = random.Random(seed)
    out = []
    for index in range(count):
        x, y = rnd.randrange(margin), rnd.randrange(margin)
        image = scenes[index % SCENES].crop((x, y, x + width, y + height))
        exif = Image.Exif()
        exif[0x010F] = "BenchCam"
        exif[0x0112] = 1
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
        out.append(buffer.getvalue())
    return out
