"""The background service as a good guest: on battery it rests between batches of indexing
work (as long as each batch took), on mains power it does not, and a cancel ends a rest."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from core.cancel import CancelToken
from core.config import Settings
from core.index.indexer import Indexer
from core.index.pacing import SERVICE_NICENESS, Pacer
from core.store.database import Store
from tests.fakes import FakeModel
from tests.index_checks import assert_consistent, vector_count

MODEL_ID = FakeModel().model_id


def test_on_battery_it_rests_as_long_as_it_worked() -> None:
    pacer = Pacer(on_battery=lambda: True)
    rested = pacer.rest_after(0.3)
    assert 0.29 <= rested < 1.5
    assert pacer.on_battery and pacer.rested_s == rested


def test_on_mains_power_it_does_not_rest() -> None:
    pacer = Pacer(on_battery=lambda: False)
    started = time.monotonic()
    assert pacer.rest_after(5.0) == 0.0
    assert time.monotonic() - started < 0.5
    assert not pacer.on_battery


def test_a_cancel_ends_the_rest_at_once() -> None:
    cancel = CancelToken()
    cancel.cancel()
    pacer = Pacer(on_battery=lambda: True)
    started = time.monotonic()
    pacer.rest_after(30.0, cancel)
    assert time.monotonic() - started < 1.0


def test_the_power_source_is_looked_at_again_only_after_a_while() -> None:
    now = [0.0]
    looks: list[float] = []

    def on_battery() -> bool:
        looks.append(now[0])
        return len(looks) > 1  # on mains at first, then unplugged

    pacer = Pacer(on_battery=on_battery, probe_every=30.0, clock=lambda: now[0])
    for second in (0.0, 10.0, 29.0):
        now[0] = second
        assert pacer.battery_now() is False
    now[0] = 31.0
    assert pacer.battery_now() is True
    assert looks == [0.0, 31.0]


def _folder(root: Path) -> Path:
    root.mkdir()
    for n in range(6):
        (root / f"note{n}.txt").write_text(
            "\n\n".join(f"Paragraph {k} of note {n} about the garden{n} and its river{k}."
                        for k in range(8)), encoding="utf-8")
    return root


def _index_with(pacer: Pacer, tmp_path: Path, extractor) -> Store:
    store = Store.open(tmp_path / "index.db")
    indexer = Indexer(store, FakeModel(), Settings(chunk_tokens=30), extractor)
    indexer.pacer = pacer
    indexer.add_folder(_folder(tmp_path / "docs"))
    indexer.run()
    return store


def test_indexing_on_battery_rests_between_batches_and_still_finishes(tmp_path, extractor):
    pacer = Pacer(on_battery=lambda: True)
    store = _index_with(pacer, tmp_path, extractor)
    try:
        assert pacer.rested_s > 0
        assert vector_count(store, MODEL_ID) == store.count("SELECT count(*) FROM chunks") > 0
        assert_consistent(store, MODEL_ID)
    finally:
        store.close()


def test_indexing_on_mains_power_never_rests(tmp_path, extractor):
    pacer = Pacer(on_battery=lambda: False)
    store = _index_with(pacer, tmp_path, extractor)
    try:
        assert pacer.rested_s == 0
        assert vector_count(store, MODEL_ID) == store.count("SELECT count(*) FROM chunks") > 0
    finally:
        store.close()


def test_lower_priority_gives_the_process_a_lower_priority() -> None:
    code = ("import psutil; from core.index.pacing import lower_priority; "
            "before = psutil.Process().nice(); lower_priority(); "
            "print(before, psutil.Process().nice())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[3])
    before, after = done.stdout.split()
    if sys.platform == "win32":
        assert after != before  # BELOW_NORMAL_PRIORITY_CLASS
    else:
        assert int(after) == max(int(before), SERVICE_NICENESS)
