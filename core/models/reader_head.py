"""Trained reader heads: how sure a model's reading is, learned from its own inner states.

The reader (``core.answer.reader``) scores each candidate sentence by how likely the model
finds the question after it. While the model reads "file name / sentence / Question: q", the
question's tokens have read the sentence, so their inner state says how the two fit; a head
learned offline on training questions turns a few blocks' states, beside the reader's own
features, into the probability that the sentence answers. It belongs to one GGUF (known by
``gguf_header.file_fingerprint``), ships in Kenning's resources with a version and a sha256,
and carries the thresholds it was calibrated with. How the bundled model's head was trained
and what it measured: docs/models.md ("A trained reader"), ``bench/fit_reader_head.py``.

    spec = reader_head_for(fingerprint)      # None: the reader's own weights
    head = ReaderHead.load(spec)             # ReaderHeadError if the file is missing or changed
    states = ...                             # per candidate: spec.taps, pooled (``pool_states``)
    p = head.probabilities(features, states) # one question's candidates
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.resources import checked_bytes, resource


class ReaderHeadError(RuntimeError):
    """A trained reader's file is missing, damaged or not the one this Kenning was built with."""


#: How a block's rows over the question's tokens become one vector: their mean, or the last
#: row (the state the model predicts from after reading the whole question).
POOLS = ("mean", "last")


@dataclass(frozen=True)
class StateTap:
    layer: int  # llama.cpp's ``l_out-<layer>``
    pool: str  # one of POOLS


@dataclass(frozen=True)
class ReaderHeadSpec:
    name: str
    version: int
    model_fingerprint: str
    taps: tuple[StateTap, ...]
    file: str  # under resources/reader_heads/
    sha256: str
    #: Read with whenever its model loads; False keeps it to runs that ask for it
    #: (``UnifiedModel.load(trained_reader=True)``, the benches) until its calibration holds.
    on_by_default: bool = True


# The bundled gemma-3-270m Q4_K_M: fitted by bench/fit_reader_head.py on questions of
# ../shared/train/squad_train_rest (docs/models.md, "A trained reader").
GEMMA_270M_READER = ReaderHeadSpec(
    name="gemma-3-270m-reader",
    version=3,
    model_fingerprint="b0cebc97492b",
    taps=(StateTap(6, "mean"), StateTap(9, "last")),
    file="gemma-3-270m-reader-v3.npz",
    sha256="5d274dd1936d053d861100604f948e154fd65a122cc0176e19ea7e3a3c5aeb3e",
    # Off: on the eval questions it gave fewer right answers than the reader's own weights,
    # with as many wrong ones (docs/models.md).
    on_by_default=False,
)

READER_HEADS = (GEMMA_270M_READER,)


def reader_head_for(fingerprint: str, *, asked: bool = False) -> ReaderHeadSpec | None:
    """The trained reader of the GGUF with this fingerprint, if Kenning has one that is on by
    default (or any, when ``asked``)."""
    return next((spec for spec in READER_HEADS if spec.model_fingerprint == fingerprint
                 and (spec.on_by_default or asked)), None)


def pool_states(rows: dict[int, np.ndarray], spans: Sequence[tuple[int, int]],
                taps: Sequence[StateTap]) -> np.ndarray:
    """Per span of token rows (a pair's question tokens in a pass), the taps' pooled states
    side by side. ``rows``: per block, the pass's rows, each scaled to unit RMS."""
    out = np.zeros((len(spans), sum(rows[t.layer].shape[1] for t in taps)), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        parts = [rows[t.layer][start:end].mean(axis=0) if t.pool == "mean"
                 else rows[t.layer][end - 1] for t in taps]
        out[i] = np.concatenate(parts)
    return out


@dataclass(frozen=True)
class ReaderHead:
    """``p = sigmoid(bias + features @ feature_weights + ((s - s̄) - centre) / scale @ basis.T
    @ state_weights)``, s̄ the mean state of the question's candidates (what they share, the
    question, is not evidence for any one of them). ``found`` and ``named``: the thresholds
    the reader's choice uses with this head (``core.answer.reader.choose``)."""

    spec: ReaderHeadSpec
    centre: np.ndarray
    scale: np.ndarray
    basis: np.ndarray  # (components, state width)
    feature_weights: np.ndarray
    state_weights: np.ndarray
    bias: float
    found: float
    named: float

    @classmethod
    def load(cls, spec: ReaderHeadSpec, folder: Path | None = None) -> ReaderHead:
        fix = "Reinstall Kenning to restore it."
        data = checked_bytes((folder or resource("reader_heads")) / spec.file, spec.sha256,
                             "Kenning's trained reader", fix, ReaderHeadError)
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            head = cls(spec=spec, centre=arrays["centre"], scale=arrays["scale"],
                       basis=arrays["basis"], feature_weights=arrays["feature_weights"],
                       state_weights=arrays["state_weights"], bias=float(arrays["bias"]),
                       found=float(arrays["found"]), named=float(arrays["named"]))
            layers = tuple(int(v) for v in arrays["layers"])
        width = head.centre.shape[0]
        arrays_fit = (head.scale.shape == (width,) and head.basis.ndim == 2
                      and head.basis.shape[1] == width
                      and head.state_weights.shape == (head.basis.shape[0],)
                      and layers == tuple(t.layer for t in spec.taps)
                      and all(np.isfinite(a).all() for a in (head.centre, head.scale,
                                                               head.basis, head.feature_weights,
                                                               head.state_weights)))
        if not arrays_fit:
            raise ReaderHeadError(f"Kenning's trained reader {spec.file} does not fit its "
                                  f"model. {fix}")
        return head

    def probabilities(self, features: np.ndarray, states: np.ndarray) -> np.ndarray:
        """One question's candidates: ``features`` (candidates × the reader's features) and
        ``states`` (candidates × the taps' width)."""
        if features.shape[1] != len(self.feature_weights) or \
                states.shape[1] != len(self.centre):
            raise ReaderHeadError(f"The trained reader {self.spec.file} reads "
                                  f"{len(self.feature_weights)} features and states of "
                                  f"{len(self.centre)} values, not {features.shape[1]} and "
                                  f"{states.shape[1]}.")
        shared = states - states.mean(axis=0)
        components = ((shared - self.centre) / self.scale) @ self.basis.T
        logit = self.bias + features @ self.feature_weights + components @ self.state_weights
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -60.0, 60.0)))


def save_reader_head(path: Path, layers: Sequence[int], **arrays: np.ndarray | float) -> str:
    """Write a head file as ``ReaderHead.load`` reads it; returns its sha256 (for its spec).
    ``arrays``: centre, scale, basis, feature_weights, state_weights, bias, found, named."""
    values: dict[str, Any] = {k: np.asarray(v, dtype=np.float32 if np.ndim(v) else np.float64)
                              for k, v in arrays.items()}
    buffer = io.BytesIO()
    np.savez(buffer, layers=np.array(list(layers)), **values)
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()
