"""Numbered schema migrations, applied in order; ``PRAGMA user_version`` records the last one.

Add a migration by appending to ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

import apsw

MIGRATIONS: list[str] = [
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
]


def migrate(conn: apsw.Connection) -> int:
    """Bring the schema up to date; returns the version now in force."""
    version = int(conn.execute("PRAGMA user_version").fetchall()[0][0])  # type: ignore[arg-type]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"This database was written by a newer Kenning (schema {version}, this version "
            f"knows {len(MIGRATIONS)}). Update Kenning, or choose another data folder."
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        with conn:
            conn.execute(MIGRATIONS[number - 1])
            conn.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
