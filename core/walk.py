"""Walking an indexed folder: which files count, in ``.gitignore`` syntax (pathspec).

Defaults leave out version-control folders, dependency and build output, virtual
environments, caches, editors' temp and lock files, and hidden files. ``.gitignore`` files
inside the tree are honoured (each for its own folder and below) unless turned off.
Directory symlinks are not followed, so a symlink loop cannot trap the walk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

DEFAULT_EXCLUDES = (
    ".*",  # hidden files and folders (.git, .cache, .DS_Store, ...)
    "node_modules/",
    "__pycache__/",
    "venv/",
    "env/",
    "site-packages/",
    "build/",
    "dist/",
    "target/",
    "*.egg-info/",
    "*.tmp",
    "*.temp",
    "*.swp",
    "*.swx",
    "*~",
    "~$*",  # Office owner files
    "*.part",
    "*.crdownload",
    "*.lock",
    "#*#",
)


@dataclass(frozen=True)
class FoundFile:
    path: str
    size: int
    mtime: float


class ExcludeRules:
    """Exclude patterns: the defaults, the user's own, and optionally .gitignore files."""

    def __init__(self, extra: list[str] | None = None, use_gitignore: bool = True) -> None:
        self.base = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDES, *(extra or [])])
        self.use_gitignore = use_gitignore

    def walk(self, root: Path, wanted: Callable[[str], bool] | None = None) -> Iterator[FoundFile]:
        """Every file below ``root`` that no rule excludes (and ``wanted`` accepts)."""
        yield from self._walk(str(root), [("", self.base)], str(root), wanted)

    def _walk(
        self,
        root: str,
        specs: list[tuple[str, pathspec.PathSpec]],
        directory: str,
        wanted: Callable[[str], bool] | None,
    ) -> Iterator[FoundFile]:
        if self.use_gitignore:
            local = _read_gitignore(directory)
            if local is not None:
                specs = [*specs, (os.path.relpath(directory, root), local)]
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return  # unreadable folder: nothing in it can be indexed
        entries.sort(key=lambda e: e.name)
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=True)
            except OSError:
                continue
            rel = os.path.relpath(entry.path, root)
            if _excluded(specs, rel, is_dir):
                continue
            if is_dir:
                yield from self._walk(root, specs, entry.path, wanted)
            elif is_file and (wanted is None or wanted(entry.path)):
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError:
                    continue  # vanished or a broken link
                yield FoundFile(entry.path, st.st_size, st.st_mtime)


def _excluded(specs: list[tuple[str, pathspec.PathSpec]], rel: str, is_dir: bool) -> bool:
    for base, spec in specs:
        local = rel if base in ("", ".") else os.path.relpath(rel, base)
        if is_dir:
            local += "/"
        if spec.match_file(local):
            return True
    return False


def _read_gitignore(directory: str) -> pathspec.PathSpec | None:
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as f:
            return pathspec.GitIgnoreSpec.from_lines(f.read().splitlines())
    except OSError:
        return None
