"""Small embed heads on frozen pooled features, trained in numpy (no torch): a linear or low-rank
projection, optionally with a low-rank correction on the query side and a one-hidden-layer MLP
branch, fitted with in-batch-negative InfoNCE on question -> paragraph pairs and, optionally, a
distillation loss that keeps the teacher's pairwise cosines within a batch.

Gradients are written out by hand; ``tests``-style checks of them live in ``gradcheck`` below
(run ``python bench/embed_head/heads.py`` to compare them against finite differences).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def unit_backward(z: np.ndarray, v: np.ndarray, dv: np.ndarray) -> np.ndarray:
    """Gradient through ``v = z / |z|``."""
    norm = np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
    return (dv - v * np.sum(v * dv, axis=-1, keepdims=True)) / norm


@dataclass
class Head:
    """``v = unit(x W + relu(x A + a) B [+ x Qa Qb for queries])`` over the centred, concatenated
    per-layer features ``x`` (``means`` are the training means subtracted per layer)."""

    w: np.ndarray
    hidden_a: np.ndarray | None = None
    hidden_b: np.ndarray | None = None
    hidden_bias: np.ndarray | None = None
    query_a: np.ndarray | None = None
    query_b: np.ndarray | None = None
    layers: tuple[int, ...] = (15,)
    means: dict[int, np.ndarray] = field(default_factory=dict)

    def params(self) -> dict[str, np.ndarray]:
        names = ("w", "hidden_a", "hidden_b", "hidden_bias", "query_a", "query_b")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def inputs(self, feats: dict[int, np.ndarray]) -> np.ndarray:
        return np.concatenate([unit(feats[L]) - self.means[L] for L in self.layers],
                              axis=1).astype(np.float32)

    def forward(self, x: np.ndarray, query: bool) -> tuple[np.ndarray, dict]:
        z = x @ self.w
        cache: dict = {"x": x}
        if self.hidden_a is not None:
            assert self.hidden_b is not None and self.hidden_bias is not None
            pre = x @ self.hidden_a + self.hidden_bias
            h = np.maximum(pre, 0)
            z = z + h @ self.hidden_b
            cache["pre"], cache["h"] = pre, h
        if query and self.query_a is not None:
            assert self.query_b is not None
            t = x @ self.query_a
            z = z + t @ self.query_b
            cache["t"] = t
        v = unit(z)
        cache["z"], cache["v"] = z, v
        return v, cache

    def backward(self, cache: dict, dv: np.ndarray, grads: dict[str, np.ndarray]) -> None:
        dz = unit_backward(cache["z"], cache["v"], dv)
        x = cache["x"]
        grads["w"] += x.T @ dz
        if "h" in cache:
            assert self.hidden_b is not None
            grads["hidden_b"] += cache["h"].T @ dz
            dpre = (dz @ self.hidden_b.T) * (cache["pre"] > 0)
            grads["hidden_a"] += x.T @ dpre
            grads["hidden_bias"] += dpre.sum(axis=0)
        if "t" in cache:
            assert self.query_a is not None and self.query_b is not None
            grads["query_b"] += cache["t"].T @ dz
            grads["query_a"] += x.T @ (dz @ self.query_b.T)

    def __call__(self, feats: dict[int, np.ndarray], query: bool) -> np.ndarray:
        return self.forward(self.inputs(feats), query)[0].astype(np.float32)


def info_nce(q: np.ndarray, p: np.ndarray, scale: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean cross-entropy of each query against the batch's paragraphs (its own is the
    target), both directions averaged; returns the loss and its gradients for q and p."""
    logits = scale * (q @ p.T)
    n = len(q)
    loss = 0.0
    dlogits = np.zeros_like(logits)
    for lg, transpose in ((logits, False), (logits.T, True)):
        shifted = lg - lg.max(axis=1, keepdims=True)
        prob = np.exp(shifted)
        prob /= prob.sum(axis=1, keepdims=True)
        loss += float(-np.mean(np.log(prob[np.arange(n), np.arange(n)] + 1e-12))) / 2
        grad = prob.copy()
        grad[np.arange(n), np.arange(n)] -= 1
        grad /= 2 * n
        dlogits += grad.T if transpose else grad
    return loss, scale * dlogits @ p, scale * dlogits.T @ q


def relational(v: np.ndarray, teacher: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared difference between the batch's pairwise cosines and the teacher's."""
    diff = v @ v.T - teacher @ teacher.T
    n = len(v)
    loss = float(np.mean(diff**2))
    return loss, 4.0 / (n * n) * diff @ v


class Adam:
    """Adam; ``decay`` pulls each parameter back toward where it started (so a head that
    starts as the product's recipe stays near it unless the data insists)."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, decay: float = 0.0) -> None:
        self.lr, self.decay, self.t = lr, decay, 0
        self.start = {k: v.copy() for k, v in params.items()}
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.s = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
             lr: float | None = None) -> None:
        self.t += 1
        rate = self.lr if lr is None else lr
        for k, p in params.items():
            g = grads[k] + self.decay * (p - self.start[k])
            self.m[k] = 0.9 * self.m[k] + 0.1 * g
            self.s[k] = 0.999 * self.s[k] + 0.001 * g * g
            m = self.m[k] / (1 - 0.9**self.t)
            s = self.s[k] / (1 - 0.999**self.t)
            p -= rate * m / (np.sqrt(s) + 1e-8)


def gradcheck(seed: int = 0) -> float:
    """Largest relative error of the hand-written gradients against finite differences."""
    rng = np.random.default_rng(seed)
    d, k, n = 12, 8, 6
    head = Head(w=rng.normal(size=(d, k)), hidden_a=rng.normal(size=(d, 5)),
                hidden_b=rng.normal(size=(5, k)), hidden_bias=rng.normal(size=5),
                query_a=rng.normal(size=(d, 3)), query_b=rng.normal(size=(3, k)))
    xq, xp, teach = rng.normal(size=(n, d)), rng.normal(size=(n, d)), unit(rng.normal(size=(n, 7)))

    def loss_and_grads() -> tuple[float, dict[str, np.ndarray]]:
        q, cq = head.forward(xq, True)
        p, cp = head.forward(xp, False)
        loss, dq, dp = info_nce(q, p, 5.0)
        rl, dr = relational(p, teach)
        grads = {k: np.zeros_like(v) for k, v in head.params().items()}
        head.backward(cq, dq, grads)
        head.backward(cp, dp + 0.7 * dr, grads)
        return loss + 0.7 * rl, grads

    _, grads = loss_and_grads()
    worst = 0.0
    for name, p in head.params().items():
        for index in list(np.ndindex(p.shape))[:10]:
            old = p[index]
            p[index] = old + 1e-6
            up, _ = loss_and_grads()
            p[index] = old - 1e-6
            down, _ = loss_and_grads()
            p[index] = old
            numeric = (up - down) / 2e-6
            worst = max(worst, abs(numeric - grads[name][index]) / max(1e-6, abs(numeric)))
    return worst


if __name__ == "__main__":
    print(f"largest relative gradient error: {gradcheck():.2e}")
