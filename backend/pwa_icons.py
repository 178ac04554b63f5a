"""The app icons (static/icons/*.png), drawn without an image library: a white ring with a check mark
(a visit done) on the brand green. `python -m backend.pwa_icons` writes them again after a change."""

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "static" / "icons"
BRAND = (0x0B, 0x5D, 0x4B)
WHITE = (0xFF, 0xFF, 0xFF)
Shape = Callable[[float, float], float]


def png(width: int, height: int, rgba: bytes) -> bytes:
    """A truecolour-with-alpha PNG; each row uses the Sub filter, which shrinks flat colours a lot."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    stride = width * 4
    rows = bytearray()
    for y in range(height):
        row = rgba[y * stride : (y + 1) * stride]
        rows.append(1)
        rows += row[:4]
        rows += bytes((row[i] - row[i - 4]) & 0xFF for i in range(4, stride))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _segment(ax: float, ay: float, bx: float, by: float, half_width: float) -> Shape:
    def distance(x: float, y: float) -> float:
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        return math.hypot(x - ax - t * dx, y - ay - t * dy) - half_width

    return distance


def _ring(cx: float, cy: float, radius: float, half_width: float) -> Shape:
    return lambda x, y: abs(math.hypot(x - cx, y - cy) - radius) - half_width


def _rounded_square(corner: float) -> Shape:
    def distance(x: float, y: float) -> float:
        qx, qy = abs(x - 0.5) - 0.5 + corner, abs(y - 0.5) - 0.5 + corner
        return math.hypot(max(qx, 0.0), max(qy, 0.0)) + min(max(qx, qy), 0.0) - corner

    return distance


def draw(size: int, *, maskable: bool) -> bytes:
    """The icon at `size` pixels; a maskable icon fills the square and keeps the mark in the safe circle."""
    scale = 0.62 if maskable else 0.8
    background = _rounded_square(0.0 if maskable else 0.19)

    def at(x: float, y: float) -> tuple[float, float]:  # icon space → mark space (mark drawn in 0…1)
        return (x - 0.5) / scale + 0.5, (y - 0.5) / scale + 0.5

    parts = [
        _ring(0.5, 0.5, 0.36, 0.055),
        _segment(0.33, 0.51, 0.45, 0.63, 0.055),
        _segment(0.45, 0.63, 0.68, 0.38, 0.055),
    ]
    pixels = bytearray()
    for py in range(size):
        for px in range(size):
            x, y = (px + 0.5) / size, (py + 0.5) / size
            edge = 1.0 / size
            bg = min(1.0, max(0.0, 0.5 - background(x, y) / edge))
            mx, my = at(x, y)
            mark = min(1.0, max(0.0, 0.5 - min(p(mx, my) for p in parts) * scale / edge))
            colour = [round(b + (w - b) * mark) for b, w in zip(BRAND, WHITE, strict=True)]
            pixels += bytes((*colour, round(255 * (1.0 if maskable else bg))))
    return png(size, size, bytes(pixels))


FILES = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "icon-maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, True),  # iOS rounds the corners itself and shows no transparency
}


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for name, (size, maskable) in FILES.items():
        (ICONS / name).write_bytes(draw(size, maskable=maskable))


if __name__ == "__main__":
    main()
