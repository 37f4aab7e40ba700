"""Figures as written: where they stand, and the token each reads as."""

from core.text.figures import figure_spans


def test_a_figure_spans_its_sign_currency_and_unit_as_written():
    text = "Pay $1,250.5 million, -1 or sixty days; the 3rd of 5 June."
    assert [(f.text, f.value) for f in figure_spans(text)] == [
        ("$1,250.5 million", "1250.5 million"), ("-1", "-1"), ("sixty days", "60 day"),
        ("3rd", "3rd"), ("5 June", "5 june")]
    for figure in figure_spans(text):
        assert text[figure.start:figure.end] == figure.text


def test_a_figure_knows_its_unit():
    units = {f.text: f.unit for f in figure_spans("Give 60 days, 5% or 7 and June 2020.")}
    assert units == {"60 days": "day", "5%": "%", "7": "", "June 2020": "june"}


def test_a_compound_number_word_is_one_figure():
    from core.answer.support import unbacked_figures

    assert [(f.text, f.value) for f in figure_spans("It gets twenty-eight days.")] == [
        ("twenty-eight days", "28 day")]
    assert unbacked_figures("It gets 28 days.", "It gets twenty-eight days.") == set()
