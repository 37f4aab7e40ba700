"""The answering phrase of a quoted sentence: pure text rules, no model."""

from __future__ import annotations

import pytest

from core.answer.emphasis import answering_phrase, question_kind


def phrase(question: str, sentence: str) -> str | None:
    found = answering_phrase(question, sentence)
    return None if found is None else sentence[found[0]:found[1]]


@pytest.mark.parametrize(("question", "kind"), [
    ("How much notice must the tenant give?", "quantity"),
    ("How many days of leave do I get?", "quantity"),
    ("What is the default compression level in zlib?", "quantity"),
    ("When is the rent due?", "date"),
    ("In what year did the war end?", "date"),
    ("How soon must repairs be made?", "date"),
    ("Who wrote Hamlet?", "name"),
    ("Which company services the boiler?", "name"),
    ("Why is the sky blue?", None),
    ("What does update-mime-database do?", None),
])
def test_the_kind_of_question_says_what_kind_of_phrase_answers(question, kind):
    assert question_kind(question) == kind


def test_how_much_finds_the_figure_with_its_unit():
    sentence = ("After the fixed term the Tenant may end the tenancy by giving the Landlord "
                "sixty days written notice, expiring at the end of a rental period.")
    assert phrase("How much notice must the tenant give?", sentence) == "sixty days"
    assert phrase("How much is the deposit?",
                  "The Tenant pays a deposit of £1,325 before moving in.") == "£1,325"


def test_of_several_figures_the_one_by_the_questions_words_is_taken():
    zlib = ("Z_DEFAULT_COMPRESSION, equal to -1, requests a default compromise between speed "
            "and compression (currently equivalent to level 6).")
    assert phrase("What is the default compression level in zlib?", zlib) == "level 6"
    deposit = "The deposit of 1,900 pounds is returned within thirty days of the end."
    assert phrase("How much is the deposit?", deposit) == "1,900 pounds"


def test_of_several_figures_none_is_emphasised_unless_one_is_clearly_by_the_question():
    sentence = "The rent is 950 pounds a month, and 40 pounds a week is kept for bills."
    assert phrase("How much is the rent?", sentence) == "950 pounds"
    assert phrase("How much is paid?", sentence) is None  # no word of it to stand by


def test_a_figure_the_question_already_states_is_not_the_answer():
    sentence = "Within 30 days the landlord returns 1,900 pounds."
    assert phrase("How much is returned within 30 days?", sentence) == "1,900 pounds"


def test_when_finds_a_whole_date_before_a_span_of_time():
    assert phrase("When was the boiler serviced?",
                  "The boiler was serviced on 14 March 2025 by Hotwater Ltd.") == "14 March 2025"
    assert phrase("What year did the war end?", "The war ended in 1945, after six years.") == "1945"
    assert phrase("When is the rent due?", "The rent is 950 pounds, due on the first day of "
                  "each month.") == "first day of each month"
    assert phrase("When is the kitchen cleaned?", "The kitchen is cleaned on Fridays.") == "Fridays"
    assert phrase("When must the tenant give notice?", "The tenant must give notice at least "
                  "60 days before the end of the term.") == "60 days"


def test_who_finds_a_name_the_question_does_not_say():
    assert phrase("Who wrote Hamlet?",
                  "Hamlet was written by William Shakespeare around 1600.") == "William Shakespeare"
    assert phrase("Who holds the gold?",
                  "The gold is held by the Bank of England.") == "Bank of England"
    # Two names: the nearest was the answer only about half the time, so neither is shown.
    assert phrase("Who holds the gold?",
                  "The gold is held by the Bank of England in London.") is None


def test_any_other_question_takes_the_one_short_phrase_it_does_not_say():
    assert phrase("What is the capital of France?", "Paris is the capital of France.") == "Paris"
    assert phrase("Who must give notice?", "The tenant must give notice.") == "tenant"


def test_nothing_is_emphasised_when_nothing_stands_out():
    # Several new phrases: the sentence says more than an answer, and none is chosen.
    assert phrase("What does update-mime-database do?", "The update-mime-database program "
                  "updates the shared MIME database from the XML files.") is None
    # Nothing of the question in the sentence: no anchor for a guess.
    assert phrase("Why is the sky blue?", "Rayleigh scattering favours short wavelengths.") is None
    # A whole clause is not a phrase.
    assert phrase("What is the capital of France?", "The capital of France moved many times "
                  "over long centuries through wars and treaties and kings.") is None
    assert answering_phrase("", "") is None
