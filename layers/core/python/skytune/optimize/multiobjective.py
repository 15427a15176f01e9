"""Pareto fronts and hypervolumes (every objective minimised; callers flip maximised ones).

* :func:`pareto_mask` marks the non-dominated rows of a value matrix;
* :func:`hypervolume` is exact, by slicing along the last objective (HSO, While et al. 2006):
  O(n^(m-1) log n) for n points and m objectives, fine for the fronts of a tuning job
  (hundreds of trials, 2-4 objectives);
* :func:`nondominated_cells` splits the region below the reference point that the front does
  not dominate into axis-aligned boxes (a grid over the first m - 1 objectives, each column
  open downwards in the last one up to the lowest front point that dominates the column):
  (k + 1)^(m - 1) boxes for k front points;
* :func:`expected_hypervolume_improvement` is the *exact* EHVI of independent Gaussian
  outcomes over those boxes: the improvement is the sum over boxes of the volume of
  [y, upper] inside each box, a product over objectives of (u_j - max(l_j, y_j))+, so its
  expectation is a sum of products of one-dimensional expectations
  E[(u - max(l, Y))+] = psi(u) - psi(l), psi(a) = E[(a - Y)+] = sigma h((a - mu) / sigma)
  (Yang et al. 2019 use the same box form). The acquisition of
  :mod:`skytune.optimize.extended` uses it for 2 and 3 objectives; it replaced a Monte Carlo
  estimate (posterior samples scored against uniform points in the box) that was 4x slower at
  2 objectives and too noisy at 3;
* :func:`hypervolume_improvement_mc` is that Monte Carlo estimate, kept for 4 objectives with
  large fronts (where the boxes would be too many).

Hand-written (no pymoo/botorch): the Lambda layer carries numpy only.
"""

from __future__ import annotations

import numpy as np

from skytune.optimize.acquisition import log_h

MAX_CELLS = 40_000  # above this many boxes, the acquisition falls back to Monte Carlo EHVI


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


def nondominated_cells(front: np.ndarray, reference: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The region below ``reference`` that no row of ``front`` dominates, as a grid of boxes.

    Returns ``(bounds, heights)``: ``bounds[j]`` (j < m - 1) are the grid lines of objective j,
    ``[-inf, sorted distinct front values below the reference..., reference_j]`` (interval i is
    ``[bounds[j][i], bounds[j][i + 1]]``); ``heights`` has one entry per grid column (shape
    ``(len(bounds[0]) - 1, ..., len(bounds[m - 2]) - 1)``): the column's box in the last
    objective is ``[-inf, height]``. For m = 1, ``bounds`` is empty and ``heights`` a scalar array.
    """
    front = np.asarray(front, dtype=float).reshape(-1, len(reference))
    reference = np.asarray(reference, dtype=float)
    front = front[np.all(front < reference, axis=1)]
    m = len(reference)
    if m == 1:
        return [], np.array(min(reference[0], front[:, 0].min()) if len(front) else reference[0])
    bounds, positions = [], []
    for j in range(m - 1):
        values = np.unique(front[:, j])
        bounds.append(np.concatenate([[-np.inf], values, [reference[j]]]))
        # a point dominates (in objective j) the columns whose lower bound is >= its value
        positions.append(np.searchsorted(values, front[:, j]) + 1)
    heights = np.full(tuple(len(b) - 1 for b in bounds), reference[-1])
    for row, value in zip(zip(*positions), front[:, -1]) if len(front) else ():
        heights[row] = min(heights[row], value)
    for axis in range(m - 1):
        heights = np.minimum.accumulate(heights, axis=axis)
    return bounds, heights


def _psi(a: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E[(a - Y)+] for Y ~ N(mean, sd^2), broadcast; 0 at a = -inf. sigma h(z) with the stable
    log h of the acquisition module (no cancellation far below); beyond |z| = 40 it is a - mean
    or 0 to float precision."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        z = (a - mean) / sd
        inner = np.exp(log_h(np.clip(np.nan_to_num(z), -40.0, 40.0))[0]) * sd
        return np.where(z > 40.0, a - mean, np.where(z < -40.0, 0.0, inner))


def expected_hypervolume_improvement(mean: np.ndarray, sd: np.ndarray, front: np.ndarray,
                                     reference: np.ndarray, chunk_cells: int = 2_000_000) -> np.ndarray:
    """Exact expected hypervolume improvement over ``front`` (k, m) of outcomes Y_c ~
    N(mean[c], diag(sd[c]^2)) (arrays (c, m)), bounded by ``reference``; see the module docstring.
    A standard deviation of 0 gives the improvement of the point ``mean`` itself."""
    mean = np.atleast_2d(np.asarray(mean, dtype=float))
    sd = np.maximum(np.atleast_2d(np.asarray(sd, dtype=float)), 1e-300)
    reference = np.asarray(reference, dtype=float)
    bounds, heights = nondominated_cells(front, reference)
    m = len(reference)
    levels, index = np.unique(heights, return_inverse=True)
    index = index.reshape(heights.shape)
    last = _psi(levels[None, :], mean[:, -1:], sd[:, -1:])  # (c, levels)
    if m == 1:
        return last[:, 0]
    factors = [np.diff(_psi(b[None, :], mean[:, j:j + 1], sd[:, j:j + 1]), axis=1) for j, b in enumerate(bounds)]
    out = np.empty(len(mean))
    step = max(1, chunk_cells // max(1, heights.size))
    letters = "abc"[: m - 1]
    spec = ",".join(f"z{a}" for a in letters) + f",z{letters}->z"
    for start in range(0, len(mean), step):
        rows = slice(start, start + step)
        out[rows] = np.einsum(spec, *[f[rows] for f in factors], last[rows][:, index])
    return np.maximum(out, 0.0)


def hypervolume_improvement(points: np.ndarray, front: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Exact hypervolume each row of ``points`` would add to ``front`` (from the boxes)."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    return expected_hypervolume_improvement(points, np.zeros_like(points), front, reference)
