"""The one sentence splitter: what ends a sentence and what does not."""

from core.text.sentences import CLAUSE_BREAK, ends_like_sentence, sentence_spans


def test_a_line_break_inside_a_pdf_paragraph_does_not_end_a_sentence():
    text = ("The Landlord must give the Tenant two months' notice in the form the law requires,\n"
            "and may not end the tenancy early. Rent is 2.5 pounds!\n\nNew paragraph")
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans[0].endswith("may not end the tenancy early.")
    assert spans[1] == "Rent is 2.5 pounds!"
    assert spans[2] == "New paragraph"


def test_an_abbreviation_or_a_list_number_does_not_end_a_sentence():
    text = ("Tax fell due to a higher U.S. federal R&D credit. Apple Inc. reported gains.\n"
            "1. Revenue rose.\n(b) Costs fell. It was the U.S. The end.")
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == [
        "Tax fell due to a higher U.S. federal R&D credit.",
        "Apple Inc. reported gains.",
        "1. Revenue rose.",
        "(b) Costs fell.",
        "It was the U.S.",  # a capital letter after it: a new sentence
        "The end.",
    ]


def test_a_closing_quote_or_bracket_stays_with_its_sentence():
    text = 'He said "give notice." Then he left. (The lease allows it.) Rent is due.'
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        'He said "give notice."', "Then he left.", "(The lease allows it.)", "Rent is due.",
    ]


def test_a_quote_cut_mid_sentence_does_not_end_like_one():
    assert ends_like_sentence("the deposit is returned.”")
    assert ends_like_sentence("as follows:")
    assert not ends_like_sentence("the deposit is")


def test_chunks_may_be_cut_finer_than_sentences():
    text = "Terms: rent; notice.\nNext line"
    pieces = [p for p in CLAUSE_BREAK.split(text) if p]
    assert pieces == ["Terms:", "rent;", "notice.", "Next line"]
