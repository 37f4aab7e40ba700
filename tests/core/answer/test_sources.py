"""What the model reads: each source stays within the token budget, even when one sentence
alone is longer (a table row), so the prompt and the wait for the first word stay bounded."""

from __future__ import annotations

from core.answer.sources import SOURCE_TOKENS, select_sources
from core.types import Hit
from tests.fakes import FakeModel


def _hit(text: str, chunk_id: int = 1, file_id: int = 1, start: int = 0) -> Hit:
    return Hit(chunk_id, file_id, f"/docs/{file_id}.pdf", 3, start, start + len(text), text,
               "", text[:80], [], start, 1.0)


def test_a_sentence_longer_than_the_budget_is_cut_at_a_word_to_fit() -> None:
    model = FakeModel()
    row = " ".join(f"revenue{i} 1,{i:03}" for i in range(150))  # one "sentence", no full stop
    [source] = select_sources("What was revenue7?", [_hit(row, start=40)], model)
    assert model.count_tokens(source.text) <= SOURCE_TOKENS
    assert model.count_tokens(source.text) >= SOURCE_TOKENS - 2  # cut near the limit...
    assert row.startswith(source.text) and row[len(source.text)] == " "  # ...at a word
    assert (source.start, source.end) == (40, 40 + len(source.text))


def test_the_best_sentences_are_kept_whole_when_they_fit() -> None:
    model = FakeModel()
    filler = " ".join(["The weather was mild that year."] * 30)
    text = filler + " The tenant must give sixty days written notice. " + filler
    [source] = select_sources("How much notice must the tenant give?", [_hit(text)], model)
    assert "The tenant must give sixty days written notice." in source.text
    assert model.count_tokens(source.text) <= SOURCE_TOKENS
    assert source.text[0].isupper() and source.text.endswith(".")
