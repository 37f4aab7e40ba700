"""Pure helpers behind the results rows and opening a file at its page."""

from __future__ import annotations

from app.results import compact_snippet


def test_snippets_become_one_line_with_matches_moved() -> None:
    text, matches = compact_snippet("Rent\n\n   is due   monthly", [(12, 15), (18, 25)])
    assert text == "Rent is due monthly"
    assert [text[s:e] for s, e in matches] == ["due", "monthly"]


def test_pdf_viewers_that_take_a_page_get_it_and_others_do_not() -> None:
    from app.open_at_page import page_command

    lease = "/docs/lease.pdf"
    assert page_command("org.gnome.Evince.desktop", lease, 2) == [
        "evince", "--page-index=2", lease,
    ]  # fmt: skip
    assert page_command("okularApplication_pdf.desktop", lease, 3) == ["okular", "-p", "3", lease]
    assert page_command("org.pwmt.zathura.desktop\n", lease, 4) == ["zathura", "-P", "4", lease]
    assert page_command("firefox.desktop", lease, 2) is None
