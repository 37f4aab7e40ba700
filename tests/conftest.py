"""Fixtures shared by the whole suite: a private Kenning home, a store, sample folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# GUI tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh KENNING_HOME so no test touches the user's real index."""
    path = tmp_path / "kenning-home"
    monkeypatch.setenv("KENNING_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def extractor():
    """One extraction child process for the whole run (each start costs a fraction of a second)."""
    from core.extract_worker import IsolatedExtractor

    worker = IsolatedExtractor(timeout=60)
    yield worker
    worker.close()
