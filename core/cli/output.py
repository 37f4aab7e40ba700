"""What the command line prints: progress bars, hits with marked words, status as JSON."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.cancel import Progress
from core.types import Answer, Citation, Hit

if TYPE_CHECKING:
    from tqdm import tqdm

    from core.services import Services
    from core.store.database import Store

_PHASE_LABEL = {"scan": "Scanning", "extract": "Reading files", "embed": "Embedding"}


class ProgressPrinter:
    """A progress callback: one bar per phase on a terminal; elsewhere (a log file, a
    scheduled job) a plain line at most every ``line_every`` seconds, with the rate and the
    time left, so long work is never silent."""

    def __init__(self, stream: TextIO, line_every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.bar: tqdm | None = None
        self.phase = ""
        self.line_every = line_every
        self.clock = clock
        self.phase_started = 0.0
        self.last_line = 0.0

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            self._plain_line(progress)
            return
        if progress.phase != self.phase:
            from tqdm import tqdm  # only on a terminal, and only once there is progress

            self.close()
            self.phase = progress.phase
            unit = "chunk" if progress.phase == "embed" else "file"
            self.bar = tqdm(
                total=progress.total or None,
                desc=_PHASE_LABEL.get(progress.phase, progress.phase),
                unit=unit,
                file=self.stream,
                leave=True,
                dynamic_ncols=True,
            )
        assert self.bar is not None
        if progress.total and self.bar.total != progress.total:
            self.bar.total = progress.total
        self.bar.n = progress.done
        if progress.current or progress.ocr_pages:
            postfix = _short(progress.current) if progress.current else ""
            if progress.ocr_pages:
                postfix = f"{progress.ocr_pages:,} scanned pages read by OCR; {postfix}"
            self.bar.set_postfix_str(postfix.strip("; "), refresh=False)
        self.bar.refresh()

    def _plain_line(self, progress: Progress) -> None:
        now = self.clock()
        if progress.phase != self.phase:
            self.phase, self.phase_started, self.last_line = progress.phase, now, now
            return
        finished = bool(progress.total) and progress.done >= progress.total
        if now - self.last_line < self.line_every and not finished:
            return
        self.last_line = now
        print(progress_line(progress, now - self.phase_started), file=self.stream, flush=True)

    def say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_line(progress: Progress, elapsed: float) -> str:
    """``Embedding: 1,200 of 5,000 passages (24%), 40 a second, about 2 min left``."""
    label = _PHASE_LABEL.get(progress.phase, progress.phase)
    unit = "passages" if progress.phase == "embed" else "files"
    line = f"{label}: {progress.done:,}"
    if progress.total:
        line += f" of {progress.total:,} {unit} ({100 * progress.done // progress.total}%)"
    else:
        line += f" {unit}"
    if elapsed > 0 and progress.done:
        rate = progress.done / elapsed
        line += f", {rate:,.1f} a second"
        if progress.total and progress.done < progress.total:
            line += f", about {duration((progress.total - progress.done) / rate)} left"
    if progress.ocr_pages:
        plural = "s" if progress.ocr_pages != 1 else ""
        line += f"; {progress.ocr_pages:,} scanned page{plural} read by OCR"
    return line


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _short(path: str, width: int = 40) -> str:
    name = one_line(os.path.basename(path) or path)
    return name if len(name) <= width else "…" + name[-(width - 1) :]


# Control characters (escape sequences that set a title or clear the screen) and the marks
# that reverse text direction: a file's name or words never act on the user's terminal.
_WIDE_CONTROL_AND_DIRECTION = "\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f{_WIDE_CONTROL_AND_DIRECTION}]")
_CONTROL_OR_BREAK = re.compile(f"[\x00-\x1f{_WIDE_CONTROL_AND_DIRECTION}]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``), so what a file
    holds is printed, never obeyed. Newlines and tabs stay."""
    return _CONTROL.sub(_escaped, text)


def one_line(text: str) -> str:
    """``terminal_safe`` that shows newlines and tabs as escapes too: a file's name (which may
    hold a newline) stays on its own line and cannot pass for another result."""
    return _CONTROL_OR_BREAK.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


# Bold on, and every attribute off, for a terminal that shows them.
BOLD, PLAIN = "\033[1m", "\033[0m"


def shows_bold(out: TextIO) -> bool:
    """Whether ``out`` is a terminal that shows bold (not a file, a pipe, or TERM=dumb)."""
    return out.isatty() and os.environ.get("TERM", "") != "dumb"


def print_hits(hits: list[Hit], out: TextIO) -> None:
    if not hits:
        print("No matches.", file=out)
        return
    open_mark, close_mark = (BOLD, PLAIN) if shows_bold(out) else ("[", "]")
    for rank, hit in enumerate(hits, 1):
        place = hit.where()
        where = one_line(hit.path + (f"  {place}" if place else ""))
        print(f"{rank:>2}. {where}  (score {hit.score:.4f})", file=out)
        print("    " + _marked(hit, open_mark, close_mark), file=out)


def _marked(hit: Hit, open_mark: str, close_mark: str) -> str:
    parts: list[str] = []
    pos = 0
    for start, end in hit.snippet_matches:
        parts.append(terminal_safe(hit.snippet[pos:start]))
        parts.append(open_mark + terminal_safe(hit.snippet[start:end]) + close_mark)
        pos = end
    parts.append(terminal_safe(hit.snippet[pos:]))
    return " ".join("".join(parts).split())


def status_json(store: Store, services: Services) -> dict[str, object]:
    from core.extract.ocr import INSTALL_HELP, find_ocr_engine
    from core.index.reconcile import describe_left_out, describe_scans
    from core.store.files import FILE_STATES

    with_ocr = store.folders.with_ocr()
    # Looked for only when a folder asks for OCR: a status stays quick without it.
    engine = find_ocr_engine() if with_ocr else None
    problem = engine.problem if engine is not None else None
    folders = []
    scans: list[str] = []
    for folder_id, path in store.folders.all():
        scanned = store.files.scan_counts(folder_id)
        folders.append(
            {"path": path, "files": store.files.state_counts(folder_id),
             **_left_out_json(store.folders.skipped_kinds(folder_id)),
             "ocr": folder_id in with_ocr, "scanned": asdict(scanned)}
        )  # fmt: skip
        scans += describe_scans(path, folder_id in with_ocr, scanned, problem)
    counts: dict[str, int] = store.files.state_counts()
    files: dict[str, int] = {state: counts[state] for state in FILE_STATES}
    files["total"] = sum(counts.values())
    kinds = store.folders.skipped_kinds()
    return {
        "database": str(services.paths.database),
        "folders": folders,
        "files": files,
        **_left_out_json(kinds),
        "left_out": describe_left_out(kinds),
        "chunks": store.chunks.count(),
        "failures": [{"path": p, "state": s, "error": e} for p, s, e in store.files.failures()],
        "failures_total": counts.get("failed", 0) + counts.get("skipped", 0),
        "notes": [{"path": p, "note": n} for p, n in store.files.notes()],
        "scanned": asdict(store.files.scan_counts()),
        "scans": scans,
        "ocr_engine": None if engine is None else {
            "available": engine.available, "problem": problem,
            "install_help": INSTALL_HELP if problem else None},
    }


def _left_out_json(kinds: dict[tuple[str, str], int]) -> dict[str, object]:
    """Files the scans did not take in: unsupported per extension, excluded entries."""
    return {
        "unsupported": {name: n for (reason, name), n in sorted(kinds.items())
                        if reason == "unsupported"},
        "excluded": {"files": kinds.get(("excluded", "file"), 0),
                     "folders": kinds.get(("excluded", "folder"), 0)},
    }  # fmt: skip


def print_answer(answer: Answer, streamed: str, out: TextIO) -> None:
    """The checked answer, after whatever of it streamed (``streamed``): printed whole when
    nothing streamed (a quoted answer arrives whole, once read), or after a note when what
    streamed was the model's wording and the check replaced it; then the sentences of the
    files that back a written answer, and the sources."""
    from core.answer.answerer import QUOTE_INTRO, WORDING_SET_ASIDE

    shown = streamed.strip()
    if shown and shown != answer.text and (answer.quoted or not answer.found):
        text = emphasised(answer.text, answer.emphasis, out)
        print(f"\n\n{WORDING_SET_ASIDE}\n{text}", end="", file=out)
    elif not shown:
        print(emphasised(answer.text, answer.emphasis, out), end="", file=out)
    print(file=out)
    if answer.supporting:
        print(f"\n{QUOTE_INTRO}", file=out)
    for quote in answer.supporting:
        print(f"  “{emphasised(quote.text, quote.emphasis, out)}” [{quote.n}]", file=out)
    print_sources(answer, out)


def emphasised(text: str, emphasis: list[tuple[int, int]], out: TextIO) -> str:
    """``text`` made safe for the terminal, its ``emphasis`` spans in bold where ``out``
    shows bold; elsewhere its characters exactly, with no marks added (it is a quote)."""
    if not shows_bold(out):
        return terminal_safe(text)
    parts: list[str] = []
    pos = 0
    for start, end in sorted(emphasis):
        parts += [terminal_safe(text[pos:start]), BOLD, terminal_safe(text[start:end]), PLAIN]
        pos = end
    parts.append(terminal_safe(text[pos:]))
    return "".join(parts)


def print_sources(answer: Answer, out: TextIO) -> None:
    """The cited files and places. A found answer has shown its quotes already (it is one,
    or they are under it), so each source is named once; the closest passages of an answer
    not found are quoted, as they are all there is to read."""
    if not answer.citations:
        return
    print("\nClosest passages:" if not answer.found else "\nSources:", file=out)
    named: set[int] = set()
    for c in answer.citations:
        place = c.where()
        where = one_line(c.path + (f", {place}" if place else ""))
        if not answer.found:
            quote = terminal_safe(" ".join(c.quote.split()))
            print(f"  [{c.n}] {where}\n      “{quote}”", file=out)
        elif c.n not in named:
            print(f"  [{c.n}] {where}", file=out)
        named.add(c.n)


def answer_json(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "found": answer.found,
        "citations": [_citation_json(c) for c in answer.citations],
        "unsupported": answer.unsupported,
        "quoted": answer.quoted,
        "mode": answer.mode,
        "emphasis": [list(span) for span in answer.emphasis],
        "supporting": [
            {"n": q.n, "quote": q.text, "emphasis": [list(span) for span in q.emphasis]}
            for q in answer.supporting
        ],
    }


def _citation_json(citation: Citation) -> dict[str, object]:
    data: dict[str, object] = {
        "n": citation.n,
        "path": citation.path,
        "page": citation.page,
        "location": citation.location,
        "start": citation.start,
        "end": citation.end,
        "quote": citation.quote,
    }
    if citation.page is not None:
        # Imported here: PyMuPDF is a tenth of a second of every command's start otherwise.
        from core.extract import ExtractionError, span_quads
        from core.extract.render import is_paged

        data["quads"] = []
        # Slides, sheets and messages are numbered like pages but have no page layout.
        if is_paged(citation.path):
            with contextlib.suppress(ExtractionError):
                data["quads"] = [
                    list(q)
                    for q in span_quads(
                        Path(citation.path), citation.page, citation.start, citation.end
                    )
                ]
    return data
