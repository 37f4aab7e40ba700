"""The pieces a right-click entry is made of, each able to install and remove itself.

Every entry is data first (what goes where), so tests and ``--dry-run`` can inspect exactly
what would be written without writing it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# Written into every file we create; uninstall removes a file only when it carries it, so a
# user's own file that happens to share a name is never deleted.
MARKER = "X-Kenning-Integration"


@dataclass(frozen=True)
class Outcome:
    """What happened to one entry: ``status`` is one of written, would-write, removed,
    would-remove, absent, error."""

    kind: str
    path: str
    status: str
    message: str = ""

    def to_json(self) -> dict[str, str]:
        out = {"kind": self.kind, "path": self.path, "status": self.status}
        if self.message:
            out["message"] = self.message
        return out


class Entry(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def location(self) -> str: ...

    def preview(self) -> str:
        """The text that install would write (shown by ``--dry-run``)."""
        ...

    def install(self, dry_run: bool) -> Outcome: ...

    def uninstall(self, dry_run: bool) -> Outcome: ...


@dataclass(frozen=True)
class FileEntry:
    """One file we own outright: written whole, removed whole."""

    kind: str
    path: Path
    content: str
    executable: bool = False

    @property
    def location(self) -> str:
        return str(self.path)

    def preview(self) -> str:
        return self.content

    def install(self, dry_run: bool) -> Outcome:
        if dry_run:
            return Outcome(self.kind, self.location, "would-write")
        _write(self.path, self.content.encode("utf-8"), self.executable)
        return Outcome(self.kind, self.location, "written")

    def uninstall(self, dry_run: bool) -> Outcome:
        if not self.path.is_file():
            return Outcome(self.kind, self.location, "absent")
        if MARKER.encode() not in self.path.read_bytes():
            return Outcome(self.kind, self.location, "error",
                           "this file was not made by Kenning, so it was left alone")
        if not dry_run:
            self.path.unlink()
        return Outcome(self.kind, self.location, "would-remove" if dry_run else "removed")


@dataclass(frozen=True)
class BundleEntry:
    """A folder we own outright (a macOS .workflow bundle): files inside, removed as a tree."""

    kind: str
    path: Path
    files: dict[str, bytes] = field(default_factory=dict)
    marker_file: str = ""

    @property
    def location(self) -> str:
        return str(self.path)

    def preview(self) -> str:
        return "\n".join(
            f"--- {name}\n{data.decode('utf-8')}" for name, data in self.files.items()
        )

    def install(self, dry_run: bool) -> Outcome:
        if dry_run:
            return Outcome(self.kind, self.location, "would-write")
        if self.path.is_dir():
            shutil.rmtree(self.path)  # replace our own previous version whole
        for name, data in self.files.items():
            _write(self.path / name, data, executable=False)
        return Outcome(self.kind, self.location, "written")

    def uninstall(self, dry_run: bool) -> Outcome:
        if not self.path.exists():
            return Outcome(self.kind, self.location, "absent")
        marker = self.path / self.marker_file
        if not marker.is_file() or MARKER.encode() not in marker.read_bytes():
            return Outcome(self.kind, self.location, "error",
                           "this folder was not made by Kenning, so it was left alone")
        if not dry_run:
            shutil.rmtree(self.path)
        return Outcome(self.kind, self.location, "would-remove" if dry_run else "removed")


def _write(path: Path, data: bytes, executable: bool) -> None:
    """Write via a temporary file and rename, so a file manager never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.kenning-tmp")
    temporary.write_bytes(data)
    os.chmod(temporary, 0o755 if executable else 0o644)
    os.replace(temporary, path)
