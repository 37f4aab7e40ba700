"""Ask: a question box, the answer streaming in, citation numbers you can click, sources.

A quoted answer shows its answering phrase in bold; a written one shows, under it, the
sentences of the files that back it, quoted. A source is quoted once: under a found answer
(or as it) the list of sources names the files; when nothing was found it quotes the
closest passages.

Clicking ``[n]`` (or a source below the answer) emits ``citation_clicked`` with a preview
target: the window opens that file at the page with the supporting passage highlighted.
Follow-up questions carry the conversation so far; "New conversation" forgets it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app import jobs, theme
from app.engine import Engine
from app.preview import PreviewTarget
from app.tasks import TaskRunner
from core.answer.answerer import QUOTE_INTRO
from core.types import Answer, Citation, SupportingQuote

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
HISTORY_TURNS = 3
QUOTE_CHARS = 140


@dataclass
class Turn:
    question: str
    text: str = ""
    answer: Answer | None = None
    state: str = "waiting"  # waiting, streaming, done, stopped, failed
    error: str = ""
    citations: list[Citation] = field(default_factory=list)


class AnswerPanel(QWidget):
    citation_clicked = Signal(object)  # PreviewTarget
    busy_changed = Signal(bool)
    #: Each piece of answer text as it streams in.
    text_streamed = Signal(str)

    def __init__(
        self,
        tasks: TaskRunner,
        engine: Engine,
        scope: Callable[[], str | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.engine = engine
        self.scope = scope
        self.turns: list[Turn] = []
        self._operation: object | None = None
        self._waiting_for_model = False

        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._on_link)
        self.question = QLineEdit()
        self.question.setPlaceholderText("Ask a question about your files…")
        self.question.returnPressed.connect(self._ask_from_box)
        self.ask_button = QPushButton("Ask")
        self.ask_button.clicked.connect(self._ask_from_box)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer here (Esc)")
        self.stop_button.clicked.connect(self.cancel)
        self.new_button = QPushButton("New conversation")
        self.new_button.setToolTip("Forget earlier questions; the next one starts afresh")
        self.new_button.clicked.connect(self.new_conversation)
        header = QLabel("<b>Answer</b> — from your files, with sources you can check")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Hide the answers (the conversation is kept)")
        self.close_button.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(header, 1)
        top.addWidget(self.close_button)
        row = QHBoxLayout()
        row.addWidget(self.question, 1)
        for button in (self.ask_button, self.stop_button, self.new_button):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.browser, 1)
        layout.addLayout(row)
        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.cancel)
        stop.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        engine.model_ready.connect(self._on_model_ready)
        engine.model_failed.connect(self._on_model_failed)
        self._refresh()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh()  # the dim text colour is written into the HTML

    @property
    def busy(self) -> bool:
        return bool(self.turns) and self.turns[-1].state in ("waiting", "streaming")

    # -- asking ----------------------------------------------------------------------------

    def ask(self, question: str) -> None:
        question = question.strip()
        if not question:
            return
        self.cancel()
        self.turns.append(Turn(question))
        self.question.clear()
        self._start_if_ready()
        self._refresh()
        self.busy_changed.emit(True)

    def _ask_from_box(self) -> None:
        self.ask(self.question.text())

    def history(self) -> list[tuple[str, str]]:
        done = [t for t in self.turns[:-1] if t.state == "done" and t.answer and t.answer.found]
        return [(t.question, t.answer.text) for t in done[-HISTORY_TURNS:] if t.answer]

    def _start_if_ready(self) -> None:
        turn = self.turns[-1]
        model = self.engine.interactive_model
        if model is None:
            if self.engine.model_error:
                self._fail(turn, self.engine.model_error)
            else:
                self._waiting_for_model = True
            return
        self._waiting_for_model = False
        turn.state = "streaming"
        self._operation = self.tasks.run(
            partial(
                jobs.ask, model=model, question=turn.question, scope=self.scope(),
                history=self.history(), mode=self.engine.settings.answer_mode,
            ),
            progress=partial(self._on_text, turn),
            success=partial(self._on_answer, turn),
            failure=partial(self._on_failure, turn),
            lane="answer",
        )  # fmt: skip

    def cancel(self) -> None:
        """Stop the answer being written; what has arrived stays on screen."""
        if not self.busy:
            return
        turn = self.turns[-1]
        self.tasks.run(lambda ctx: None, lane="answer")  # supersedes and cancels the answer
        self._waiting_for_model = False
        turn.state = "stopped"
        self._refresh()
        self.busy_changed.emit(False)

    def new_conversation(self) -> None:
        self.cancel()
        self.turns.clear()
        self._refresh()

    def _on_model_ready(self) -> None:
        if self._waiting_for_model and self.turns:
            self._start_if_ready()
            self._refresh()

    def _on_model_failed(self, message: str) -> None:
        if self._waiting_for_model and self.turns:
            self._waiting_for_model = False
            self._fail(self.turns[-1], message)

    def _on_text(self, turn: Turn, piece: object) -> None:
        turn.text += str(piece)
        self._refresh()
        self.text_streamed.emit(str(piece))

    def _on_answer(self, turn: Turn, answer: Answer) -> None:
        turn.answer = answer
        turn.text = answer.text
        turn.citations = list(answer.citations)
        turn.state = "done"
        self._refresh()
        self.busy_changed.emit(False)

    def _on_failure(self, turn: Turn, error: BaseException) -> None:
        self._fail(turn, f"The answer could not be finished: {error}. Try asking again.")

    def _fail(self, turn: Turn, message: str) -> None:
        turn.state = "failed"
        turn.error = message
        self._refresh()
        self.busy_changed.emit(False)

    # -- citations -------------------------------------------------------------------------

    def citation(self, turn_index: int, n: int) -> Citation | None:
        if not 0 <= turn_index < len(self.turns):
            return None
        return next((c for c in self.turns[turn_index].citations if c.n == n), None)

    def open_citation(self, turn_index: int, n: int) -> None:
        citation = self.citation(turn_index, n)
        if citation is not None:
            self.citation_clicked.emit(PreviewTarget.from_citation(citation))

    def _on_link(self, url: QUrl) -> None:
        kind, _, rest = url.toString().partition(":")
        if kind != "cite":
            return
        turn, _, n = rest.partition(":")
        if turn.isdigit() and n.isdigit():
            self.open_citation(int(turn), int(n))

    # -- drawing ---------------------------------------------------------------------------

    def _refresh(self) -> None:
        self.stop_button.setVisible(self.busy)
        self.new_button.setEnabled(bool(self.turns))
        dim = theme.dim_text(self.palette()).name()
        if not self.turns:
            self.browser.setHtml(
                f"<p style='color:{dim}'>Ask anything about your files, for example "
                "<i>How much notice do I need to give?</i> Answers cite their sources; click "
                "a number to see the passage.</p>"
            )
            return
        parts = [self._turn_html(i, turn, dim) for i, turn in enumerate(self.turns)]
        self.browser.setHtml("<hr>".join(parts))
        bar = self.browser.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _turn_html(self, index: int, turn: Turn, dim: str) -> str:
        out = [f"<p><b>{html.escape(turn.question)}</b></p>"]
        linked = turn.state == "done" and bool(turn.citations)
        if turn.state == "waiting":
            out.append(
                f"<p style='color:{dim}'>The language model is still loading; your question "
                "will be answered as soon as it is ready.</p>"
            )
        elif turn.state == "failed":
            out.append(f"<p>{html.escape(turn.error)}</p>")
        else:
            emphasis = turn.answer.emphasis if turn.state == "done" and turn.answer else []
            text = _answer_html(turn.text, index, linked, emphasis)
            if turn.state == "streaming":
                text += (
                    f" <span style='color:{dim}'>…</span>"
                    if turn.text
                    else (f"<span style='color:{dim}'>Reading your files…</span>")
                )
            elif turn.state == "stopped":
                text += f" <span style='color:{dim}'>(stopped)</span>"
            out.append(f"<p>{text}</p>")
        if turn.state == "done" and turn.answer and turn.answer.supporting:
            out.append(f"<p style='color:{dim}; margin-bottom:0'>{QUOTE_INTRO}</p>")
            out += [_supporting_html(index, quote) for quote in turn.answer.supporting]
        found = bool(turn.answer and turn.answer.found)
        if turn.state == "done" and turn.citations:
            heading = "Sources" if found else "Closest passages"
            out.append(f"<p style='color:{dim}; margin-bottom:0'>{heading}</p><ol>")
            seen: set[int] = set()
            for citation in turn.citations:
                if citation.n in seen:
                    continue
                seen.add(citation.n)
                source = _source_html(index, citation, dim, quoted=not found)
                out.append(f"<li value='{citation.n}'>{source}</li>")
            out.append("</ol>")
        return "".join(out)


def _answer_html(text: str, turn: int, linked: bool,
                 emphasis: Sequence[tuple[int, int]] = ()) -> str:
    """``text`` as HTML: its citation marks as links (when ``linked``), and its ``emphasis``
    spans (character offsets of ``text``) in bold."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(emphasis):
        out.append(_with_citation_links(text[pos:start], turn, linked))
        out.append(f"<b>{_with_citation_links(text[start:end], turn, linked)}</b>")
        pos = end
    out.append(_with_citation_links(text[pos:], turn, linked))
    return "".join(out).strip().replace("\n", "<br>")


def _supporting_html(turn: int, quote: SupportingQuote) -> str:
    """A sentence of the files under a written answer, quoted, with its answering phrase in
    bold and its source number linked."""
    text = _answer_html(f"“{quote.text}” [{quote.n}]", turn, True,
                        [(start + 1, end + 1) for start, end in quote.emphasis])
    return f"<p style='margin-left:1.5em'>{text}</p>"


def _with_citation_links(text: str, turn: int, linked: bool) -> str:
    out: list[str] = []
    pos = 0
    for match in _MARKER.finditer(text):
        out.append(html.escape(text[pos : match.start()]))
        numbers = [n.strip() for n in match.group(1).split(",")]
        if linked:
            links = ", ".join(f"<a href='cite:{turn}:{n}'>{n}</a>" for n in numbers)
            out.append(f"<sup>[{links}]</sup>")
        else:
            out.append(f"<sup>[{', '.join(numbers)}]</sup>")
        pos = match.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _source_html(turn: int, citation: Citation, dim: str, quoted: bool = True) -> str:
    """A source's file and place as a link, and (``quoted``) the start of its passage."""
    where = Path(citation.path).name
    place = citation.where()
    if place:
        where += f", {place}"
    link = f"<a href='cite:{turn}:{citation.n}'>{html.escape(where)}</a>"
    if not quoted:
        return link
    quote = " ".join(citation.quote.split())
    if len(quote) > QUOTE_CHARS:
        quote = quote[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"
    return f"{link} <span style='color:{dim}'>— “{html.escape(quote)}”</span>"
