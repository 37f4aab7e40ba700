"""Opening a PDF in the user's own viewer at the cited page, where the viewer allows it.

Desktop "open" requests carry no page, so on Linux the default PDF viewer is looked up
(``xdg-mime``) and, if it is one whose command line takes a page, started with it. Anything
else falls back to a plain open at the first page.

>>> page_command("org.gnome.Evince.desktop", "/docs/lease.pdf", 2)
['evince', '--page-index=2', '/docs/lease.pdf']
"""

from __future__ import annotations

import shutil
import subprocess
import sys

# desktop file id (without .desktop, lower case) -> executable and its page arguments
_VIEWERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "org.gnome.evince": ("evince", ("--page-index={page}",)),
    "evince": ("evince", ("--page-index={page}",)),
    "okularapplication_pdf": ("okular", ("-p", "{page}")),
    "org.kde.okular": ("okular", ("-p", "{page}")),
    "okular": ("okular", ("-p", "{page}")),
    "org.pwmt.zathura": ("zathura", ("-P", "{page}")),
    "org.pwmt.zathura-pdf-mupdf": ("zathura", ("-P", "{page}")),
    "zathura": ("zathura", ("-P", "{page}")),
    "atril": ("atril", ("--page-index={page}",)),
    "xreader": ("xreader", ("--page-index={page}",)),
}


def page_command(desktop_id: str, path: str, page: int) -> list[str] | None:
    """The command that opens ``path`` at ``page`` (1-based) in the viewer of ``desktop_id``,
    or None if that viewer cannot be told a page."""
    key = desktop_id.strip().lower().removesuffix(".desktop")
    if key not in _VIEWERS:
        return None
    program, arguments = _VIEWERS[key]
    return [program, *(a.format(page=page) for a in arguments), path]


def default_pdf_viewer() -> str | None:
    """The desktop id of the default PDF viewer on Linux, or None. Blocking: call it from a
    background task."""
    if not sys.platform.startswith("linux") or shutil.which("xdg-mime") is None:
        return None
    try:
        found = subprocess.run(
            ["xdg-mime", "query", "default", "application/pdf"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


def command_for(path: str, page: int) -> list[str] | None:
    """The page-aware command for ``path`` if the default viewer takes one and is installed."""
    viewer = default_pdf_viewer()
    command = page_command(viewer, path, page) if viewer else None
    if command is None or shutil.which(command[0]) is None:
        return None
    return command
