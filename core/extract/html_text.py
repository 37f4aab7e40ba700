"""HTML to visible text with headings, using only the standard library's tokenizer.

Whitespace collapses the way a browser renders it (except in ``<pre>``), block elements start
new lines, paragraph-like ones leave a blank line, table cells are separated by tabs. Script,
style, head and similar invisible parts are skipped; ``<title>`` becomes the document title.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from core.extract.decode import decode_text
from core.extract.errors import ExtractionError, read_capped
from core.extract.text import DEFAULT_MAX_BYTES, normalise_newlines
from core.types import Document, Heading, Page

HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml", ".shtml"})

_INVISIBLE = frozenset(
    {
        "script",
        "style",
        "head",
        "title",
        "noscript",
        "template",
        "svg",
        "iframe",
        "object",
        "canvas",
    }
)
_HEAD_CONTENT = frozenset(
    {"title", "meta", "link", "style", "script", "base", "noscript", "template"}
)
_PARAGRAPH_BLOCKS = frozenset(
    {"p", "pre", "blockquote", "table", "ul", "ol", "dl", "hr", "figure", "section",
     "article", "header", "footer", "main", "nav", "aside", "form", "details", "address",
     "h1", "h2", "h3", "h4", "h5", "h6"}
)  # fmt: skip
_LINE_BLOCKS = frozenset(
    {"div", "li", "dt", "dd", "tr", "caption", "figcaption", "summary", "fieldset",
     "legend", "option", "body", "html", "center", "hgroup", "menu", "dialog"}
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_HEADING_LEVELS = {f"h{n}": n for n in range(1, 7)}
# HTML collapses ASCII whitespace only: a no-break space is content, not layout.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


class _VisibleText(HTMLParser):
    """Collects rendered text. Breaks and separators are held back until the next word, so
    nothing dangles at the start or end and consecutive blocks never stack blank lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.length = 0
        self.trailing_newlines = 0
        self.pending_breaks = 0
        self.pending_separator = ""
        self.hidden: list[str] = []  # open invisible elements, innermost last
        self.pre_depth = 0
        self.pre_just_opened = False
        # The open heading: level, and once its first word is written, where it starts in the
        # text and in ``parts`` (so closing it never re-joins the whole text).
        self.heading: tuple[int, int | None, int] | None = None
        self.headings: list[Heading] = []
        self.title_parts: list[str] | None = None
        self.title: str | None = None

    # -- tags ------------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self.title is None and "svg" not in self.hidden:
            self.title_parts = []
        if self.hidden and self.hidden[-1] == "head" and tag not in _HEAD_CONTENT:
            self.hidden.pop()  # body content ends an unclosed <head>, as in browsers
        if tag in _INVISIBLE:
            self.hidden.append(tag)
            return
        if self.hidden:
            return
        self._block_boundary(tag)
        if tag == "br":
            self._line_break()
        elif tag == "pre":
            self.pre_depth += 1
            self.pre_just_opened = True
        elif tag in _HEADING_LEVELS and self.heading is None:
            self.heading = (_HEADING_LEVELS[tag], None, 0)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:  # <svg/> and friends: nothing inside, nothing to skip
            return
        self.handle_starttag(tag, attrs)
        if tag != "br":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.title_parts is not None:
            self.title = " ".join("".join(self.title_parts).split()) or None
            self.title_parts = None
        if tag in self.hidden:
            del self.hidden[len(self.hidden) - 1 - self.hidden[::-1].index(tag) :]
            return
        if self.hidden:
            return
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        if tag in _HEADING_LEVELS and self.heading is not None:
            self._close_heading()
        self._block_boundary(tag)

    # -- text ------------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self.title_parts is not None:
            self.title_parts.append(data)
        if self.hidden:
            return
        if self.pre_depth:
            self._preformatted(data)
            return
        for index, piece in enumerate(_HTML_SPACE.split(data)):
            if index:  # a whitespace run stood between this piece and the previous one
                self._separate(" ")
            if piece:
                self._write(piece.replace("\xa0", " "))

    def _preformatted(self, data: str) -> None:
        data = normalise_newlines(data)
        if self.pre_just_opened and data.startswith("\n"):  # as browsers do
            data = data[1:]
        self.pre_just_opened = False
        if data:
            self._write(data)

    # -- layout ----------------------------------------------------------------------------

    def _block_boundary(self, tag: str) -> None:
        if tag in _PARAGRAPH_BLOCKS:
            self._break(2)
        elif tag in _LINE_BLOCKS:
            self._break(1)
        elif tag in _CELLS:
            self._separate("\t")

    def _break(self, newlines: int) -> None:
        if self.heading is not None:  # a heading stays on one line whatever it contains
            self._separate(" ")
        else:
            self.pending_breaks = max(self.pending_breaks, newlines)

    def _line_break(self) -> None:
        if self.heading is not None:
            self._separate(" ")
        elif self.length:
            self.pending_separator = ""
            self._append("\n")

    def _separate(self, separator: str) -> None:
        if self.length and self.pending_separator != "\t":  # a tab outranks a collapsed space
            self.pending_separator = separator

    def _write(self, words: str) -> None:
        if self.length:
            missing = self.pending_breaks - self.trailing_newlines
            if missing > 0:
                self._append("\n" * missing)
            elif self.pending_separator and not self.trailing_newlines:
                self._append(self.pending_separator)
        self.pending_breaks = 0
        self.pending_separator = ""
        if self.heading is not None and self.heading[1] is None:
            self.heading = (self.heading[0], self.length, len(self.parts))
        self._append(words)

    def _append(self, piece: str) -> None:
        self.parts.append(piece)
        self.length += len(piece)
        stripped = piece.rstrip("\n")
        if stripped:
            self.trailing_newlines = len(piece) - len(stripped)
        else:
            self.trailing_newlines += len(piece)

    def _close_heading(self) -> None:
        assert self.heading is not None
        level, start, first_part = self.heading
        self.heading = None
        if start is not None:
            words = "".join(self.parts[first_part:]).rstrip()
            if words:
                self.headings.append(Heading(start, level, words))

    def close(self) -> None:
        super().close()
        if self.heading is not None:  # a heading left open at the very end
            self._close_heading()


def html_to_page(markup: str) -> tuple[Page, str | None]:
    """The visible text of an HTML string as one page (number None), and its title."""
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    title = parser.title or next((h.text for h in parser.headings if h.level == 1), None)
    return Page(None, text, parser.headings), title


def extract_html(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Visible text of an HTML file; headings h1–h6 with offsets; title from ``<title>``.

    >>> import tempfile
    >>> page = Path(tempfile.mkdtemp()) / "a.html"
    >>> _ = page.write_text("<title>T</title><h1>Hi</h1><script>x()</script><p>there</p>")
    >>> doc = extract_html(page)
    >>> doc.pages[0].text, doc.title, doc.pages[0].headings[0].text
    ('Hi\\n\\nthere', 'T', 'Hi')
    """
    data = read_capped(path, max_bytes)
    declared = _META_CHARSET.search(data[:4096])
    text = decode_text(data, declared.group(1).decode("ascii") if declared else None)
    page, title = html_to_page(text)
    if not page.text.strip():
        raise ExtractionError("no visible text in this HTML file")
    return Document(path=path, kind="html", pages=[page], title=title)
