"""The passage a preview highlights for a hit: its snippet widened to whole sentences."""

from __future__ import annotations

from core.search.query import query_words
from core.search.snippets import passage_span
from core.types import Hit

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


def test_a_fragment_at_the_snippet_edge_is_dropped_not_completed() -> None:
    hit = hit_with_snippet("tenancy by giving", "Landlord must")  # ends "… post.\n\nThe "
    start, end = passage_span(hit)
    assert CHUNK[start - hit.start : end - hit.start].endswith("Notice may be sent by post.")


def test_an_abbreviation_does_not_cut_the_passage_short() -> None:
    text = "Rent rose. The U.S. federal credit fell by half this year. Costs rose."
    lo = text.index("federal")
    hit = Hit(1, 1, "/x.txt", None, 0, len(text), text, "", text[lo:lo + 14], [], lo, 0.0)
    start, end = passage_span(hit)
    assert text[start:end] == "The U.S. federal credit fell by half this year."


def test_the_words_to_mark_leave_out_filters_and_stopwords() -> None:
    assert query_words('"notice period" the lease ext:pdf dir:contracts') == [
        "notice period", "lease"]
