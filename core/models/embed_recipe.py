"""How a vector is made from a decoder's hidden states: which block, RMS scaling, centring.

Kept apart from ``models.llama.unified`` so the recipe can be read and tested without llama.cpp.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.models.interface import ModelProfile

log = logging.getLogger(__name__)

# Varied everyday and technical prose (written for Kenning) from which a model's common
# embedding direction is estimated for profiles with ``centred``; it only has to be typical text.
CENTRE_REFERENCE = (
    "The tenant shall give the landlord at least two months' written notice before leaving.",
    "Patients with high blood pressure were given a lower dose for the first six weeks.",
    "The boiler was serviced in March and the pressure valve was replaced.",
    "Quarterly revenue grew by eight percent, driven mostly by subscription sales.",
    "Preheat the oven, then bake the bread for forty minutes until the crust is golden.",
    "The function returns an empty list when the input file cannot be opened.",
    "In 1848 revolutions spread across Europe, starting in Sicily and reaching Paris.",
    "Wind tunnel tests showed the boundary layer separating near the trailing edge.",
    "Please find attached the minutes of Tuesday's meeting and the revised budget.",
    "The train to the coast leaves every hour from platform four on weekdays.",
    "Cells exposed to the protein divided faster than the untreated controls.",
    "Interest is charged monthly on any balance not paid by the due date.",
    "The library catalogue indexes each document by author, title and subject headings.",
    "Water the tomatoes in the morning and keep the soil moist but not wet.",
    "The committee will review the application and reply within thirty days.",
    "Our results suggest that the effect is smaller in older participants.",
    "Remember to back up the photos before reinstalling the operating system.",
    "The bridge's steel cables are inspected for corrosion every five years.",
    "She described the novel as a quiet story about memory, grief and a small town.",
    "Any dispute arising from this agreement shall be settled by arbitration.",
    "The heat transfer coefficient rises with the flow velocity over the plate.",
    "Invoice 2041 is overdue; a reminder was sent to the customer on Friday.",
    "Children learn to read more easily when stories are read aloud at home.",
    "The new policy allows staff to work from home two days a week.",
)


def resolve_layer(profile: ModelProfile, blocks: int) -> ModelProfile:
    """The block ``profile.embed_depth`` points at in a model of ``blocks`` blocks."""
    if profile.pools_in_model or profile.embed_layer >= blocks:
        return replace(profile, embed_layer=-1)
    if profile.embed_layer >= 0 or profile.embed_depth >= 1.0 or blocks < 2:
        return profile
    return replace(profile, embed_layer=max(0, round(profile.embed_depth * blocks) - 1))


def rms_rows(rows: np.ndarray) -> np.ndarray:
    """Each token row scaled to unit RMS, as the next layer's norm would see it: inner
    residual rows carry a few huge dimensions that would otherwise own the mean."""
    scale = np.sqrt(np.mean(np.square(rows, dtype=np.float64), axis=1, keepdims=True) + 1e-6)
    return rows / scale


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    degenerate = ~np.isfinite(norms[:, 0]) | (norms[:, 0] < 1e-12)
    vectors = np.where(np.isfinite(vectors), vectors, 0.0).astype(np.float32)
    vectors[degenerate] = 0.0
    vectors[degenerate, 0] = 1.0  # a unit vector, never NaN, for input with nothing to pool
    norms[degenerate] = 1.0
    return (vectors / norms).astype(np.float32)


def cached_centre(
    cache_dir: Path | None, model_id: str, dim: int, estimate: Callable[[], np.ndarray]
) -> np.ndarray:
    """The model's common direction: read from ``cache_dir`` when an earlier load saved it
    there, else ``estimate()`` (and saved for next time). Estimating embeds every reference
    sentence, the largest part of a model load on a busy machine; the key is the model id,
    which names the weights and the whole recipe."""
    digest = hashlib.sha256(model_id.encode()).hexdigest()[:16]
    cached = cache_dir / f"centre-{digest}.npy" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        try:
            centre = np.load(cached, allow_pickle=False)
            if centre.shape == (dim,) and np.isfinite(centre).all():
                return centre.astype(np.float32)
        except (OSError, ValueError):
            pass  # unreadable: estimated again and rewritten below
    centre = estimate().astype(np.float32)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(cached.name + ".partial")
            with partial.open("wb") as out:
                np.save(out, centre)
            os.replace(partial, cached)
        except OSError as exc:  # a read-only folder only costs the next load some time
            log.info("could not keep the embedding centre in %s: %s", cache_dir, exc)
    return centre
