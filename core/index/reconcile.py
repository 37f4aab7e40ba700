"""Finding what changed on disk: a full scan at start, or a change set from the watcher.

Only sizes and modification times are compared here, with one query per folder and no SQL
per file, so a 100,000-file tree reconciles in about a second; content hashes are computed
later, by the indexer, and only for files whose size or time differ.

Both ways end alike (``_settle``): a file that vanished and reappeared elsewhere with the
same content is a move (it keeps its chunks and vectors), new or changed files become
pending, entries that cannot be read (or are larger than their type's size cap) are recorded
as skipped with the reason, and vanished files are deleted with their chunks, full-text rows
and vectors. A full walk of a folder also counts what it leaves out (files of types Kenning
does not read, by extension; entries the exclude rules leave out), so every file is accounted
for in the status.

>>> reconciler = Reconciler(store, ExcludeRules())
>>> report = reconciler.scan()
>>> reconciler.apply(ChangeSet(moves=[("/docs/old", "/docs/new")]))
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import stat
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.cancel import CancelToken, Progress, ProgressCallback, no_progress
from core.extract import is_supported, is_text_by_name, size_cap
from core.extract.errors import describe_size
from core.extract.ocr import IMAGE_EXTENSIONS
from core.index.walk import (
    BROKEN_LINK,
    FOLDER_LINK,
    NOT_REGULAR,
    TOO_DEEP,
    TOO_DEEP_FOLDER,
    ExcludeRules,
    FoundFile,
    deepest_folder,
    examine,
    is_within,
)
from core.store.database import Store
from core.store.files import FileRecord, ScanCounts

log = logging.getLogger(__name__)

HASH_BLOCK = 1 << 20
# Timestamps are coarse (a clock tick on Linux, 1 s on HFS+, 2 s on FAT): a file rewritten
# within this long of being read may keep its size and time. Such a file is read again to be
# sure (its hash decides whether anything is redone), as git does with "racily clean" files.
RACY_S = 2.0
BAD_NAME = (
    "its name is not valid text (UTF-8), so it cannot be kept in the index; "
    "renaming the file fixes this"
)
_PROBLEMS = (NOT_REGULAR, BROKEN_LINK, BAD_NAME, TOO_DEEP, TOO_DEEP_FOLDER, FOLDER_LINK)


@dataclass
class ScanReport:
    new_or_changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    moved: int = 0
    skipped: int = 0
    #: Indexed folders that do not exist now (unplugged drive?): their index is kept.
    missing_folders: list[str] = field(default_factory=list)
    #: False when cancelled before every folder was looked at.
    complete: bool = True


@dataclass
class ChangeSet:
    """What the watcher saw change, coalesced. Every path is checked on disk when the set is
    applied, so a set only says *where* to look; moves are applied first, in order, so
    renamed files and folders keep their chunks and vectors."""

    moves: list[tuple[str, str]] = field(default_factory=list)
    #: Files or folders created, modified or deleted.
    paths: set[str] = field(default_factory=set)
    #: Folders to walk again in full (their .gitignore changed, or events were lost).
    subtrees: set[str] = field(default_factory=set)

    def merge(self, other: ChangeSet) -> None:
        self.moves += other.moves
        self.paths |= other.paths
        self.subtrees |= other.subtrees

    def __len__(self) -> int:
        return len(self.moves) + len(self.paths) + len(self.subtrees)


@dataclass
class _Survey:
    """Differences found so far, applied together so moves across folders are recognised."""

    changed: dict[str, tuple[int, FoundFile, bool]] = field(default_factory=dict)
    gone: dict[int, FileRecord] = field(default_factory=dict)
    reassigned: dict[int, int] = field(default_factory=dict)
    walked: set[str] = field(default_factory=set)
    unchanged: int = 0
    #: Same size and time, but read so soon after a change that it may have changed since.
    rechecked: list[tuple[int, FoundFile]] = field(default_factory=list)
    #: Per folder walked in full: (reason, name) -> entries left out (``Store.skipped_kinds``).
    left_out: dict[int, Counter[tuple[str, str]]] = field(default_factory=dict)

    def compare(self, folder_id: int, entry: FoundFile, record: FileRecord | None) -> None:
        if record is None:
            self.changed[entry.path] = (folder_id, entry, False)
            return
        if record.folder_id != folder_id:
            self.reassigned[record.id] = folder_id
        if _differs(record, entry):
            self.changed[entry.path] = (folder_id, entry, True)
            return
        self.unchanged += 1
        if _racy(record):
            self.rechecked.append((folder_id, entry))


class Reconciler:
    """Compares folders with the database and records what must be done. Runs on the
    writer's thread (it writes through ``store``)."""

    def __init__(self, store: Store, rules: ExcludeRules) -> None:
        self.store = store
        self.rules = rules
        #: Folders whose pictures are read (by OCR), as of the survey under way.
        self._ocr: set[int] = set()

    def scan(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> ScanReport:
        """Every indexed folder against the database."""
        report, survey = ScanReport(), _Survey()
        folders = self.store.folders.all()
        self._ocr = self.store.folders.with_ocr()
        for folder_id, root in folders:
            if cancel is not None and cancel.cancelled:
                report.complete = False
                break
            if not os.path.isdir(root):
                report.missing_folders.append(root)
                continue
            self._survey_tree(folder_id, root, root, folders, survey, progress)
        self._settle(survey, report)
        return report

    def apply(self, changes: ChangeSet) -> ScanReport:
        """A watcher's change set: moves first, then each path looked at on disk."""
        report, survey = ScanReport(), _Survey()
        folders = self.store.folders.all()
        self._ocr = self.store.folders.with_ocr()
        self.rules.forget()  # a .gitignore may be among the changes
        paths = set(changes.paths)
        for source, destination in changes.moves:
            paths |= {source, destination}
            report.moved += self._move(source, destination, folders)
        # Folders to walk first, then single paths (those inside a walked folder are done).
        for path in [*sorted(changes.subtrees), *sorted(paths)]:
            self._survey_path(path, folders, survey)
        self._settle(survey, report)
        return report

    # -- surveying -----------------------------------------------------------------------

    def _survey_tree(
        self,
        folder_id: int,
        root: str,
        top: str,
        folders: list[tuple[int, str]],
        survey: _Survey,
        progress: ProgressCallback = no_progress,
    ) -> None:
        # Folders indexed in their own right inside this one are surveyed on their own.
        nested = [r for _, r in folders if r != root and is_within(root, r)]
        known = self.store.files.under(stored_form(top))
        if nested:
            known = {p: r for p, r in known.items() if not any(is_within(n, p) for n in nested)}
        ocr = folder_id in self._ocr
        if top == root:  # a full walk: count what it leaves out, and why
            tally: Counter[tuple[str, str]] = Counter()
            survey.left_out[folder_id] = tally
            walk = self.rules.walk(
                root,
                functools.partial(_wanted_or_counted, tally, ocr),
                top=top,
                skip=nested,
                excluded=lambda _path, is_dir: tally.update(
                    [("excluded", "folder" if is_dir else "file")]
                ),
            )
        else:
            walk = self.rules.walk(root, functools.partial(is_wanted, ocr=ocr), top=top,
                                   skip=nested)
        for seen, found in enumerate(walk, 1):
            entry = storable(found)
            survey.compare(folder_id, entry, known.pop(entry.path, None))
            if seen % 500 == 0:
                progress(Progress("scan", seen, 0, entry.path))
        for record in known.values():
            survey.gone[record.id] = record
        survey.walked.add(top)

    def _survey_path(self, path: str, folders: list[tuple[int, str]], survey: _Survey) -> None:
        if _walked_already(path, survey.walked):
            return  # already seen as part of a folder walked in full
        folder_id = deepest_folder(folders, path)
        root = dict(folders).get(folder_id) if folder_id is not None else None
        if folder_id is None or root is None:
            self._forget_under(path, survey)  # moved out of every indexed folder
            return
        if not os.path.isdir(root):
            return  # the whole folder is missing (unplugged drive?): keep its index
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            self._forget_under(path, survey)
            return
        if stat.S_ISDIR(mode):
            if path == root or not self.rules.excluded(root, path, True):
                self._survey_tree(folder_id, root, path, folders, survey)
            else:
                self._forget_under(path, survey)
            return
        found = examine(path)
        folder_link = found is not None and found.problem == FOLDER_LINK
        if (found is None or self.rules.excluded(root, path, folder_link)
                or (not folder_link and not is_wanted(path, folder_id in self._ocr))):
            self._forget_under(path, survey)
            return
        entry = storable(found)
        survey.compare(folder_id, entry, self.store.files.at(entry.path))

    def _forget_under(self, path: str, survey: _Survey) -> None:
        for record in self.store.files.under(stored_form(path)).values():
            survey.gone[record.id] = record

    def _move(self, source: str, destination: str, folders: list[tuple[int, str]]) -> int:
        """Carry the records of a renamed file or folder over to its new path."""
        if not (is_storable(source) and is_storable(destination)):
            return 0  # both ends are looked at on disk instead
        folder_id = deepest_folder(folders, destination)
        root = dict(folders).get(folder_id) if folder_id is not None else None
        if folder_id is None or root is None:
            return 0
        is_dir = os.path.isdir(destination)
        if self.rules.excluded(root, destination, is_dir):
            return 0
        if not is_dir and not is_wanted(destination, folder_id in self._ocr):
            return 0
        return self.store.files.move_path(source, destination, folder_id)

    # -- applying ------------------------------------------------------------------------

    def _settle(self, survey: _Survey, report: ScanReport) -> None:
        for folder_id, tally in survey.left_out.items():
            self.store.folders.set_skipped_kinds(folder_id, tally)
        new = [(f, e) for f, e, had in survey.changed.values() if not had and e.problem is None]
        moves = match_moves(list(survey.gone.values()), new)
        for record, (folder_id, entry) in moves:
            self.store.files.move(record.id, entry.path, folder_id, entry.mtime)
            survey.changed.pop(entry.path, None)
            survey.gone.pop(record.id, None)
        for file_id, folder_id in survey.reassigned.items():
            if file_id not in survey.gone:
                self.store.files.set_folder(file_id, folder_id)
        by_folder: dict[int, list[FoundFile]] = {}
        for folder_id, entry, _ in survey.changed.values():
            by_folder.setdefault(folder_id, []).append(entry)
        for folder_id, entries in by_folder.items():
            readable = [(e.path, e.size, e.mtime) for e in entries if e.problem is None]
            unreadable = [(e.path, e.size, e.mtime, e.problem) for e in entries if e.problem]
            self.store.files.add_pending(folder_id, readable)
            self.store.files.record_skipped(folder_id, unreadable)
            report.new_or_changed += len(readable)
            report.skipped += len(unreadable)
        rechecked: dict[int, list[tuple[str, int, float]]] = {}
        for folder_id, entry in survey.rechecked:
            rechecked.setdefault(folder_id, []).append((entry.path, entry.size, entry.mtime))
        for folder_id, recheck in rechecked.items():
            self.store.files.add_pending(folder_id, recheck)  # counted as unchanged: most are
        self.store.files.delete(list(survey.gone))
        report.deleted += len(survey.gone)
        report.moved += len(moves)
        report.unchanged += survey.unchanged


def match_moves(
    gone: list[FileRecord], new: list[tuple[int, FoundFile]]
) -> list[tuple[FileRecord, tuple[int, FoundFile]]]:
    """Files that vanished and appeared elsewhere with the same content are moves. Only new
    files of a vanished file's exact size are hashed."""
    by_size: dict[int, list[FileRecord]] = {}
    for record in gone:
        if record.content_hash:
            by_size.setdefault(record.size, []).append(record)
    pairs: list[tuple[FileRecord, tuple[int, FoundFile]]] = []
    for folder_id, entry in new:
        candidates = by_size.get(entry.size)
        if not candidates:
            continue
        try:
            digest = content_hash(entry.path)
        except OSError:
            continue
        for record in candidates:
            if record.content_hash == digest:
                candidates.remove(record)
                pairs.append((record, (folder_id, entry)))
                break
    return pairs


def content_hash(path: str) -> str:
    """The file's content hash (what decides whether anything must be redone)."""
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def describe_left_out(kinds: dict[tuple[str, str], int]) -> list[str]:
    """What the full scans left out, as lines for a person (``Store.skipped_kinds``), the
    largest counts first.

    >>> describe_left_out({("unsupported", ".pages"): 312, ("unsupported", ""): 1,
    ...                    ("excluded", "folder"): 2, ("excluded", "file"): 7})
    ['312 .pages files skipped: not supported', '1 file without an extension skipped: \
not supported', '2 folders and 7 files left out by the exclude rules (hidden, build, \
dependencies...)']
    """
    lines = []
    unsupported = sorted(
        ((count, name) for (reason, name), count in kinds.items() if reason == "unsupported"),
        key=lambda item: (-item[0], item[1]),
    )
    for count, name in unsupported:
        noun = "file" if count == 1 else "files"
        kind = f"{name} {noun}" if name else f"{noun} without an extension"
        if name in IMAGE_EXTENSIONS:
            lines.append(f"{count:,} {kind} skipped: pictures are read (by OCR) only where "
                         "“Read scanned pages (OCR)” is on for their folder")
        else:
            lines.append(f"{count:,} {kind} skipped: not supported")
    folders, files = kinds.get(("excluded", "folder"), 0), kinds.get(("excluded", "file"), 0)
    parts = [f"{n:,} {word}{'s' if n != 1 else ''}" for n, word in
             ((folders, "folder"), (files, "file")) if n]  # fmt: skip
    if parts:
        lines.append(
            " and ".join(parts) + " left out by the exclude rules (hidden, build, dependencies...)"
        )
    return lines


def describe_scans(folder: str, ocr: bool, counts: ScanCounts,
                   problem: str | None) -> list[str]:
    """What became of a folder's scanned pages (pages without a text layer, and pictures
    where OCR is on), as lines for a person. ``problem``: why OCR cannot run now, if it
    cannot (``core/extract/ocr.py``).

    >>> describe_scans("/scans", False, ScanCounts(0, 0, 12, 3), None)
    ['/scans: 12 scanned pages without a text layer (in 3 files) could be read with OCR on \
(Folders: “Read scanned pages (OCR)”, or `kenning index --ocr /scans`)']
    >>> describe_scans("/scans", True, ScanCounts(40, 5, 1, 1), "Tesseract is not installed")
    ['/scans: 40 scanned pages (in 5 files) read by OCR', '/scans: 1 scanned page without a \
text layer (in 1 file) not read: Tesseract is not installed']
    """
    lines = []
    if counts.read_pages:
        lines.append(f"{folder}: {_pages(counts.read_pages)} ({_in_files(counts.read_files)}) "
                     "read by OCR")
    if counts.unread_pages:
        what = (f"{folder}: {_pages(counts.unread_pages)} without a text layer "
                f"({_in_files(counts.unread_files)})")
        if not ocr:
            lines.append(f"{what} could be read with OCR on (Folders: “Read scanned pages "
                         f"(OCR)”, or `kenning index --ocr {folder}`)")
        elif problem:
            lines.append(f"{what} not read: {problem}")
        else:
            lines.append(f"{what} not read yet: the next indexing reads them (pages OCR could "
                         "not read are listed under “Read in part”)")
    return lines


def _pages(count: int) -> str:
    return f"{count:,} scanned page{'s' if count != 1 else ''}"


def _in_files(count: int) -> str:
    return f"in {count:,} file{'s' if count != 1 else ''}"


def _wanted_or_counted(tally: Counter[tuple[str, str]], ocr: bool, path: str) -> bool:
    """``is_wanted``, counting the files it turns away by extension."""
    if is_wanted(path, ocr):
        return True
    tally[("unsupported", os.path.splitext(path)[1].lower())] += 1
    return False


def is_wanted(path: str, ocr: bool = False) -> bool:
    """Whether the file is of a kind Kenning reads, by name (fast: a walk asks per file).
    ``ocr``: its folder reads pictures of text too."""
    suffix = os.path.splitext(path)[1].lower()
    return _suffix_supported(suffix, ocr) or is_text_by_name(os.path.basename(path))


@functools.lru_cache(maxsize=4096)
def _suffix_supported(suffix: str, ocr: bool) -> bool:
    return is_supported(Path("x" + suffix), ocr)


def is_storable(path: str) -> bool:
    """SQLite keeps text as UTF-8; a name with undecodable bytes (held by Python as lone
    surrogates) cannot be stored as it is."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stored_form(path: str) -> str:
    """The path as the index keeps it: itself, or for a name with undecodable bytes a
    readable form (each such byte shown as U+FFFD). Taken byte by byte, so the form of a
    folder is a prefix of the forms of the files in it."""
    if is_storable(path):
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def storable(entry: FoundFile) -> FoundFile:
    """``entry`` as it is to be recorded: for an undecodable name its stored form, skipped
    with the reason (SQLite cannot hold the name as it is); a file larger than its type's
    size cap skipped as too large (never handed to a reader just to be refused)."""
    if not is_storable(entry.path):
        return FoundFile(stored_form(entry.path), entry.size, entry.mtime, BAD_NAME)
    if entry.problem is None and entry.size > (cap := size_cap(Path(entry.path))):
        return replace(entry, problem=too_large(entry.size, cap))
    return entry


def too_large(size: int, cap: int) -> str:
    """The reason given for a file skipped for its size."""
    return (
        f"too large ({describe_size(size)}; Kenning reads files of this type up to "
        f"{describe_size(cap)})"
    )


def _walked_already(path: str, walked: set[str]) -> bool:
    """Whether ``path`` or a folder above it was walked in full (a parent at a time: cheap
    against a set, however many folders were walked)."""
    current = path
    while current not in walked:
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent
    return True


def _racy(record: FileRecord) -> bool:
    return (
        record.state in ("extracted", "embedded")
        and record.indexed_at is not None
        and record.mtime >= record.indexed_at - RACY_S
    )


def _differs(record: FileRecord, entry: FoundFile) -> bool:
    if entry.problem is not None:
        return not (record.state == "skipped" and record.error == entry.problem)
    if record.state == "pending":
        return True
    if record.state == "skipped" and record.error in _PROBLEMS:
        return True  # was a pipe or a broken link, is a readable file now
    return record.size != entry.size or abs(record.mtime - entry.mtime) > 1e-6
