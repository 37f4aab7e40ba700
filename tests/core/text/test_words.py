"""Word rules: stems, stopwords and whole-word marks."""

from core.text.words import QUERY_STOPWORDS, STOPWORDS, content_words, stem, word_spans


def test_common_forms_of_a_word_meet_at_one_stem():
    assert {stem(w) for w in ("give", "gives", "giving")} == {"giv"}
    assert stem("notice") == stem("noticed")
    assert stem("bus") == "bus"  # too short to lose its "s"


def test_content_words_leave_out_stopwords_and_single_letters():
    assert content_words("The tenant must give a notice") == {"tenant", "giv", "notic"}


def test_the_keyword_query_drops_more_words_than_the_support_check():
    assert "before" in QUERY_STOPWORDS and "before" not in STOPWORDS
    assert STOPWORDS <= QUERY_STOPWORDS


def test_word_spans_find_whole_words_with_endings() -> None:
    text = "Notice: the notices were noticed; a denotice is not one."
    assert [text[s:e] for s, e in word_spans(text, ["notice"])] == [
        "Notice", "notices", "noticed",
    ]  # fmt: skip


def test_a_phrase_marks_each_of_its_words() -> None:
    text = "Give written notice in writing."
    assert [text[s:e] for s, e in word_spans(text, ['"written notice"'])] == ["written", "notice"]
