"""The indexing pipeline and its state machine.

A file moves ``pending → extracted → embedded``, or ends ``failed`` / ``skipped`` with a
reason. Phase one (scan + extract) fills the full-text index so keyword search works at once;
phase two embeds in the background. Work is committed as it goes (extracted files a tenth of
a second's worth at a time), so a kill at any moment loses at most that, or the embedding
batch in flight, and the next run resumes there.

>>> indexer = Indexer(store, model, settings)
>>> indexer.add_folder(Path("~/Documents").expanduser())
>>> indexer.run(progress=print, cancel=CancelToken())
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.cancel import CancelToken, Progress, ProgressCallback, no_progress
from core.config import Settings
from core.extract import EXTRACTOR_VERSION, ExtractionError
from core.extract.errors import NothingToRead, OverSizeCap, ScansNotRead
from core.extract.ocr import find_ocr_engine
from core.extract.worker import ExtractionInterrupted, IsolatedExtractor
from core.index.chunking import chunk_document
from core.index.pacing import Pacer
from core.index.reconcile import (
    HASH_BLOCK,
    ChangeSet,
    Reconciler,
    ScanReport,
    content_hash,
    is_storable,
)
from core.index.walk import NOT_REGULAR, ExcludeRules
from core.models.interface import Embedder, runs_within
from core.store.chunks import PendingChunk
from core.store.database import ENVIRONMENT_ERRORS, Store, cause_among
from core.store.files import FileRecord

__all__ = ["ChangeSet", "Indexer", "ScanReport", "content_hash", "embedding_input"]

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 16
#: Files extracted within this many seconds are committed together: keyword search sees them
#: this much later at most, and a crash loses at most this much extraction.
GROUP_COMMIT_S = 0.1
# Chunks fetched per query while embedding: finding them scans every extracted file, so one
# query serves several model batches (a new focus is honoured within this many chunks).
EMBED_FETCH_CHUNKS = 256
# Late chunking packs a file's chunks into the embed window: tokens kept for the model's own
# specials and prefix, and for the gap it reads between two pieces.
_WINDOW_SPECIALS = 8
_WINDOW_GAP = 2
READ_ATTEMPTS = 3
# Extraction processes at most. On two cores, two of them beside this process (chunking and
# storing) keep both cores busy (docs/benchmarks.md); each holds its own PDF library (~80 MB),
# and more than four was not measured.
MAX_READERS = 4
KEPT_CHANGING = (
    "the file kept changing while it was being read; it will be read again once it changes "
    "next, or with `kenning retry`"
)


class _Changed(Exception):
    """The file changed while it was being read; the attempt is thrown away."""


class _Skip(Exception):
    """The file is not to be read (``reason``); its size and mtime are recorded."""

    def __init__(self, reason: str, st: os.stat_result) -> None:
        super().__init__(reason)
        self.reason, self.size, self.mtime = reason, st.st_size, st.st_mtime


def reader_count(settings: Settings) -> int:
    """How many files are read side by side: one per core Kenning may use."""
    cores = settings.threads or os.cpu_count() or 1
    return max(1, min(MAX_READERS, cores))


class Indexer:
    """Keeps the store in step with the folders. Owns the store's write connection."""

    def __init__(
        self,
        store: Store,
        model: Embedder | None,
        settings: Settings,
        extractor: IsolatedExtractor | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.settings = settings
        self.rules = ExcludeRules(settings.exclude_patterns, settings.use_gitignore)
        self.reconciler = Reconciler(store, self.rules)
        #: Folders to work on first (the one the user is asking about), set by the caller.
        self.focus: list[str] = []
        #: Rests between batches (on battery), set by the background service.
        self.pacer: Pacer | None = None
        #: Files whose reading started early: their status and hash from just before.
        self._read_ahead: dict[int, tuple[os.stat_result, str]] = {}
        #: Folders whose scanned pages and pictures are read by OCR (as of this pass).
        self._ocr_folders: set[int] = store.folders.with_ocr()
        self._own_extractor = extractor is None
        self.extractor = extractor or IsolatedExtractor(readers=reader_count(settings))
        if model is not None:
            store.chunks.ensure_model(model.model_id, model.dim, model.vector_source)
            store.chunks.demote_embedded(model.model_id)
        if store.get_meta("extractor_version") != str(EXTRACTOR_VERSION):
            # Page text or offsets may differ now: read every file again (vectors of
            # unchanged chunk text are reused).
            store.files.forget_content_hashes()
            store.set_meta("extractor_version", str(EXTRACTOR_VERSION))

    def close(self) -> None:
        if self._own_extractor:
            self.extractor.close()

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add_folder(self, path: Path, priority: int = 0, ocr: bool | None = None) -> int:
        """Index ``path`` from now on; ``ocr``: whether its scanned pages and pictures are read
        by OCR (None: as it was, off for a new folder)."""
        folder = indexable_folder(path)
        folder_id = self.store.folders.add(folder, priority)
        if ocr is not None:
            self.store.folders.set_ocr(folder, ocr)
        return folder_id

    def run(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> None:
        """Scan every folder, extract what changed, then embed until everything is searchable
        by meaning. Returns early (work kept) when ``cancel`` is set."""
        cancel = cancel or CancelToken()
        self.scan(progress, cancel)
        self.extract_pending(progress, cancel)
        self.embed_pending(progress, cancel)

    # -- phase one -----------------------------------------------------------------------

    def scan(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> ScanReport:
        """Compare folders with the database by size and mtime; record what must be redone."""
        report = self.reconciler.scan(progress, cancel)
        for folder in report.missing_folders:
            log.warning("indexed folder %s is missing; its index is kept until it returns", folder)
        return report

    def apply_changes(self, changes: ChangeSet) -> ScanReport:
        """Record what the watcher saw (renames keep their vectors), without a full scan."""
        return self.reconciler.apply(changes)

    def extract_pending(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> int:
        """Extract and chunk every pending file; keyword search sees each as it lands."""
        self._ocr_folders = self.store.folders.with_ocr()
        self._notice_ocr_engine()
        total = self.store.files.pending_count()
        done = 0
        ocr_pages = 0
        current = ""

        def on_ocr_page() -> None:  # a child read a scanned page (seconds each): say so
            nonlocal ocr_pages
            ocr_pages += 1
            progress(Progress("extract", done, max(total, done), current, ocr_pages=ocr_pages))

        self.extractor.on_ocr_page = on_ocr_page
        interrupted: set[int] = set()  # left pending by an interrupt: next pass, not again now
        while True:
            batch = self.store.files.pending_files(limit=200, focus=self.focus)
            if not batch or all(record.id in interrupted for record in batch):
                break
            index = 0
            while index < len(batch):
                group_started = time.monotonic()
                # Files read within a short time share one commit: FTS5 writes a segment per
                # commit, and the commits cost more than the rows. A crash loses only these
                # files' rows; they are still pending and are read again.
                with self.store.conn:
                    deadline = group_started + GROUP_COMMIT_S
                    while True:
                        record = batch[index]
                        current = record.path
                        progress(Progress("extract", done, max(total, done), record.path,
                                          ocr_pages=ocr_pages))
                        if cancel is not None and cancel.cancelled:
                            return done
                        ahead = batch[index + 1: index + 1 + self.extractor.ahead]
                        if self.extract_one(record, ahead) == "pending":
                            interrupted.add(record.id)
                        index += 1
                        done += 1
                        if index == len(batch) or time.monotonic() >= deadline:
                            break
                self._rest(time.monotonic() - group_started, cancel)
        progress(Progress("extract", done, max(total, done), ocr_pages=ocr_pages))
        return done

    def _notice_ocr_engine(self) -> None:
        """When Tesseract has come (or gone) since the last pass, the scans left unread in
        folders that ask for OCR are read again. Looked for only where a folder asks."""
        if not self._ocr_folders:
            return
        engine = find_ocr_engine()
        if self.store.get_meta("ocr_engine") == engine.signature:
            return
        if engine.available:
            self.store.files.read_scans_again(self._ocr_folders, read=True)
        self.store.set_meta("ocr_engine", engine.signature)

    def extract_one(self, record: FileRecord, ahead: Sequence[FileRecord] = ()) -> str:
        """Bring one pending file to extracted (or embedded, failed, skipped, deleted). Never
        raises for bad input: the reason is recorded on the file. ``ahead``, the files to be
        read next, are handed to the extraction processes as soon as this one's text is in,
        so they read those while this process chunks and stores this one."""
        try:
            for _ in range(READ_ATTEMPTS):
                try:
                    return self._read(record, ahead)
                except _Changed:
                    continue
            self.store.files.mark_unreadable(record.id, "failed", KEPT_CHANGING)
        except _Skip as skip:
            self.store.files.mark_unreadable(record.id, "skipped", skip.reason, skip.size,
                                             skip.mtime)
            return "skipped"
        except ExtractionInterrupted:
            return "pending"  # an interrupt is never the file's fault: it is read next time
        except ExtractionError as exc:
            if not os.path.lexists(record.path):
                return self._vanished(record)
            state = "skipped" if isinstance(exc, NothingToRead | OverSizeCap) else "failed"
            unread_scans = exc.unread_scans if isinstance(exc, ScansNotRead) else 0
            self.store.files.mark_unreadable(record.id, state, str(exc),
                                             unread_scans=unread_scans)
            return state
        except FileNotFoundError:
            return self._vanished(record)
        except PermissionError:
            self.store.files.mark_unreadable(record.id, "failed", "no permission to read this file")
        except OSError as exc:
            reason = f"could not read the file: {exc.strerror or exc}"
            self.store.files.mark_unreadable(record.id, "failed", reason)
        except Exception as exc:  # a bug or a library crash on odd input must not stop indexing
            if cause_among(exc, ENVIRONMENT_ERRORS) is not None:
                raise  # a full disk or a damaged index is not this file's fault: stop
            log.exception("unexpected error extracting %s", record.path)
            self.store.files.mark_unreadable(record.id, "failed", f"unexpected error: {exc!r}")
        return "failed"

    def _read(self, record: FileRecord, ahead: Sequence[FileRecord] = ()) -> str:
        # Hashed when its reading started ahead; the check below covers the time since.
        hashed = self._read_ahead.pop(record.id, None)
        before, digest = hashed or self._hash_regular_file(record.path)
        if digest == record.content_hash and self._has_chunks(record.id):
            return self._restore(record, before.st_size, before.st_mtime)
        try:
            doc = self.extractor.extract(Path(record.path), ocr=self._reads_scans(record))
        except ExtractionError:
            # Caught half-written (an empty or cut-off file): read it again, as below.
            if _identity(os.stat(record.path)) != _identity(before):
                raise _Changed from None
            raise
        after = os.stat(record.path)
        if _identity(after) != _identity(before):
            raise _Changed  # rewritten or replaced meanwhile: what was read may be a mix
        for upcoming in ahead:
            if upcoming.id not in self._read_ahead:
                self._start_reading(upcoming)
        counter = self.model.count_tokens if self.model else _approx_tokens
        chunks = chunk_document(doc, counter, self.settings.chunk_tokens)
        return self.store.chunks.replace(
            record.id,
            chunks,
            content_hash=digest,
            size=before.st_size,
            mtime=before.st_mtime,
            kind=doc.kind,
            title=doc.title,
            page_count=len(doc.pages),
            note=doc.note,
            model_id=self.model.model_id if self.model else None,
            ocr_pages=doc.ocr_pages,
            unread_scans=doc.unread_scans,
        )

    def _reads_scans(self, record: FileRecord) -> bool:
        return record.folder_id in self._ocr_folders

    def _start_reading(self, record: FileRecord) -> None:
        """Hash ``record``'s file now and, if its content is new, have the extraction process
        start reading it. Any problem is left for its own turn to find and report."""
        try:
            self._read_ahead[record.id] = hashed = self._hash_regular_file(record.path)
        except (_Skip, OSError):
            return
        digest = hashed[1]
        if digest != record.content_hash or not self._has_chunks(record.id):
            self.extractor.start(Path(record.path), ocr=self._reads_scans(record))

    def _hash_regular_file(self, path: str) -> tuple[os.stat_result, str]:
        """The file's status and content hash, read through one descriptor so both describe
        the same file. Raises ``_Skip`` for files that are not to be read."""
        # O_NONBLOCK: opening a pipe for reading would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(fd)
            reason = self._reason_to_skip(st)
            if reason is not None:
                raise _Skip(reason, st)
            digest = hashlib.blake2b(digest_size=20)
            while block := f.read(HASH_BLOCK):
                digest.update(block)
        return st, digest.hexdigest()

    def _reason_to_skip(self, st: os.stat_result) -> str | None:
        if not stat.S_ISREG(st.st_mode):
            return NOT_REGULAR
        if st.st_size == 0:
            return "empty file"
        if st.st_size > self.settings.max_file_mb * 1024 * 1024:
            return f"larger than the size limit ({self.settings.max_file_mb} MB)"
        return None

    def _vanished(self, record: FileRecord) -> str:
        # Deleted since the scan: forget it; the watcher or next scan sees the truth.
        self.store.files.delete([record.id])
        return "deleted"

    def _has_chunks(self, file_id: int) -> bool:
        return self.store.chunks.has_chunks(file_id)

    def _restore(self, record: FileRecord, size: int, mtime: float) -> str:
        """Touched but not changed: keep everything, only note the new size and mtime."""
        state = "extracted"
        if self.model is not None and self.store.chunks.vec_table(self.model.model_id) is not None:
            missing = self.store.chunks.missing_vectors(self.model.model_id, record.id)
            state = "embedded" if missing == 0 else "extracted"
        self.store.files.set_state(record.id, state, None, size=size, mtime=mtime,
                                   indexed_at=time.time())
        return state

    # -- phase two -----------------------------------------------------------------------

    def embed_pending(
        self,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        batch_chunks: int = EMBED_BATCH_CHUNKS,
    ) -> int:
        """Embed chunks that lack a vector: focused folders first, then by folder priority,
        first chunks of every file before deeper ones."""
        if self.model is None:
            return 0
        model_id = self.model.model_id
        self.store.chunks.ensure_model(model_id, self.model.dim)
        self.store.chunks.promote_embedded(model_id)
        total = self.store.chunks.missing_vectors(model_id)
        done = tokens = 0
        while not (cancel is not None and cancel.cancelled):
            fetched = self.store.chunks.needing_vectors(
                model_id, max(batch_chunks, EMBED_FETCH_CHUNKS), self.focus
            )
            if not fetched:
                break
            late = self.settings.late_chunking
            batches = (self._file_windows(model_id, fetched) if late else
                       (fetched[at : at + batch_chunks] for at in range(0, len(fetched),
                                                                        batch_chunks)))
            for batch in batches:
                if cancel is not None and cancel.cancelled:
                    break
                batch_started = time.monotonic()
                texts = [embedding_input(c.title, c.heading, c.text) for c in batch]
                if late:
                    vectors = self.model.embed_in_context(texts)
                else:
                    vectors = self.model.embed_documents(texts)
                self.store.chunks.add_vectors(model_id, [c.id for c in batch], vectors)
                done += len(batch)
                tokens += sum(c.token_count for c in batch)
                progress(Progress("embed", done, max(total, done), batch[-1].title, tokens))
                self._rest(time.monotonic() - batch_started, cancel)
        return done

    def _rest(self, worked_s: float, cancel: CancelToken | None) -> None:
        if self.pacer is not None:
            self.pacer.rest_after(worked_s, cancel)

    def _file_windows(self, model_id: str,
                      fetched: list[PendingChunk]) -> Iterator[list[PendingChunk]]:
        """Late chunking: for each file among ``fetched`` (in their order), its chunks still
        without a vector, in document order, cut into runs that fit the embed window."""
        model = self.model
        assert model is not None

        def size(chunk: PendingChunk) -> int:
            text = embedding_input(chunk.title, chunk.heading, chunk.text)
            return model.count_tokens(text) + _WINDOW_GAP

        budget = model.embed_max_tokens - _WINDOW_SPECIALS
        for file_id in dict.fromkeys(c.file_id for c in fetched):
            yield from runs_within(self.store.chunks.file_needing_vectors(model_id, file_id),
                                   size, budget)


def embedding_input(title: str, heading: str, text: str) -> str:
    """The chunk as the model sees it: where it comes from, then its words. The title and
    heading path give a passage cut from its context back some of its meaning."""
    context = " > ".join(part for part in (title, heading) if part and part not in text[:200])
    return f"{context}\n{text}" if context else text


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def indexable_folder(path: Path) -> Path:
    """``path`` as the index keeps it; NotADirectoryError (its message for the user) when it
    is not a folder that can be indexed."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder I can read.")
    if not is_storable(str(path)):
        raise NotADirectoryError(
            f"{str(path)!r} has a name that is not valid text (UTF-8), which the index "
            "cannot hold. Renaming the folder fixes this."
        )
    return path
