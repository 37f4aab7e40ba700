"""The hybrid fusion rule: a weak meaning side may re-order keyword hits a little, may add a
bounded number of its own, and never pushes good keyword hits out."""

from __future__ import annotations

from core.search.fusion import fuse, fuse_guarded

# Keyword ranking: 1..20 (1 best). The meaning side of a weak embedder: its twenty nearest
# passages are ones the keywords never found (nearest-neighbour search always answers).
LEXICAL = list(range(1, 21))
WEAK_NEAREST = [(100 + i, 0.9 - i * 0.001) for i in range(20)]


def _ids(ranked):
    return [candidate.chunk_id for candidate, _ in ranked]


def test_weak_dense_results_do_not_push_the_top_keyword_hits_out():
    plain = _ids(fuse(LEXICAL, [c for c, _ in WEAK_NEAREST], dense_weight=1.0))
    guarded = _ids(fuse_guarded(LEXICAL, WEAK_NEAREST, dense_weight=1.0, dense_only=3))
    # Plain equal-weight fusion lets unrelated neighbours into the first ten...
    assert len(set(plain[:10]) - set(LEXICAL)) >= 5
    # ...the guarded rule keeps at least seven of the keywords' top ten there.
    assert len(set(guarded[:10]) & set(LEXICAL[:10])) >= 7
    assert set(LEXICAL) <= set(guarded)


def test_passages_found_only_by_meaning_are_bounded():
    for bound in (0, 2, 5):
        ranked = _ids(fuse_guarded(LEXICAL, WEAK_NEAREST, dense_weight=1.0, dense_only=bound))
        assert len([c for c in ranked if c not in LEXICAL]) == bound


def test_dense_only_hits_come_in_meaning_order_and_respect_the_floor():
    ranked = _ids(fuse_guarded(LEXICAL, WEAK_NEAREST, dense_weight=1.0, dense_only=3,
                               min_similarity=0.95))
    assert sorted(ranked) == LEXICAL  # none reaches the floor: keyword hits only
    ranked = _ids(fuse_guarded(LEXICAL[:0], WEAK_NEAREST, dense_weight=1.0, dense_only=3))
    assert ranked == [100, 101, 102]  # no keyword hits: the three nearest


def test_meaning_reorders_the_keyword_hits_it_agrees_with():
    # The meaning side puts keyword hit 4 first: at equal weight it passes hits 2 and 3.
    nearest = [(4, 0.8), (1, 0.7), (2, 0.6), (3, 0.5)]
    assert _ids(fuse_guarded([1, 2, 3, 4], nearest, dense_weight=1.0)) == [1, 4, 2, 3]
    # With a small weight the keyword order stands.
    assert _ids(fuse_guarded([1, 2, 3, 4], nearest, dense_weight=0.05)) == [1, 2, 3, 4]


def test_a_weak_embedders_weight_follows_its_agreement_with_the_keywords():
    from dataclasses import replace

    from core.models.profiles import ENCODER, GENERIC
    from core.search.fusion import query_dense_weight

    keywords = list(range(1, 21))
    agrees = [(c, 0.9) for c in (3, 1, 7, 2, 30, 31, 32, 33, 34, 9)]  # 5 of the top 10
    lost = [(100 + i, 0.9) for i in range(10)]
    assert query_dense_weight(GENERIC, keywords, agrees) == GENERIC.dense_weight * 0.5
    assert query_dense_weight(GENERIC, keywords, lost) == 0.0
    assert query_dense_weight(GENERIC, [], lost) == 0.0  # the meaning side answers alone
    assert query_dense_weight(GENERIC, [5, 6], [(6, 0.9)]) == GENERIC.dense_weight * 0.5
    # A trained embedder keeps its fixed weight, whatever the agreement.
    assert query_dense_weight(ENCODER, keywords, lost) == ENCODER.dense_weight
    assert query_dense_weight(replace(ENCODER, weight_by_agreement=True), keywords, lost) == 0


def test_agreement_counts_files_not_passages():
    from core.models.profiles import GENERIC
    from core.search.fusion import query_dense_weight

    # Chunks 1-20 belong to files 1-10, two each; the meaning side finds the other passage
    # of the same files the keywords found.
    file_of = {c: (c + 1) // 2 for c in range(1, 21)}
    keywords = list(range(1, 21, 2))
    other_passages = [(c, 0.9) for c in range(2, 21, 2)]
    assert query_dense_weight(GENERIC, keywords, other_passages) == 0.0
    assert query_dense_weight(GENERIC, keywords, other_passages, file_of) == GENERIC.dense_weight
    # Ten passages of one file are one file: the keywords' ten files are compared with the
    # meaning side's first ten distinct files.
    one_file_first = [(1, 0.9), (2, 0.9)] + [(c, 0.8) for c in range(3, 21)]
    assert query_dense_weight(GENERIC, keywords, one_file_first, file_of) == GENERIC.dense_weight
    half = [(c, 0.9) for c in (2, 4, 6, 8, 10)] + [(100 + i, 0.8) for i in range(20)]
    assert query_dense_weight(GENERIC, keywords, half, file_of) == GENERIC.dense_weight * 0.5


def test_with_no_agreement_the_keyword_order_stands_and_meaning_adds_only_below():
    from core.models.profiles import GENERIC
    from core.search.fusion import query_dense_weight

    lost = [(100 + i, 0.9 - i * 0.01) for i in range(10)] + [(4, 0.5), (1, 0.4)]
    weight = query_dense_weight(GENERIC, LEXICAL, lost)
    ranked = _ids(fuse_guarded(LEXICAL, lost, dense_weight=weight, dense_only=3))
    assert ranked[:20] == LEXICAL
