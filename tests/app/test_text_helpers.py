"""Pure helpers behind the results rows and the preview's passage."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from app.jobs import passage_span, word_rects
from app.results import compact_snippet
from core.types import Hit
from tests.docs_factory import make_pdf

CHUNK = (
    "4. Ending the tenancy\n\nAfter the fixed term the Tenant may end the tenancy by giving the "
    "Landlord sixty days written\nnotice, expiring at the end of a rental period. Notice may be "
    "sent by post.\n\nThe Landlord must give two months."
)


def hit_with_snippet(snippet_from: str, snippet_to: str, chunk_start: int = 500) -> Hit:
    lo, hi = CHUNK.index(snippet_from), CHUNK.index(snippet_to)
    return Hit(1, 1, "/x.pdf", 2, chunk_start, chunk_start + len(CHUNK), CHUNK, "",
               CHUNK[lo:hi], [], chunk_start + lo, 0.0)  # fmt: skip


def test_the_passage_is_the_snippet_widened_to_whole_sentences() -> None:
    hit = hit_with_snippet("tenancy by giving", "Notice may")
    start, end = passage_span(hit)
    text = CHUNK[start - hit.start : end - hit.start]
    assert text == (
        "After the fixed term the Tenant may end the tenancy by giving the Landlord sixty days "
        "written\nnotice, expiring at the end of a rental period."
    )


def test_a_passage_never_leaves_its_chunk() -> None:
    hit = hit_with_snippet("4. Ending", "After")
    start, end = passage_span(hit)
    assert hit.start <= start < end <= hit.end


def test_snippets_become_one_line_with_matches_moved() -> None:
    text, matches = compact_snippet("Rent\n\n   is due   monthly", [(12, 15), (18, 25)])
    assert text == "Rent is due monthly"
    assert [text[s:e] for s, e in matches] == ["due", "monthly"]


def test_page_words_are_marked_whole(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["We attend at the weekend. At the end, notices apply."])
    document = pymupdf.open(path)
    try:
        page = document.load_page(0)
        marked = [page.get_textbox(pymupdf.Rect(r)).strip() for r in word_rects(page, ["end"])]
        assert marked == ["end,"]
        assert len(word_rects(page, ["notice"])) == 1  # "notices": endings count
    finally:
        document.close()


def test_a_fragment_at_the_snippet_edge_is_dropped_not_completed() -> None:
    hit = hit_with_snippet("tenancy by giving", "Landlord must")  # ends "… post.\n\nThe "
    start, end = passage_span(hit)
    assert CHUNK[start - hit.start : end - hit.start].endswith("Notice may be sent by post.")


def test_pdf_viewers_that_take_a_page_get_it_and_others_do_not() -> None:
    from app.open_at_page import page_command

    lease = "/docs/lease.pdf"
    assert page_command("org.gnome.Evince.desktop", lease, 2) == [
        "evince", "--page-index=2", lease,
    ]  # fmt: skip
    assert page_command("okularApplication_pdf.desktop", lease, 3) == ["okular", "-p", "3", lease]
    assert page_command("org.pwmt.zathura.desktop\n", lease, 4) == ["zathura", "-P", "4", lease]
    assert page_command("firefox.desktop", lease, 2) is None
