"""Long commands are never silent off a terminal: plain progress lines, at most one every few
seconds, with the rate and the time left."""

from __future__ import annotations

import io

from core.cancel import Progress
from core.cli.output import ProgressPrinter, progress_line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_line_every_few_seconds_and_one_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    printer = ProgressPrinter(out, line_every=5, clock=clock)
    printer(Progress("embed", 0, 1000))
    for done in range(10, 1001, 10):
        clock.now += 0.5  # 20 passages a second
        printer(Progress("embed", done, 1000))
    lines = out.getvalue().splitlines()
    assert 9 <= len(lines) <= 11  # 50 s of work: one line per 5 s, and the last
    assert lines[0] == "Embedding: 100 of 1,000 passages (10%), 20.0 a second, about 45 s left"
    assert lines[-1].startswith("Embedding: 1,000 of 1,000 passages (100%)")
    printer.say("Indexed 3 files.")
    assert out.getvalue().endswith("Indexed 3 files.\n")


def test_the_time_left_reads_as_a_person_would_say_it() -> None:
    assert progress_line(Progress("extract", 30, 1000), 60).endswith(
        "0.5 a second, about 32 min left")
    assert progress_line(Progress("extract", 30, 30000), 60).endswith("about 16.6 h left")
    assert progress_line(Progress("scan", 12, 0), 3) == "Scanning: 12 files, 4.0 a second"


def test_pages_read_by_ocr_are_said_while_files_are_read() -> None:
    line = progress_line(Progress("extract", 3, 10, "/scans/book.pdf", ocr_pages=41), 60)
    assert line == ("Reading files: 3 of 10 files (30%), 0.1 a second, about 2 min left; "
                    "41 scanned pages read by OCR")
    assert progress_line(Progress("extract", 0, 1, ocr_pages=1), 1).endswith(
        "; 1 scanned page read by OCR")
