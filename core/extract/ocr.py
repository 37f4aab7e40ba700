"""Reading scanned pages and pictures of text with OCR: Tesseract, through PyMuPDF.

MuPDF carries Tesseract's engine inside itself; what it needs from the machine is Tesseract's
language data (``eng.traineddata``), which comes with the system's Tesseract package. So
"Tesseract is installed" means: that data can be found. ``find_ocr_engine`` looks once per
process (``TESSDATA_PREFIX`` if set, else ``tesseract --list-langs``); a missing engine is
looked for again at most once a minute, so one installed while Kenning runs is noticed.

>>> engine = find_ocr_engine()
>>> engine.available or engine.problem  # doctest: +SKIP
'Tesseract is not installed'

Only pages without a text layer are read this way (``is_scanned``); a page with text keeps it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from core.extract.pdf_layout import TEXT_FLAGS

#: Pictures MuPDF opens as one-page (TIFF: one page per frame) documents, read only with OCR.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".jp2", ".pnm"}
)
#: Document kinds whose pages may be pictures of text (a scanner's PDF, a comic book's pages).
#: DOCX and e-books lay out text of their own; a picture inside them is not a page.
SCANNABLE_KINDS = frozenset({"pdf", "xps", "cbz", "image"})
LANGUAGE = "eng"

# Tesseract reads best at about 300 dpi; a page is drawn at its scan's own resolution up to
# that (drawing a 200-dpi scan at 300 invents nothing and costs twice the time), and at no
# less than 150 so small print in a low-resolution picture stays legible.
MAX_DPI = 300
MIN_DPI = 150
# The size bound of OCR, as the file size caps are of reading: a drawn page of at most this
# many pixels (an A4 page at 300 dpi is 8.7 million), and no picture is decoded past it.
MAX_PIXELS = 40_000_000
# And of time: a file's scanned pages are read up to this many (some hours on a laptop); the
# child reports each page, so its time limit counts from the latest page, not the first.
MAX_PAGES_PER_FILE = 1000
_RECHECK_MISSING_S = 60.0

NOT_INSTALLED = "Tesseract is not installed"
INSTALL_HELP = (
    "To read scanned pages and pictures of text, install Tesseract OCR with its English "
    "language data: on Debian or Ubuntu `sudo apt install tesseract-ocr`; on Fedora `sudo dnf "
    "install tesseract`; on Arch `sudo pacman -S tesseract tesseract-data-eng`; on macOS "
    "`brew install tesseract`; on Windows the installer from the Tesseract project's "
    "\"Tesseract at UB Mannheim\" page (github.com/UB-Mannheim/tesseract/wiki). Then index "
    "again; Kenning finds it by itself."
)


@dataclass(frozen=True)
class OcrEngine:
    """Where Tesseract's language data is, or why OCR cannot run (``problem``, for a person)."""

    tessdata: str | None
    problem: str | None = None

    @property
    def available(self) -> bool:
        return self.problem is None

    @property
    def signature(self) -> str:
        """What changes when OCR starts or stops being possible (kept in the index's meta)."""
        return f"tessdata:{self.tessdata}" if self.available else "missing"


_lock = threading.Lock()
_found: tuple[float, OcrEngine] | None = None


def find_ocr_engine() -> OcrEngine:
    """Tesseract's language data for ``LANGUAGE``, found once per process (a missing one is
    looked for again after a minute). Never raises."""
    global _found
    with _lock:
        now = time.monotonic()
        if _found is not None and (_found[1].available or now - _found[0] < _RECHECK_MISSING_S):
            return _found[1]
        engine = _detect()
        _found = (now, engine)
        return engine


def forget_ocr_engine() -> None:
    """Look again next time (after the user says Tesseract is installed now; for tests)."""
    global _found
    with _lock:
        _found = None


def _detect() -> OcrEngine:
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        # Tesseract's own variable: the user (or a packager) chose the folder; nothing else.
        return _with_language(prefix, f"TESSDATA_PREFIX ({prefix})")
    program = _tesseract_program()
    if program is None:
        return OcrEngine(None, NOT_INSTALLED)
    try:
        done = subprocess.run([program, "--list-langs"], capture_output=True, text=True,
                              timeout=10, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return OcrEngine(None, f"{NOT_INSTALLED} (the `tesseract` program would not run)")
    # Tesseract 4 printed the list to stderr, 5 to stdout.
    found = re.search(r'List of available languages in "(.+?)"', done.stdout + done.stderr)
    if found is None:
        return OcrEngine(None, f"{NOT_INSTALLED} (the `tesseract` program would not list its "
                               "languages)")
    return _with_language(found.group(1), "Tesseract's language folder")


def _with_language(folder: str, where: str) -> OcrEngine:
    if (Path(folder) / f"{LANGUAGE}.traineddata").is_file():
        return OcrEngine(folder)
    return OcrEngine(None, f"Tesseract's English language data is missing ({where} has no "
                           f"{LANGUAGE}.traineddata)")


def _tesseract_program() -> str | None:
    """The ``tesseract`` program: on the PATH, or where the usual installers put it (an app
    started from the Dock or the Start menu may not have those folders on its PATH)."""
    found = shutil.which("tesseract")
    if found:
        return found
    candidates: list[Path] = []
    if sys.platform == "darwin":
        candidates = [Path("/opt/homebrew/bin/tesseract"), Path("/usr/local/bin/tesseract"),
                      Path("/opt/local/bin/tesseract")]
    elif sys.platform == "win32":
        for base in (os.environ.get("PROGRAMFILES"), os.environ.get("PROGRAMFILES(X86)"),
                     os.environ.get("LOCALAPPDATA")):
            if base:
                candidates.append(Path(base) / "Tesseract-OCR" / "tesseract.exe")
    return next((str(c) for c in candidates if c.is_file()), None)


def is_scanned(page: pymupdf.Page, kind: str) -> bool:
    """A page without a text layer that shows a picture: a scan (or a picture of text) that
    only OCR can read. A blank page is not one. Call it for pages whose text is empty."""
    if kind == "image":
        return True
    if kind not in SCANNABLE_KINDS:
        return False
    try:
        return bool(page.get_image_info())
    except Exception:  # an unreadable page was already counted as such
        return False


class PictureTooLarge(Exception):
    """The page's picture is beyond ``MAX_PIXELS`` to decode: left unread, with this reason."""


def read_scanned_page(page: pymupdf.Page, engine: OcrEngine) -> pymupdf.TextPage:
    """The page's text as OCR reads it, with a box per character (``layout_page`` and
    ``layout_text`` take it as ``textpage``). The same page and engine always give the same
    text, so offsets stored at indexing find their words again in the preview."""
    assert engine.tessdata is not None
    dpi = ocr_dpi(page)
    return page.get_textpage_ocr(flags=TEXT_FLAGS, language=LANGUAGE, dpi=dpi, full=True,
                                 tessdata=engine.tessdata)


def ocr_dpi(page: pymupdf.Page) -> int:
    """The resolution a page is drawn at for OCR: its largest picture's own, within
    ``MIN_DPI``..``MAX_DPI``, lowered so the drawing stays within ``MAX_PIXELS``. Raises
    ``PictureTooLarge`` for a picture whose pixels alone are past that bound."""
    native = float(MAX_DPI)
    pictures = page.get_image_info()
    if pictures:
        largest = max(pictures, key=lambda info: info["width"] * info["height"])
        if largest["width"] * largest["height"] > 4 * MAX_PIXELS:
            megapixels = largest["width"] * largest["height"] / 1e6
            raise PictureTooLarge(f"a picture of {megapixels:,.0f} megapixels")
        shown = pymupdf.Rect(largest["bbox"]).width
        if shown > 0:
            native = 72 * largest["width"] / shown
    dpi = min(MAX_DPI, max(MIN_DPI, native))
    area_points = max(1.0, page.rect.width * page.rect.height)
    fitting = 72 * (MAX_PIXELS / area_points) ** 0.5
    return max(1, int(min(dpi, fitting)))
