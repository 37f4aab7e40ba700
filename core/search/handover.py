"""Which model's vectors search reads while a newly chosen model re-embeds.

After a switch of model (or of separate embedder) the new model's vectors fill in in the
background, which takes hours for a large collection. Until they cover at least as many
passages as the previous model's set, search keeps reading that set, with queries embedded
by the previous GGUF (loaded again for queries only), and answers are still written by the
new model. Vectors of two models are never compared: each query is embedded by the model
whose set it searches.

>>> search_model = with_previous_vectors(store, model, load=UnifiedModel.load)
>>> search(store, "notice period", search_model)   # the fuller set, whichever model made it
>>> handover_complete(store, model.model_id)        # True once the new set has caught up
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.models.interface import Embedder, TextModel
from core.models.paired import PairedModel
from core.store.database import Store

log = logging.getLogger(__name__)

HANDOVER_NOTE = ("The newly chosen model is still embedding your files; until it has caught up, "
                 "meaning-based search uses the previous model's vectors.")


@dataclass(frozen=True)
class VectorSet:
    model_id: str
    #: The GGUF file that made these vectors ('' when unknown: made before it was recorded).
    source: str
    vectors: int


def vector_sets(store: Store) -> list[VectorSet]:
    """Every model's vector set in the database, newest first."""
    return [VectorSet(model_id, source, vectors)
            for model_id, source, vectors in store.chunks.vector_sets()]


def fuller_previous_set(store: Store, model_id: str) -> VectorSet | None:
    """The set search should read instead of ``model_id``'s own: the fullest other set that
    holds more vectors and whose model file is still there; None when ``model_id``'s own set
    is the one to read."""
    sets = vector_sets(store)
    own = sum(s.vectors for s in sets if s.model_id == model_id)
    fuller = [s for s in sets if s.model_id != model_id and s.vectors > own
              and s.source and Path(s.source).is_file()]
    return max(fuller, key=lambda s: s.vectors, default=None)


def handover_complete(store: Store, model_id: str) -> bool:
    return fuller_previous_set(store, model_id) is None


class PreviousVectorsModel(PairedModel):
    """Search and answers during a handover: a ``PairedModel`` whose embedder is the previous
    model (queries, and answer sentences when finding supporting spans, are embedded against
    its own set) and whose chat model is the current one. Owns ``previous`` only."""

    def __init__(self, previous: Embedder, current: TextModel) -> None:
        super().__init__(embedder=previous, chat=current)
        self._closed = False

    def count_tokens(self, text: str) -> int:
        # Answer sources are measured against the context of the model that reads them.
        return self.chat.count_tokens(text)

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        self._check_open()
        return super().embed_batch(texts, query=query)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("The previous model's vectors were just retired because the new "
                               "model's are complete. Search again.")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.embedder.close()


def with_previous_vectors(
    store: Store, current: TextModel, load: Callable[[Path], TextModel],
    load_zero_shot: Callable[[Path], TextModel] | None = None,
) -> TextModel:
    """``current``, or while its vectors are still filling in after a switch, a model that
    searches the fuller set of the previous model (``load`` opens that model's file). Falls
    back to ``current`` when the previous model cannot be loaded or is no longer the model
    that made those vectors (its file was replaced). ``load_zero_shot`` opens a file with the
    zero-shot recipe: the same file made the previous set before Kenning shipped a trained
    head for it (``core.models.embed_head``), which an upgrade re-embeds."""
    fuller = fuller_previous_set(store, current.model_id)
    if fuller is None:
        return current
    previous = _load_matching(Path(fuller.source), fuller.model_id, load)
    if previous is None and load_zero_shot is not None:
        previous = _load_matching(Path(fuller.source), fuller.model_id, load_zero_shot)
    if previous is None:
        return current
    log.info("searching %s's %d vectors until %s has embedded as many", fuller.model_id,
             fuller.vectors, current.model_id)
    return PreviousVectorsModel(previous, current)


def _load_matching(path: Path, model_id: str,
                   load: Callable[[Path], TextModel]) -> TextModel | None:
    try:
        model = load(path)
    except Exception as exc:  # any failure means: search the new set as it is
        log.warning("keeping to the new model's vectors: could not load %s (%s)", path, exc)
        return None
    if model.model_id != model_id:
        log.warning("keeping to the new model's vectors: %s now makes different vectors", path)
        model.close()
        return None
    return model
