import itertools
from pathlib import Path

from core.index.chunking import chunk_document
from core.types import Document, Heading, Page


def words(text: str) -> int:
    return len(text.split())


def test_chunks_keep_exact_spans_and_pages():
    pages = [Page(1, "Alpha beta gamma.\n\nDelta epsilon."), Page(2, "Zeta eta theta.")]
    chunks = chunk_document(Document(Path("x.pdf"), "pdf", pages), words, max_tokens=50)
    assert [c.page for c in chunks] == [1, 2]
    for c in chunks:
        page = pages[c.page - 1]
        assert page.text[c.start : c.end] == c.text
    assert chunks[0].text == "Alpha beta gamma.\n\nDelta epsilon."


def test_budget_is_respected_and_nothing_is_lost():
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 + "end." for i in range(20))
    chunks = chunk_document(Document(Path("a.txt"), "text", [Page(None, text)]), words, 100)
    assert len(chunks) > 5
    assert all(c.token_count <= 100 for c in chunks)
    covered = " ".join(c.text for c in chunks)
    for i in range(20):
        assert f"Paragraph {i} " in covered
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_long_sentence_without_breaks_is_split_into_windows():
    text = " ".join(f"w{i}" for i in range(1000))
    chunks = chunk_document(Document(Path("a.txt"), "text", [Page(None, text)]), words, 64)
    assert all(c.token_count <= 64 for c in chunks)
    assert chunks[0].text.startswith("w0 ") and chunks[-1].text.endswith("w999")


def test_headings_start_chunks_and_form_a_path():
    text = "# Lease\n\nIntro text.\n\n## Termination\n\nSixty days notice.\n\n# Other\n\nMore."
    heads = [
        Heading(text.index("# Lease"), 1, "Lease"),
        Heading(text.index("## Termination"), 2, "Termination"),
        Heading(text.index("# Other"), 1, "Other"),
    ]
    chunks = chunk_document(
        Document(Path("a.md"), "markdown", [Page(None, text, heads)]), words, 200
    )
    by_heading = {c.heading: c.text for c in chunks}
    assert "Sixty days notice." in by_heading["Lease > Termination"]
    assert "Intro text." in by_heading["Lease"]
    assert by_heading["Other"].endswith("More.")
    assert "Sixty" not in by_heading["Lease"]


def test_empty_document_gives_no_chunks():
    doc = Document(Path("a.txt"), "text", [Page(None, "   \n\n  ")])
    assert chunk_document(doc, words) == []


def test_twenty_thousand_headings_chunk_in_linear_time(tmp_path):
    import time

    from core.extract import extract
    from tests.fakes import FakeModel

    path = tmp_path / "many.md"
    path.write_text("".join(f"## Part {i}\n\nThe body of part {i}.\n\n" for i in range(20_000)),
                    encoding="utf-8")
    document = extract(path)
    started = time.perf_counter()
    chunks = chunk_document(document, FakeModel().count_tokens, 256)
    took = time.perf_counter() - started
    # A complexity check, not a benchmark: quadratic in headings took 90 s here.
    assert took < 10, took
    assert len(chunks) == 20_000
    assert chunks[12_345].heading == "Part 12345"
    assert chunks[12_345].text == "## Part 12345\n\nThe body of part 12345."


def test_a_word_free_line_of_fifteen_megabytes_becomes_bounded_chunks():
    from core.index.chunking import MAX_CHARS_PER_TOKEN

    text = "x" * 15_000_000 + "\n" + "ab" * 5_000

    def approx_tokens(piece: str) -> int:  # a tokenizer that cuts runs into 3-character tokens
        return (len(piece) + 2) // 3

    for count in (words, approx_tokens):
        chunks = chunk_document(Document(Path("a.txt"), "text", [Page(None, text)]), count, 256)
        assert all(c.end - c.start <= 256 * MAX_CHARS_PER_TOKEN for c in chunks)
        assert all(c.token_count <= 256 for c in chunks)
        assert all(a.end == b.start for a, b in itertools.pairwise(chunks)
                   if b.start < 15_000_000)  # nothing of the line is lost
        assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert len(chunks) < 15_000_000 // (256 * 3) * 1.2  # near-full windows, not slivers
