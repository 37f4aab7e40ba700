import datetime as dt

import pytest

from core.search.query import fts_quote, parse_query


def test_parses_every_kind_of_token():
    q = parse_query(
        '"notice period" lease -draft -"old copy" ext:pdf,DOCX dir:contracts after:2024-01'
    )
    assert q.phrases == ["notice period"]
    assert q.terms == ["lease"]
    assert q.excluded == ["draft", "old copy"]
    assert q.exts == ["pdf", "docx"]
    assert q.dirs == ["contracts"]
    assert q.after == dt.datetime(2024, 1, 1).timestamp()
    assert q.before is None


def test_absolute_and_relative_dirs(tmp_path):
    assert parse_query(f"x dir:{tmp_path}").dirs == [str(tmp_path)]
    assert parse_query("x dir:./sub", cwd=tmp_path).dirs == [str(tmp_path / "sub")]
    assert parse_query(f'x dir:"{tmp_path}/my docs"').dirs == [f"{tmp_path}/my docs"]


def test_bad_date_is_a_warning_not_an_error():
    q = parse_query("report after:yesterday")
    assert q.after is None
    assert q.warnings and "YYYY" in q.warnings[0]


def test_fts_expression_requires_phrases_and_subtracts_exclusions():
    q = parse_query('"notice period" lease the -draft')
    assert q.fts_match() == '("notice period" AND ("lease")) NOT ("draft")'


def test_stopwords_dropped_unless_alone():
    assert parse_query("what is the lease").fts_match() == '("lease")'
    assert parse_query("the").fts_match() == '("the")'


def test_unknown_prefix_is_text():
    q = parse_query("http://example.com re:ports")
    assert "http" in q.terms and "ports" in q.terms


@pytest.mark.parametrize(
    "hostile",
    ['"', 'a"b', "AND OR NOT", "NEAR(a b)", "*", "col:x", "^a", "-", "'; DROP TABLE files; --"],
)
def test_quoting_makes_any_input_a_plain_string(hostile):
    quoted = fts_quote(hostile)
    assert quoted.startswith('"') and quoted.endswith('"')
    assert quoted[1:-1].replace('""', "").count('"') == 0
