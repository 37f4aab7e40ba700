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


def test_find_phrase_finds_whole_words_in_order_whatever_the_case_and_punctuation() -> None:
    from core.text.words import find_phrase

    text = "The Western Roman Empire, based in Rome; the Eastern in Constantinople (in 1204)."
    assert find_phrase(text, " rome.") == (text.index("Rome"), text.index("Rome") + 4)
    span = find_phrase(text, "the Western Roman Empire")
    assert span is not None and text[span[0]:span[1]] == "Western Roman Empire"
    span = find_phrase(text, "Rome the Eastern")  # punctuation between words does not matter
    assert span is not None and text[span[0]:span[1]] == "Rome; the Eastern"
    assert find_phrase(text, "120") is None  # part of a word is not the word
    assert find_phrase(text, "Eastern Roman Empire") is None  # not in that order
    assert find_phrase(text, "...") is None and find_phrase(text, "") is None
    assert find_phrase("A is a letter.", "a") == (0, 1)  # a lone article is a word to find


def test_find_phrase_keeps_a_figures_sign_and_currency() -> None:
    from core.text.words import find_phrase

    text = "Z_DEFAULT_COMPRESSION, equal to -1, is level 6. A deposit of £1,325 and 3% interest."
    assert find_phrase(text, "1") is None  # the file says -1: "1" is another number
    assert find_phrase(text, "level 1") is None
    span = find_phrase(text, " -1")
    assert span is not None and text[span[0]:span[1]] == "-1"
    assert find_phrase("Values from -1 to 1.", "-1") == (12, 14)
    assert find_phrase("Built pre-1990.", "1990") is not None  # a hyphen, not a sign
    span = find_phrase(text, "£1,325.")
    assert span is not None and text[span[0]:span[1]] == "£1,325"
    span = find_phrase(text, "3%")
    assert span is not None and text[span[0]:span[1]] == "3%"
