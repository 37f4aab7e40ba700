"""The indexing pipeline and its state machine.

A file moves ``pending → extracted → embedded``, or ends ``failed`` / ``skipped`` with a
reason. Phase one (scan + extract) fills the full-text index so keyword search works at once;
phase two embeds in the background. Every step commits on its own, so a kill at any moment
loses at most the file or batch in flight, and the next run resumes there.

>>> indexer = Indexer(store, model, settings)
>>> indexer.add_folder(Path("~/Documents").expanduser())
>>> indexer.run(progress=print, cancel=CancelToken())
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from core.cancel import CancelToken, Progress, ProgressCallback, no_progress
from core.chunking import chunk_document
from core.config import Settings
from core.extract import EXTRACTOR_VERSION, ExtractionError, is_supported
from core.extract_worker import IsolatedExtractor
from core.model import TextModel
from core.store import FileRecord, Store
from core.walk import ExcludeRules, FoundFile

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 16
HASH_BLOCK = 1 << 20


@dataclass
class ScanReport:
    new_or_changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    moved: int = 0


def content_hash(path: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class Indexer:
    """Keeps the store in step with the folders. Owns the store's write connection."""

    def __init__(
        self,
        store: Store,
        model: TextModel | None,
        settings: Settings,
        extractor: IsolatedExtractor | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.settings = settings
        self.rules = ExcludeRules(settings.exclude_patterns, settings.use_gitignore)
        self._own_extractor = extractor is None
        self.extractor = extractor or IsolatedExtractor()
        if model is not None:
            store.ensure_model(model.model_id, model.dim)
            store.demote_embedded(model.model_id)
        if store.get_meta("extractor_version") != str(EXTRACTOR_VERSION):
            # Page text or offsets may differ now: read every file again (vectors of
            # unchanged chunk text are reused).
            store.forget_content_hashes()
            store.set_meta("extractor_version", str(EXTRACTOR_VERSION))

    def close(self) -> None:
        if self._own_extractor:
            self.extractor.close()

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add_folder(self, path: Path, priority: int = 0) -> int:
        path = path.expanduser().resolve()
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is not a folder I can read.")
        return self.store.add_folder(path, priority)

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
        report = ScanReport()
        for folder_id, folder in self.store.folders():
            if cancel is not None and cancel.cancelled:
                break
            known = self.store.files_in_folder(folder_id)
            found: dict[str, FoundFile] = {}
            for entry in self.rules.walk(Path(folder), wanted=_wanted):
                found[entry.path] = entry
                if len(found) % 500 == 0:
                    progress(Progress("scan", len(found), 0, entry.path))
            changed = [f for p, f in found.items() if p not in known or _differs(known[p], f)]
            gone = [rec for p, rec in known.items() if p not in found]
            moved = self._match_moves(gone, [f for f in changed if f.path not in known])
            for record, entry in moved:
                self.store.move_file(record.id, entry.path, folder_id, entry.mtime)
            moved_paths = {e.path for _, e in moved}
            moved_ids = {r.id for r, _ in moved}
            self.store.add_pending(
                folder_id,
                ((f.path, f.size, f.mtime) for f in changed if f.path not in moved_paths),
            )
            self.store.delete_files(r.id for r in gone if r.id not in moved_ids)
            report.new_or_changed += len(changed) - len(moved)
            report.unchanged += len(found) - len(changed)
            report.deleted += len(gone) - len(moved)
            report.moved += len(moved)
        return report

    def _match_moves(
        self, gone: list[FileRecord], new: list[FoundFile]
    ) -> list[tuple[FileRecord, FoundFile]]:
        """Files that vanished and reappeared elsewhere with the same content are moves."""
        by_size: dict[int, list[FileRecord]] = {}
        for rec in gone:
            if rec.content_hash:
                by_size.setdefault(rec.size, []).append(rec)
        pairs: list[tuple[FileRecord, FoundFile]] = []
        for entry in new:
            candidates = by_size.get(entry.size)
            if not candidates:
                continue
            try:
                digest = content_hash(entry.path)
            except OSError:
                continue
            for rec in candidates:
                if rec.content_hash == digest:
                    candidates.remove(rec)
                    pairs.append((rec, entry))
                    break
        return pairs

    def extract_pending(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> int:
        """Extract and chunk every pending file; keyword search sees each as it lands."""
        total = self.store.count("SELECT count(*) FROM files WHERE state = 'pending'")
        done = 0
        while True:
            batch = self.store.pending_files(limit=200)
            if not batch:
                break
            for record in batch:
                progress(Progress("extract", done, total, record.path))
                if cancel is not None and cancel.cancelled:
                    return done
                self.extract_one(record)
                done += 1
        progress(Progress("extract", done, total))
        return done

    def extract_one(self, record: FileRecord) -> str:
        """Bring one pending file to extracted (or embedded, failed, skipped). Never raises
        for bad input: the reason is recorded on the file."""
        try:
            st = os.stat(record.path)
            cap = self.settings.max_file_mb * 1024 * 1024
            if st.st_size > cap:
                reason = f"larger than the size limit ({self.settings.max_file_mb} MB)"
                self.store.set_state(record.id, "skipped", reason, size=st.st_size)
                return "skipped"
            digest = content_hash(record.path)
            if digest == record.content_hash and self._has_chunks(record.id):
                return self._restore(record, st.st_size, st.st_mtime)
            doc = self.extractor.extract(Path(record.path))
            counter = self.model.count_tokens if self.model else _approx_tokens
            chunks = chunk_document(doc, counter, self.settings.chunk_tokens)
            return self.store.replace_chunks(
                record.id,
                chunks,
                content_hash=digest,
                size=st.st_size,
                mtime=st.st_mtime,
                kind=doc.kind,
                title=doc.title,
                page_count=len(doc.pages),
                model_id=self.model.model_id if self.model else None,
            )
        except ExtractionError as exc:
            self.store.set_state(record.id, "failed", str(exc))
        except FileNotFoundError:
            # Deleted since the scan: forget it; the next scan sees the truth.
            self.store.delete_files([record.id])
            return "deleted"
        except PermissionError:
            self.store.set_state(record.id, "failed", "no permission to read this file")
        except OSError as exc:
            self.store.set_state(record.id, "failed", f"could not read the file: {exc.strerror}")
        except Exception as exc:  # a bug or a library crash on odd input must not stop indexing
            log.exception("unexpected error extracting %s", record.path)
            self.store.set_state(record.id, "failed", f"unexpected error: {exc!r}")
        return "failed"

    def _has_chunks(self, file_id: int) -> bool:
        return self.store.count("SELECT count(*) FROM chunks WHERE file_id = ?", (file_id,)) > 0

    def _restore(self, record: FileRecord, size: int, mtime: float) -> str:
        """Touched but not changed: keep everything, only note the new size and mtime."""
        table = self.store.vec_table(self.model.model_id) if self.model else None
        state = "extracted"
        if table is not None:
            missing = self.store.count(
                f"SELECT count(*) FROM chunks c WHERE c.file_id = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id)",
                (record.id,),
            )
            state = "embedded" if missing == 0 else "extracted"
        self.store.set_state(record.id, state, None, size=size, mtime=mtime)
        return state

    # -- phase two -----------------------------------------------------------------------

    def embed_pending(
        self,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        batch_chunks: int = EMBED_BATCH_CHUNKS,
    ) -> int:
        """Embed chunks that lack a vector, first chunks of every file first."""
        if self.model is None:
            return 0
        model_id = self.model.model_id
        table = self.store.ensure_model(model_id, self.model.dim)
        total = self.store.count(
            "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
            f"WHERE f.state = 'extracted' AND NOT EXISTS "
            f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id)"
        )
        done = tokens = 0
        while not (cancel is not None and cancel.cancelled):
            batch = self.store.chunks_needing_vectors(model_id, batch_chunks)
            if not batch:
                break
            texts = [embedding_input(c.title, c.heading, c.text) for c in batch]
            vectors = self.model.embed_documents(texts)
            self.store.add_vectors(model_id, [c.id for c in batch], vectors)
            done += len(batch)
            tokens += sum(c.token_count for c in batch)
            progress(Progress("embed", done, max(total, done), batch[-1].title, tokens))
        return done


def embedding_input(title: str, heading: str, text: str) -> str:
    """The chunk as the model sees it: where it comes from, then its words. The title and
    heading path give a passage cut from its context back some of its meaning."""
    context = " > ".join(part for part in (title, heading) if part and part not in text[:200])
    return f"{context}\n{text}" if context else text


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _differs(record: FileRecord, entry: FoundFile) -> bool:
    if record.state == "pending":
        return True
    return record.size != entry.size or abs(record.mtime - entry.mtime) > 1e-6


def _wanted(path: str) -> bool:
    return is_supported(Path(path))
