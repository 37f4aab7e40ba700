"""Render resources/icons/kenning.svg into the raster icons installers need.

    python packaging/make_icons.py ico       -> packaging/build/kenning.ico (Windows)
    python packaging/make_icons.py iconset   -> packaging/build/kenning.iconset/ (macOS; then
                                                `iconutil -c icns` makes kenning.icns)
Uses Qt (already a dependency) so no image tool has to be installed on the build machine.
"""

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "kenning.svg"
BUILD = ROOT / "packaging" / "build"


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


def main(kind: str) -> int:
    QGuiApplication(["make_icons", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"Could not read {SVG}", file=sys.stderr)
        return 1
    BUILD.mkdir(parents=True, exist_ok=True)
    if kind == "ico":
        target = BUILD / "kenning.ico"
        if not render(renderer, 256).save(str(target), "ICO"):
            print("Qt could not write an .ico file (imageformats/qico plugin missing?)",
                  file=sys.stderr)
            return 1
    elif kind == "iconset":
        target = BUILD / "kenning.iconset"
        target.mkdir(exist_ok=True)
        for size in (16, 32, 128, 256, 512):
            render(renderer, size).save(str(target / f"icon_{size}x{size}.png"))
            render(renderer, size * 2).save(str(target / f"icon_{size}x{size}@2x.png"))
    else:
        print("usage: make_icons.py ico|iconset", file=sys.stderr)
        return 2
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
