"""Fixtures for core tests: the real default GGUF (tests marked ``model``), and a record of
the store's integrity checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from core.models.llama.unified import UnifiedModel


@pytest.fixture(scope="session")
def default_gguf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bundled gemma-3-270m, assembled once per run (about a second) and removed after,
    so kept pytest temp folders do not pile up 250 MB copies."""
    from core.models.default_model import default_model_path

    path = default_model_path(tmp_path_factory.mktemp("models"))
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def real_model(default_gguf: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[UnifiedModel]:
    """One loaded ``UnifiedModel`` shared by the run, loaded as Kenning loads it: from its
    prepared copy (``prepared_weights``, removed after). Loading takes about two seconds."""
    from core.models.llama.unified import UnifiedModel

    cache = tmp_path_factory.mktemp("model-cache")
    model = UnifiedModel.load(default_gguf, n_ctx=2048, cache_dir=cache)
    yield model
    model.close()
    for copy in cache.glob("*.gguf"):
        copy.unlink()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every integrity check (``PRAGMA quick_check``) the store runs, recorded."""
    import apsw

    from core.store import database as store_module

    seen: list[str] = []
    connect = store_module._connect

    def traced(path: Path, uri: str | None = None) -> apsw.Connection:
        conn = connect(path, uri)

        def trace(cursor: apsw.Cursor, sql: str, bindings: object) -> bool:
            if "quick_check" in sql:
                seen.append(sql)
            return True

        conn.exec_trace = trace
        return conn

    monkeypatch.setattr(store_module, "_connect", traced)
    return seen
