"""The list of models Kenning offers to download (``resources/models.json``).

An entry without a sha256 is shown but cannot be downloaded: Kenning only installs a file it
can verify. Each URL names a fixed revision of its repository, so the file behind it is the
one whose sha256 was recorded. ``size_bytes`` is the exact size when it was read from the
file itself (then a wrong size is caught before hashing); ``approx_size_bytes`` is the size
the file's page shows, for display and the free-space check.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.resources import resource

CATALOGUE_FILE = resource("models.json")
PROFILES = frozenset({"grit", "generic", "encoder"})


class CatalogueError(ValueError):
    """The catalogue file is damaged; the message names the entry and field."""


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    title: str
    file: str
    url: str
    size_bytes: int | None
    sha256: str | None
    licence: str
    profile: str
    context_length: int
    ram_needed_bytes: int
    recommended: bool
    description: str
    approx_size_bytes: int | None = None

    @property
    def verifiable(self) -> bool:
        """Whether a download of this entry can be checked (its sha256 is known)."""
        return bool(self.sha256)

    @property
    def shown_size(self) -> int | None:
        return self.size_bytes or self.approx_size_bytes

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"verifiable": self.verifiable}


def load_catalogue(path: Path = CATALOGUE_FILE) -> list[CatalogueEntry]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = [_entry(item) for item in raw.get("models", [])]
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise CatalogueError("The model catalogue lists a name twice.")
    return entries


def find_entry(entries: list[CatalogueEntry], name: str) -> CatalogueEntry | None:
    return next((e for e in entries if e.name == name), None)


def _entry(item: dict[str, Any]) -> CatalogueEntry:
    name = str(item.get("name", "?"))
    try:
        entry = CatalogueEntry(**item)
    except TypeError as error:
        raise CatalogueError(f"Catalogue entry {name}: {error}") from error
    if entry.profile not in PROFILES:
        raise CatalogueError(f"Catalogue entry {name}: unknown profile {entry.profile!r}")
    if not entry.url.startswith("https://"):
        raise CatalogueError(f"Catalogue entry {name}: the URL must use https")
    if "/" in entry.file or "\\" in entry.file or not entry.file.endswith(".gguf"):
        raise CatalogueError(f"Catalogue entry {name}: file must be a plain .gguf name")
    if entry.sha256 is not None and (len(entry.sha256) != 64
                                     or any(c not in "0123456789abcdef" for c in entry.sha256)):
        raise CatalogueError(f"Catalogue entry {name}: sha256 must be 64 lowercase hex digits")
    return entry
