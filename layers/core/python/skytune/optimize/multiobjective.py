"""Pareto fronts and hypervolumes (every objective minimised; callers flip maximised ones).

* :func:`pareto_mask` marks the non-dominated rows of a value matrix;
* :func:`hypervolume` is exact, by slicing along the last objective (HSO, While et al. 2006):
  O(n^(m-1) log n) for n points and m objectives, fine for the fronts of a tuning job
  (hundreds of trials, 2-4 objectives);
* :func:`hypervolume_improvement_mc` estimates, for many candidate outcomes at once, the
  hypervolume each would add to a front, from one fixed set of uniform points in the
  reference box (vectorised; the acquisition's Monte Carlo EHVI uses it, see
  :mod:`skytune.optimize.extended`).

Hand-written (no pymoo/botorch): the Lambda layer carries numpy only.
"""

from __future__ import annotations

import numpy as np


def pareto_mask(y: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``y`` (n, m) that no other row dominates (<= everywhere,
    < somewhere). Duplicated rows are all kept."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=bool)
    le = np.all(y[:, None, :] <= y[None, :, :], axis=2)  # le[j, i]: j <= i everywhere
    lt = np.any(y[:, None, :] < y[None, :, :], axis=2)
    dominated = np.any(le & lt, axis=0)
    return ~dominated


def hypervolume(y: np.ndarray, reference: np.ndarray) -> float:
    """Volume dominated by the rows of ``y`` and bounded by ``reference`` (minimisation);
    rows not strictly better than the reference in every objective add nothing."""
    y = np.asarray(y, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if y.ndim != 2 or len(y) == 0:
        return 0.0
    y = y[np.all(y < reference, axis=1)]
    if len(y) == 0:
        return 0.0
    y = y[pareto_mask(y)]
    return _hso(y, reference)


def _hso(y: np.ndarray, reference: np.ndarray) -> float:
    m = y.shape[1]
    if m == 1:
        return float(reference[0] - y[:, 0].min())
    if m == 2:
        order = np.argsort(y[:, 0], kind="stable")
        xs, ys = y[order, 0], y[order, 1]
        best = np.minimum.accumulate(ys)
        widths = np.diff(np.append(xs, reference[0]))
        return float(np.sum(widths * (reference[1] - best)))
    # slice along the last objective: between consecutive levels, the (m-1)-dimensional front
    # of the points at or below the level
    order = np.argsort(y[:, -1], kind="stable")
    y = y[order]
    levels = np.append(y[:, -1], reference[-1])
    total = 0.0
    for i in range(len(y)):
        depth = levels[i + 1] - levels[i]
        if depth <= 0:
            continue
        part = y[: i + 1, :-1]
        part = part[pareto_mask(part)]
        total += depth * _hso(part, reference[:-1])
    return float(total)


def uniform_box_points(lower: np.ndarray, reference: np.ndarray, count: int,
                       rng: np.random.Generator) -> np.ndarray:
    """``count`` uniform points in the box [lower, reference]."""
    lower, reference = np.asarray(lower, float), np.asarray(reference, float)
    return lower + rng.random((count, len(reference))) * (reference - lower)


def hypervolume_improvement_mc(candidates: np.ndarray, front: np.ndarray, reference: np.ndarray,
                               box: np.ndarray, box_volume: float, chunk: int = 256) -> np.ndarray:
    """Estimated hypervolume improvement of each candidate outcome (rows of ``candidates``,
    shape (c, m)) over ``front`` (k, m): the share of the uniform ``box`` points (q, m), drawn in
    a box of volume ``box_volume`` that contains the region between the front and the
    reference, that the candidate dominates and the front does not."""
    candidates = np.asarray(candidates, dtype=float)
    free = np.ones(len(box), dtype=bool)
    if len(front):
        free = ~np.any(np.all(np.asarray(front)[:, None, :] <= box[None, :, :], axis=2), axis=0)
    inside = np.all(box < reference, axis=1)
    targets = box[free & inside]
    out = np.zeros(len(candidates))
    if len(targets) == 0:
        return out
    for start in range(0, len(candidates), chunk):
        block = candidates[start:start + chunk]
        dominated = np.all(block[:, None, :] <= targets[None, :, :], axis=2)
        out[start:start + chunk] = dominated.sum(axis=1)
    return out * box_volume / len(box)
