"""Hyperparameter importance of a tuning job: which parameters explain the objective.

fANOVA-style (Hutter et al., 2014) on a small random forest, written here with numpy because the
Lambda layer has no scikit-learn: the forest f is fitted to the trials' objectives over the unit
encoding of the search space, and the importance of parameter i is its first-order (main) effect

    V_i = Var_{x_i}( E_{x_-i}[ f(x_i, x_-i) ] ),

the variance of f's marginal over x_i, with x_i on a grid across [0, 1] and x_-i taken from the
trials themselves (Monte-Carlo instead of fANOVA's exact tree-partition sums), averaged over the
trees. Importances are the V_i normalised to sum to 1 (as Optuna reports them). Deterministic: every
random choice comes from ``seed``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from skytune.optimize.space import SearchSpace

N_TREES = 32
MAX_DEPTH = 6
MIN_LEAF = 2
GRID = 16          # values of x_i per marginal
BACKGROUND = 64    # trials sampled for x_-i


@dataclass
class _Tree:
    """A regression tree as arrays: node k splits on feature[k] <= threshold[k] (-1: leaf)."""
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), dtype=int)
        for _ in range(MAX_DEPTH + 1):
            inner = self.feature[node] >= 0
            if not inner.any():
                break
            rows = np.nonzero(inner)[0]
            go_left = x[rows, self.feature[node[rows]]] <= self.threshold[node[rows]]
            node[rows] = np.where(go_left, self.left[node[rows]], self.right[node[rows]])
        return self.value[node]


def _fit_tree(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> _Tree:
    feature, threshold, left, right, value = [], [], [], [], []

    def grow(rows: np.ndarray, depth: int) -> int:
        k = len(feature)
        feature.append(-1), threshold.append(0.0), left.append(-1), right.append(-1), value.append(float(y[rows].mean()))
        if depth >= MAX_DEPTH or len(rows) < 2 * MIN_LEAF or np.ptp(y[rows]) == 0:
            return k
        best = (0.0, -1, 0.0)  # (reduction of squared error, feature, threshold)
        n_features = max(1, math.ceil(x.shape[1] * 0.8))
        for j in rng.choice(x.shape[1], size=n_features, replace=False):
            order = rows[np.argsort(x[rows, j], kind="stable")]
            xs, ys = x[order, j], y[order]
            csum, csq = np.cumsum(ys), np.cumsum(ys * ys)
            n = len(ys)
            counts = np.arange(1, n)
            sse_left = csq[:-1] - csum[:-1] ** 2 / counts
            sse_right = (csq[-1] - csq[:-1]) - (csum[-1] - csum[:-1]) ** 2 / (n - counts)
            gain = (csq[-1] - csum[-1] ** 2 / n) - (sse_left + sse_right)
            valid = (xs[:-1] < xs[1:]) & (counts >= MIN_LEAF) & (n - counts >= MIN_LEAF)
            if not valid.any():
                continue
            gain = np.where(valid, gain, -np.inf)
            i = int(np.argmax(gain))
            if gain[i] > best[0]:
                best = (float(gain[i]), int(j), float((xs[i] + xs[i + 1]) / 2))
        if best[1] < 0:
            return k
        _, j, t = best
        feature[k], threshold[k] = j, t
        mask = x[rows, j] <= t
        left[k] = grow(rows[mask], depth + 1)
        right[k] = grow(rows[~mask], depth + 1)
        return k

    grow(np.arange(len(y)), 0)
    return _Tree(np.array(feature), np.array(threshold), np.array(left), np.array(right), np.array(value))


def main_effects(x: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """(P,) first-order variances of a random forest fitted to (x in [0, 1]^P, y)."""
    rng = np.random.default_rng(seed)
    n, p = x.shape
    effects = np.zeros(p)
    background = x[rng.choice(n, size=min(n, BACKGROUND), replace=False)]
    grid = (np.arange(GRID) + 0.5) / GRID
    for _ in range(N_TREES):
        sample = rng.integers(0, n, size=n)
        tree = _fit_tree(x[sample], y[sample], rng)
        for j in range(p):
            probe = np.repeat(background[None, :, :], GRID, axis=0)  # (GRID, B, P)
            probe[:, :, j] = grid[:, None]
            marginal = tree.predict(probe.reshape(-1, p)).reshape(GRID, -1).mean(axis=1)
            effects[j] += marginal.var()
    return effects / N_TREES


def importance(space: SearchSpace, configs: Sequence[dict[str, Any]], objectives: Sequence[float],
               seed: int = 0) -> dict[str, Any]:
    """{"importances": {name: share}, "trials": n, "method": ...}; shares sum to 1, largest first.
    Fewer than 3 scored trials, or an objective that never varies, gives no importances."""
    names = list(space.names)
    result: dict[str, Any] = {"method": "fanova-forest", "trials": len(objectives), "importances": {}}
    if len(objectives) < 3 or not names:
        return result
    y = np.asarray(objectives, dtype=float)
    if np.ptp(y) == 0:
        return result
    x = space.to_unit(configs)
    effects = main_effects(x, (y - y.mean()) / y.std(), seed)
    total = effects.sum()
    if total <= 0:
        return result
    shares = sorted(zip(names, effects / total), key=lambda item: -item[1])
    result["importances"] = {name: round(float(share), 6) for name, share in shares}
    return result
