"""Numbered schema migrations, applied in order; ``PRAGMA user_version`` records the last one.

Add a migration by appending to ``MIGRATIONS``; never edit one that has shipped. A migration
is SQL, or a function for steps that depend on the data (one table per model). Each runs in
one transaction with its version bump, so an interrupted upgrade leaves the database as it
was and the next start runs it again.
"""

from __future__ import annotations

from collections.abc import Callable

import apsw


def _add_bit_vectors(conn: apsw.Connection) -> None:
    """2: a one-bit-per-dimension copy of every model's vectors (``core/store/vectors.py``
    searches it past tens of thousands of chunks), and the full-text vocabulary, whose
    document counts let the keyword side skip words that are everywhere."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_terms USING fts5vocab(chunks_fts, row)"
    )
    for vec_table, dim in conn.execute("SELECT vec_table, dim FROM models").fetchall():
        # Written out rather than imported: a shipped migration must not change with the code.
        bits_table = "vbit_" + str(vec_table).removeprefix("vec_")
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {bits_table} USING vec0("
            f"chunk_id INTEGER PRIMARY KEY, embedding bit[{int(str(dim))}])"
        )
        conn.execute(
            f"INSERT INTO {bits_table}(chunk_id, embedding) "
            f"SELECT chunk_id, vec_quantize_binary(embedding) FROM {vec_table}"
        )


MIGRATIONS: list[str | Callable[[apsw.Connection], None]] = [
    # 1: folders, files and their state machine, chunks, full-text index, model registry.
    """
    CREATE TABLE folders(
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE files(
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        content_hash TEXT,
        state TEXT NOT NULL CHECK (state IN
            ('pending', 'extracted', 'embedded', 'failed', 'skipped')),
        error TEXT,
        kind TEXT,
        title TEXT,
        page_count INTEGER,
        indexed_at REAL
    );
    CREATE INDEX files_state ON files(state);
    CREATE INDEX files_folder ON files(folder_id);
    CREATE TABLE chunks(
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        page INTEGER,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        heading TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        token_count INTEGER NOT NULL
    );
    CREATE INDEX chunks_file ON chunks(file_id, ordinal);
    CREATE INDEX chunks_hash ON chunks(text_hash);
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, heading, content='chunks', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    -- External-content FTS must be told about every change; triggers keep it exact and in
    -- the same transaction as the chunk rows.
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
            VALUES ('delete', old.id, old.text, old.heading);
    END;
    CREATE TABLE models(
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL UNIQUE,
        dim INTEGER NOT NULL,
        vec_table TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    _add_bit_vectors,
    # 3: which GGUF made each model's vectors, so that after a switch of model the previous
    # set can stay in use (its queries embedded by that file) until the new one is complete.
    "ALTER TABLE models ADD COLUMN source TEXT NOT NULL DEFAULT ''",
    # 4: where a chunk is when a page number does not say it ("slide 3", "sheet Budget,
    # rows 12-30", "message 4, 2024-03-01"), for citations a person can find again.
    "ALTER TABLE chunks ADD COLUMN location TEXT",
    # 5: what a folder's last full scan left out and why, as counts (files Kenning does not
    # read are not rows of ``files``): reason "unsupported" per extension ("" for none),
    # "excluded" per "file"/"folder" left out by the exclude rules.
    """
    CREATE TABLE skipped_kinds(
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        reason TEXT NOT NULL,
        name TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY(folder_id, reason, name)
    )
    """,
    # 6: what a file read only in part says about the rest ("read 1,355 of 2,000 pages; the
    # rest could not be read: the file looks truncated"), shown by status.
    "ALTER TABLE files ADD COLUMN note TEXT",
    # 7: OCR, on request per folder (off by default); per file the pages read by OCR and the
    # scanned pages left unread (OCR off, or Tesseract missing), for the status. PDFs of scans
    # only failed before ("no text found (scanned pages ...)"): read again, to be accounted
    # for as scans (skipped, or read if their folder asks for OCR).
    """
    ALTER TABLE folders ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN ocr_pages INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN unread_scans INTEGER NOT NULL DEFAULT 0;
    UPDATE files SET state = 'pending', error = NULL, content_hash = NULL
        WHERE state = 'failed' AND error LIKE 'no text found (scanned pages%';
    """,
    # 8: a sheet chunk's rows (``SheetRows`` as JSON), so that a sentence quoted from it is
    # cited by its own row, not the passage's range. Sheets are read again to get them.
    """
    ALTER TABLE chunks ADD COLUMN sheet_rows TEXT;
    UPDATE files SET state = 'pending', content_hash = NULL
        WHERE state IN ('extracted', 'embedded')
        AND (lower(path) LIKE '%.xlsx' OR lower(path) LIKE '%.ods' OR lower(path) LIKE '%.csv'
             OR lower(path) LIKE '%.tsv');
    """,
]


class NewerSchema(Exception):
    """The database was written by a newer Kenning; the message says what to do."""


def schema_version(conn: apsw.Connection) -> int:
    """The last migration applied; raises NewerSchema for one this Kenning does not know."""
    version = int(conn.execute("PRAGMA user_version").fetchall()[0][0])  # type: ignore[arg-type]
    if version > len(MIGRATIONS):
        raise NewerSchema(
            f"This index was written by a newer Kenning (schema {version}, this version "
            f"knows {len(MIGRATIONS)}). Update Kenning, or choose another data folder."
        )
    return version


def migrate(conn: apsw.Connection) -> int:
    """Bring the schema up to date; returns the version now in force. Call it inside a write
    transaction begun IMMEDIATE, so that two processes opening a new file at once do not both
    create its tables: the second waits, then finds the version current."""
    version = schema_version(conn)
    for number in range(version + 1, len(MIGRATIONS) + 1):
        step = MIGRATIONS[number - 1]
        with conn:
            if callable(step):
                step(conn)
            else:
                conn.execute(step)
            conn.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
