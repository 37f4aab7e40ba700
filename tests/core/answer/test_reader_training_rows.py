"""The training rows the reader and its trained head are fitted on (bench/fit_reader.py,
bench/fit_reader_head.py): a question that two sets of rows both sampled counts once."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.fit_reader import pooled_tables
from bench.fit_reader_head import Rows
from core.answer import reader

WIDTH = 4


def _row(question_id: str, order: int, label: bool) -> dict:
    return {"q": question_id, "question": "Where was the empire's headquarters?",
            "text": "The Western Roman Empire was based in Rome for most of its history.",
            "order": order, "label": label, "quote_label": label, "source_n": 1,
            "in_window": True, "fwd": [-1.0, -2.0, -0.5], "null": [-2.0, -3.0, -1.0]}


def _write_set(prefix: Path, questions: dict[str, list[bool]], state: float) -> None:
    rows = [_row(q, order, label) for q, labels in questions.items()
            for order, label in enumerate(labels)]
    prefix.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    states = np.full((len(rows), WIDTH), state, dtype=np.float32)
    states[:, 0] = np.arange(len(rows))
    np.savez(prefix.with_suffix(".npz"), mean6=states, last9=states)


def test_a_question_sampled_by_two_sets_keeps_its_first_reading(tmp_path: Path) -> None:
    _write_set(tmp_path / "a", {"1-0-q0": [True, False], "1-0-q1": [False, False]}, 1.0)
    # The second set read 1-0-q1 again (three candidates this time) and a question of its own.
    _write_set(tmp_path / "b", {"1-0-q1": [True, False, False], "2-0-q0": [False, True]}, 2.0)

    tables = pooled_tables([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], reader.READ_AT_MOST)
    assert sorted(tables) == ["1-0-q0", "1-0-q1", "2-0-q0"]
    assert tables["1-0-q1"][1].tolist() == [0.0, 0.0]

    rows = Rows([tmp_path / "a", tmp_path / "b"], ["mean6", "last9"])
    assert list(rows.groups) == ["1-0-q0", "1-0-q1", "2-0-q0"]
    assert [len(m) for m in rows.groups.values()] == [2, 2, 2]
    repeated = rows.groups["1-0-q1"]
    assert rows.labels[repeated].tolist() == [0.0, 0.0]
    # Its states are the first set's, and the second set's own question keeps its states.
    assert rows.states[repeated, 1].tolist() == [1.0, 1.0]
    own = rows.groups["2-0-q0"]
    assert rows.states[own, 1].tolist() == [2.0, 2.0]
    assert rows.states[own, 0].tolist() == [3.0, 4.0]
    assert rows.articles.tolist() == ["1", "1", "1", "1", "2", "2"]
