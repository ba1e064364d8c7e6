#!/usr/bin/env python3
"""Render resources/mabgui.svg to the PNG sizes, the Windows .ico and the macOS .icns.

    python resources/make-icons.py    # (re)write resources/icons/*

Uses only PySide6 (QtSvg renders the SVG; no new dependency): PNG files are written by Qt, the
.ico and .icns containers are assembled here (both are a small header and a table of images).
Run it again after editing the SVG and commit resources/icons/.
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVG = HERE / "mabgui.svg"
OUT = HERE / "icons"

# hicolor theme sizes installed by the Linux packages (plus scalable/ for the SVG itself).
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
# Windows: the sizes Explorer, the taskbar and the Start menu ask for; 256 is stored as PNG,
# the smaller ones as 32-bit DIBs (what every Windows version and resource compiler reads).
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128, 256)
# macOS: OSType → pixel size, all PNG-encoded (what `iconutil` writes for an .iconset).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),  # 512@2x
    (b"ic11", 32),  # 16@2x
    (b"ic12", 64),  # 32@2x
    (b"ic13", 256),  # 128@2x
    (b"ic14", 512),  # 256@2x
)


def _render(size: int) -> object:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"make-icons: cannot read {SVG}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def _png_bytes(image: object) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage

    assert isinstance(image, QImage)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit("make-icons: Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def _dib_bytes(image: object) -> bytes:
    """A 32-bit BGRA bottom-up DIB with its AND mask, as stored inside an .ico."""
    from PySide6.QtGui import QImage

    assert isinstance(image, QImage)
    w, h = image.width(), image.height()
    header = struct.pack("<IiiHHIIiiII", 40, w, h * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    pixels = io.BytesIO()
    for y in range(h - 1, -1, -1):  # bottom-up rows
        row = image.constScanLine(y)
        pixels.write(bytes(row)[: w * 4])  # Format_ARGB32 is B,G,R,A in memory (little-endian)
    mask_row = ((w + 31) // 32) * 4  # 1 bit per pixel, rows padded to 32 bits; all 0 = use alpha
    return header + pixels.getvalue() + bytes(mask_row * h)


def build_ico(images: dict[int, object]) -> bytes:
    entries, blobs = [], []
    offset = 6 + 16 * len(ICO_SIZES)
    for size in ICO_SIZES:
        blob = _png_bytes(images[size]) if size >= 256 else _dib_bytes(images[size])
        dim = 0 if size >= 256 else size  # 0 means 256 in the directory entry
        entries.append(struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset))
        blobs.append(blob)
        offset += len(blob)
    return struct.pack("<HHH", 0, 1, len(ICO_SIZES)) + b"".join(entries) + b"".join(blobs)


def build_icns(images: dict[int, object]) -> bytes:
    body = b""
    for ostype, size in ICNS_TYPES:
        png = _png_bytes(images[size])
        body += ostype + struct.pack(">I", 8 + len(png)) + png
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def generate() -> dict[str, bytes]:
    """File name (inside resources/icons/) → content."""
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    sizes = set(PNG_SIZES) | set(ICO_SIZES) | {s for _, s in ICNS_TYPES}
    images = {size: _render(size) for size in sorted(sizes)}
    files = {f"mabgui-{size}.png": _png_bytes(images[size]) for size in PNG_SIZES}
    files["mabgui.ico"] = build_ico(images)
    files["mabgui.icns"] = build_icns(images)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (resources/icons)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    files = generate()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
