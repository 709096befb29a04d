"""Reading the PNGs the sales chart makes: the header's size, and how much of a colour is drawn."""

from __future__ import annotations

import io
import struct

from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's header chunk (IHDR), which comes first after the signature."""
    assert png[:8] == SIGNATURE, f"not a PNG: {png[:8]!r}"
    length, kind, width, height = struct.unpack(">I4sII", png[8:24])
    assert (length, kind) == (13, b"IHDR"), (length, kind)
    return width, height


def pixels_of(png: bytes, colour: str) -> int:
    """How many pixels are exactly ``colour`` (``#rrggbb``)."""
    wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        counts = image.convert("RGB").getcolors(maxcolors=width * height) or []
    return sum(count for count, pixel in counts if pixel == wanted)
