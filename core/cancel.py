"""Cancel tokens and progress reports shared by every long-running core call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np



class Cancelled(Exception):
    """Raised inside a long call when its cancel token was set; the work done so far is kept."""


class CancelToken:
    """A flag another thread (or a signal handler) sets to stop work at the next safe point.

    >>> token = CancelToken()
    >>> token.cancel()
    >>> token.cancelled
    True
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class Preempted(Exception):
    """A background model pass stopped part-way because interactive work arrived. Nothing it
    computed is kept; it runs again after that work."""


class PassInterrupt:
    """A flag that stops a model pass between two of its steps. It lives in plain memory,
    one byte then a NUL, so native code reads it without Python: a pass pays nothing for it.

    >>> interrupt = PassInterrupt()
    >>> interrupt.set()
    >>> interrupt.is_set
    True
    """

    def __init__(self) -> None:
        # numpy owns the memory; core/models/llama/bindings hands its address to llama.cpp.
        import numpy as np  # here: commands that never run the model do not pay its import

        self._cell = np.zeros(2, dtype=np.uint8)

    def set(self) -> None:
        self._cell[0] = 1

    def clear(self) -> None:
        self._cell[0] = 0

    @property
    def is_set(self) -> bool:
        return bool(self._cell[0])

    @property
    def cell(self) -> np.ndarray:
        """The flag's memory as native code reads it: the flag's byte, then 0."""
        return self._cell


@dataclass(frozen=True)
class Progress:
    """A snapshot of long work: which phase, how far, and what is being worked on."""

    phase: str  # "scan", "extract", "embed"
    done: int
    total: int
    current: str = ""
    tokens: int = 0  # model tokens processed so far in this phase (embed only)
    #: Scanned pages read by OCR so far in this phase (extract only; a page takes seconds).
    ocr_pages: int = 0


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The default progress callback: report nothing."""
