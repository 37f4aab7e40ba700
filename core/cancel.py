"""Cancel tokens and progress reports shared by every long-running core call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


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


@dataclass(frozen=True)
class Progress:
    """A snapshot of long work: which phase, how far, and what is being worked on."""

    phase: str  # "scan", "extract", "embed"
    done: int
    total: int
    current: str = ""
    tokens: int = 0  # model tokens processed so far in this phase (embed only)


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The default progress callback: report nothing."""
