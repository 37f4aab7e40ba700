"""The bundled model's trained reader (``core.models.reader_head``): shipped intact (off by
default until its calibration holds on new questions), refused when its file is damaged, read
from the same passes that score the candidates, and used by the reader in place of its own
weights (and with its own thresholds) when the model has one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.answer import reader
from core.answer.sources import Source
from core.cancel import CancelToken
from core.models.reader_head import (
    GEMMA_270M_READER,
    ReaderHead,
    ReaderHeadError,
    ReaderHeadSpec,
    StateTap,
    reader_head_for,
    save_reader_head,
)
from core.resources import resource
from core.types import Hit
from tests.fakes import FakeModel

model_test = pytest.mark.model


@pytest.fixture(scope="module")
def reader_model(default_gguf: Path) -> Iterator[object]:
    """The bundled model with its trained reader asked for (it is off by default)."""
    from core.models.llama.unified import UnifiedModel

    with UnifiedModel.load(default_gguf, n_ctx=2048, trained_reader=True) as model:
        yield model

WIDTH = 4
TAPS = (StateTap(2, "mean"), StateTap(3, "last"))


def _write_head(folder: Path, state_weights: Sequence[float], *, found: float = 0.8,
                named: float = 0.6, layers: Sequence[int] = (2, 3)) -> ReaderHead:
    """A head over 2 × WIDTH state values, its basis the identity: ``state_weights`` weigh the
    (centred, standardised) state values themselves; every reader feature weighs nothing."""
    sha = save_reader_head(folder / "head.npz", layers, centre=np.zeros(2 * WIDTH),
                           scale=np.ones(2 * WIDTH), basis=np.eye(2 * WIDTH),
                           feature_weights=np.zeros(len(reader.FEATURES)),
                           state_weights=np.asarray(state_weights, dtype=float), bias=0.0,
                           found=found, named=named)
    spec = ReaderHeadSpec("test-reader", 1, "feedbeef", TAPS, "head.npz", sha)
    return ReaderHead.load(spec, folder)


def test_the_shipped_reader_is_intact_and_belongs_to_the_bundled_model():
    head = ReaderHead.load(GEMMA_270M_READER)
    width = 640 * len(GEMMA_270M_READER.taps)
    assert head.centre.shape == (width,) and head.basis.shape[1] == width
    assert head.feature_weights.shape == (len(reader.FEATURES),)
    assert np.abs(head.state_weights).max() > 0  # the states weigh: a trained reader
    assert 0.0 < head.named <= head.found < 1.0
    fingerprint = GEMMA_270M_READER.model_fingerprint
    assert reader_head_for(fingerprint, asked=True) == GEMMA_270M_READER
    # off by default: on the eval questions its threshold let through more wrong answers
    assert not GEMMA_270M_READER.on_by_default and reader_head_for(fingerprint) is None
    assert reader_head_for("0000", asked=True) is None


def test_a_damaged_missing_or_misfitting_reader_file_is_refused_with_a_way_out(tmp_path: Path):
    spec = GEMMA_270M_READER
    shutil.copy(resource("reader_heads", spec.file), tmp_path / spec.file)
    damaged = bytearray((tmp_path / spec.file).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / spec.file).write_bytes(bytes(damaged))
    with pytest.raises(ReaderHeadError, match=r"damaged or has been changed.*Reinstall Kenning"):
        ReaderHead.load(spec, tmp_path)
    (tmp_path / spec.file).unlink()
    with pytest.raises(ReaderHeadError, match=r"could not be read.*Reinstall Kenning"):
        ReaderHead.load(spec, tmp_path)
    # well formed, with its own checksum, but for other blocks than its spec reads
    with pytest.raises(ReaderHeadError, match="does not fit"):
        _write_head(tmp_path, np.ones(2 * WIDTH), layers=(5, 3))


def test_what_every_candidate_shares_is_not_evidence_for_any_of_them(tmp_path: Path):
    head = _write_head(tmp_path, [2.0, 0, 0, 0, 0, 0, 0, -1.0])
    features = np.zeros((3, len(reader.FEATURES)))
    states = np.random.default_rng(0).normal(size=(3, 2 * WIDTH))
    p = head.probabilities(features, states)
    shifted = head.probabilities(features, states + np.arange(2 * WIDTH))
    assert np.allclose(p, shifted)
    # a candidate whose state moves along what the head weighs becomes likelier
    moved = states.copy()
    moved[1, 0] += 1.0
    assert head.probabilities(features, moved)[1] > p[1]
    with pytest.raises(ReaderHeadError, match="reads"):
        head.probabilities(features[:, :3], states)


LEASE = ("The tenant must give sixty days notice before leaving. Rent is due on the first "
         "day of each month. The landlord keeps the deposit in a separate account.")


class _StateModel(FakeModel):
    """The fake model with a trained reader: its states mark the candidate that holds
    ``favoured`` (the first state value 1, else 0)."""

    def __init__(self, head: ReaderHead, favoured: str) -> None:
        super().__init__()
        self.reader_head = head
        self.favoured = favoured

    def read_continuations(self, pairs: Sequence[tuple[str, str]],
                           cancel: CancelToken | None = None
                           ) -> tuple[list[np.ndarray], np.ndarray | None]:
        states = np.zeros((len(pairs), 2 * WIDTH))
        for i, (prompt, _) in enumerate(pairs):
            states[i, 0] = float(self.favoured in prompt)
        return self.continuation_logprobs(pairs, cancel), states


def _lease() -> Source:
    hit = Hit(1, 1, "/docs/lease.txt", 2, 0, len(LEASE), LEASE, "", LEASE[:80], [], 0, 1.0)
    return Source(1, hit, 0, len(LEASE), LEASE)


def test_the_reader_reads_by_the_models_trained_reader_when_it_has_one(tmp_path: Path):
    question = "When is the rent due?"
    # Alone, the reader's own weights put the sentence that explains the question first.
    assert reader.read(FakeModel(), question, [_lease()])[0].candidate.text.startswith("Rent")
    head = _write_head(tmp_path, [8.0] + [0.0] * (2 * WIDTH - 1), found=0.9, named=0.7)
    model = _StateModel(head, favoured="deposit")
    readings = reader.read(model, question, [_lease()])
    assert readings[0].candidate.text.startswith("The landlord keeps the deposit")
    assert readings[0].probability > 0.9 > readings[1].probability
    # its thresholds are the head's, calibrated with it
    assert reader.thresholds(model) == (0.9, 0.7)
    assert reader.thresholds(FakeModel()) == (reader.FOUND_PROBABILITY,
                                              reader.NAMED_PROBABILITY)


@model_test
def test_the_bundled_model_reads_with_its_own_weights_by_default(real_model):
    assert real_model.reader_head is None
    _, states = real_model.read_continuations([("lease\nQuestion:", " When is rent due?")])
    assert states is None


@model_test
def test_the_bundled_model_reads_its_states_from_the_passes_that_score(reader_model):
    assert reader_model.reader_head is not None
    assert reader_model.reader_head.spec == GEMMA_270M_READER
    pairs = [("lease\nThe tenant must give sixty days notice.\nQuestion:",
              " How much notice must the tenant give?"),
             ("garden\nTomatoes need full sun.\nQuestion:",
              " How much notice must the tenant give?"),
             ("lease\nQuestion:", " How much notice must the tenant give?")]
    scores, states = reader_model.read_continuations(pairs)
    # the taps leave the scores as they were
    for with_taps, plain in zip(scores, reader_model.continuation_logprobs(pairs), strict=True):
        assert np.array_equal(with_taps, plain)
    assert states is not None and states.shape == (3, 640 * len(GEMMA_270M_READER.taps))
    assert np.isfinite(states).all()
    # one pass or one pair at a time, a pair's states are its own
    _, alone = reader_model.read_continuations(pairs[1:2])
    assert alone is not None and np.allclose(alone[0], states[1], atol=1e-3)
    assert not np.allclose(states[0], states[1], atol=1e-2)


@model_test
def test_the_trained_reader_finds_the_answering_sentence(reader_model):
    text = ("Kenning's release notes. The installer now asks before it replaces an existing "
            "shortcut. Indexing a folder of 2,000 files takes about twenty minutes on a laptop. "
            "The search window remembers its size between sessions.")
    hit = Hit(1, 1, "/docs/release-notes.txt", 1, 0, len(text), text, "", text[:80], [], 0, 1.0)
    source = Source(1, hit, 0, len(text), text)
    question = "How long does indexing a folder of 2,000 files take?"
    readings = reader.read(reader_model, question, [source])
    assert readings[0].candidate.text.startswith("Indexing a folder")
    head = reader_model.reader_head
    assert head is not None
    # the head decides: its probabilities are not the reader's own weights'
    own = [reader.probability(r.features) for r in readings]
    assert [r.probability for r in readings] != pytest.approx(own)


@model_test
def test_a_damaged_reader_stops_the_load_with_the_reinstall_message(
        home: Path, monkeypatch: pytest.MonkeyPatch):
    from core.config import AppPaths, Settings
    from core.models import reader_head
    from core.services import ModelUnavailable, load_default_or_chosen_model

    changed = replace(GEMMA_270M_READER, sha256="0" * 64, on_by_default=True)
    monkeypatch.setattr(reader_head, "READER_HEADS", (changed,))
    with pytest.raises(ModelUnavailable) as refused:
        load_default_or_chosen_model(Settings(), AppPaths.resolve(home))
    message = str(refused.value)
    assert "trained reader" in message and "damaged or has been changed" in message
    assert "Reinstall Kenning" in message
    assert "Choose another GGUF" not in message  # another model is not the way out
