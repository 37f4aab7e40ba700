"""Asking: the answer streams in, and a citation click opens its source at the right page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFont, QTextCursor, QTextFragment
from PySide6.QtWidgets import QTextBrowser
from pytestqt.qtbot import QtBot

from app.window import MainWindow
from core.config import AppPaths, Settings
from core.types import Answer
from tests.app.conftest import WindowFactory, index_folder

WAIT_MS = 10_000
REPLY = "Sixty days notice is needed [1]."


def fragments(browser: QTextBrowser) -> Iterator[QTextFragment]:
    """The runs of text of one format the browser's document is drawn in, in order."""
    block = browser.document().begin()
    while block.isValid():
        runs = block.begin()
        while not runs.atEnd():
            yield runs.fragment()
            runs += 1
        block = block.next()


def anchor_point(browser: QTextBrowser, href: str) -> QPoint | None:
    """Where on screen the link ``href`` is drawn, found through the document's fragments."""
    for fragment in fragments(browser):
        if fragment.charFormat().anchorHref() == href:
            cursor = QTextCursor(browser.document())
            cursor.setPosition(fragment.position())
            rect = browser.cursorRect(cursor)
            return QPoint(rect.left() + 3, rect.center().y())
    return None


def test_an_answer_streams_and_its_citation_opens_the_cited_page(
    qtbot: QtBot, make_window: WindowFactory, paths: AppPaths, folder: Path
) -> None:
    index_folder(paths, folder)
    window = make_window(reply=REPLY)
    qtbot.waitUntil(lambda: window.engine.interactive_model is not None, timeout=WAIT_MS)
    pieces: list[str] = []
    window.answer_panel.text_streamed.connect(pieces.append)

    window.query_box.setText("How many days notice must the tenant give?")
    qtbot.keyClick(window.query_box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    panel = window.answer_panel
    assert panel.isVisible()
    qtbot.waitUntil(lambda: panel.turns[-1].state == "done", timeout=WAIT_MS)
    assert len(pieces) > 1, "the answer arrives in pieces, not all at once"
    assert "".join(pieces).strip() == REPLY
    citation = panel.citation(0, 1)
    assert citation is not None and Path(citation.path).name == "lease.pdf"
    assert citation.page == 2

    point = anchor_point(panel.browser, "cite:0:1")
    assert point is not None, "the [1] in the answer is a link"
    qtbot.mouseClick(panel.browser.viewport(), Qt.MouseButton.LeftButton, pos=point)

    preview = window.preview
    qtbot.waitUntil(lambda: preview.highlight_rects != [], timeout=WAIT_MS)
    assert preview.target is not None and preview.target.path == citation.path
    assert preview.current_page == 2
    assert (preview.target.start, preview.target.end) == (citation.start, citation.end)

    # Results refreshing afterwards (indexing, the model freed) keep the cited passage on screen.
    cited = preview.target
    with qtbot.waitSignal(window.search.finished, timeout=WAIT_MS):
        window.search.set_text("sixty days notice lease")
    assert "lease.pdf" in [Path(h.path).name for h in window.results_model.hits]
    assert preview.target == cited


def test_a_follow_up_question_carries_the_conversation(
    qtbot: QtBot, make_window: WindowFactory, paths: AppPaths, folder: Path
) -> None:
    index_folder(paths, folder)
    window = make_window(reply=REPLY)
    panel = window.answer_panel
    window.ask("How many days notice must the tenant give?")
    qtbot.waitUntil(lambda: panel.turns[-1].state == "done", timeout=WAIT_MS)
    panel.question.setText("And by email?")
    qtbot.keyClick(panel.question, Qt.Key.Key_Return)
    assert panel.history() == [("How many days notice must the tenant give?", REPLY)]
    qtbot.waitUntil(lambda: panel.turns[-1].state == "done", timeout=WAIT_MS)
    assert len(panel.turns) == 2
    panel.new_conversation()
    assert panel.turns == []


def test_stop_keeps_what_was_written(
    qtbot: QtBot, make_window: WindowFactory, paths: AppPaths, folder: Path
) -> None:
    index_folder(paths, folder)
    window = make_window(reply=REPLY)
    panel = window.answer_panel
    qtbot.waitUntil(lambda: window.engine.interactive_model is not None, timeout=WAIT_MS)
    window.ask("How many days notice must the tenant give?")
    assert panel.busy
    panel.cancel()
    assert not panel.busy
    assert panel.turns[-1].state == "stopped"
    qtbot.wait(300)  # anything the stopped answer still delivers is dropped
    assert panel.turns[-1].state == "stopped"


def answered(qtbot: QtBot, window: MainWindow, question: str) -> Answer:
    """The answer the window shows to ``question``, once it is done."""
    panel = window.answer_panel
    window.ask(question)
    qtbot.waitUntil(lambda: panel.turns[-1].state == "done", timeout=WAIT_MS)
    answer = panel.turns[-1].answer
    assert answer is not None
    return answer


def bold_texts(browser: QTextBrowser) -> list[str]:
    """The runs of text the answer view draws in bold (the questions among them)."""
    return [fragment.text() for fragment in fragments(browser)
            if fragment.charFormat().fontWeight() >= QFont.Weight.Bold]


def test_a_quoted_answer_shows_its_answering_phrase_in_bold(
    qtbot: QtBot, make_window: WindowFactory, paths: AppPaths, folder: Path
) -> None:
    index_folder(paths, folder)
    window = make_window(settings=Settings(answer_mode="quote"))
    panel = window.answer_panel
    question = "How many days of written notice must the tenant give?"
    answer = answered(qtbot, window, question)
    assert answer.mode == "quoted" and answer.found, answer
    [(start, end)] = answer.emphasis
    assert answer.text[start:end] == "sixty days"
    assert bold_texts(panel.browser) == [question, "sixty days"]
    # The quote is drawn with the file's words exactly; the emphasis adds none.
    assert answer.text in panel.browser.toPlainText()


def test_a_written_answer_shows_the_files_sentences_under_it(
    qtbot: QtBot, make_window: WindowFactory, paths: AppPaths, folder: Path
) -> None:
    index_folder(paths, folder)
    window = make_window(reply=REPLY)
    panel = window.answer_panel
    answer = answered(qtbot, window, "How many days notice must the tenant give?")
    assert answer.mode == "written" and answer.supporting, answer
    shown = panel.browser.toPlainText()
    quote = answer.supporting[0]
    assert "sixty days written notice" in quote.text
    assert f"“{quote.text}” [{quote.n}]" in shown
    # Under the answer, then the source named once, without its passage again.
    assert shown.index("Sixty days notice is needed") < shown.index(quote.text)
    assert shown.count(quote.text) == 1
    assert "sixty days" in bold_texts(panel.browser)
