"""A small box-constrained L-BFGS minimiser.

Hand-written because scipy.optimize does not fit the Lambda layer (size, ~0.7 s import).
Bounds are handled by projection (clip after each step) with the search direction's components
that would push through an active bound zeroed: adequate for the smooth, mostly interior
problems here (GP hyperparameters, acquisition maximisation), not a general L-BFGS-B.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FunctionAndGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]


def minimize(
    fun: FunctionAndGradient,
    x0: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    max_iter: int = 50,
    memory: int = 8,
    tol: float = 1e-6,
    ftol: float = 1e-10,
) -> tuple[np.ndarray, float]:
    """Minimise ``fun`` from ``x0``; returns ``(x_best, f_best)``.

    Two-loop recursion for the quasi-Newton direction, Armijo backtracking for the step.
    """
    lo = np.full_like(x0, -np.inf) if lower is None else lower
    hi = np.full_like(x0, np.inf) if upper is None else upper
    x = np.clip(np.asarray(x0, dtype=float), lo, hi)
    f, g = fun(x)
    if not np.isfinite(f):
        return x, f
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    for _ in range(max_iter):
        free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        gf = np.where(free, g, 0.0)
        if np.max(np.abs(gf)) < tol:
            break
        d = -_two_loop(gf, s_hist, y_hist)
        d = np.where(free, d, 0.0)
        if not s_hist or gf @ d >= 0:
            # No curvature yet (or a bad direction): steepest descent with a unit-length first
            # step, so a large gradient does not send the first trial point far away.
            s_hist.clear()
            y_hist.clear()
            d = -gf / max(1.0, float(np.linalg.norm(gf)))
        step, accepted = 1.0, False
        for _ in range(20):
            x_new = np.clip(x + step * d, lo, hi)
            f_new, g_new = fun(x_new)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * (gf @ (x_new - x)):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        s, yv = x_new - x, g_new - g
        if s @ yv > 1e-10:
            s_hist.append(s)
            y_hist.append(yv)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        converged = abs(f - f_new) <= ftol * max(1.0, abs(f), abs(f_new))
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x, f


def _two_loop(g: np.ndarray, s_hist: list[np.ndarray], y_hist: list[np.ndarray]) -> np.ndarray:
    q = g.copy()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist)):
        a = (s @ q) / (y @ s)
        alphas.append(a)
        q -= a * y
    if s_hist:
        s, y = s_hist[-1], y_hist[-1]
        q *= (s @ y) / (y @ y)
    for (s, y), a in zip(zip(s_hist, y_hist), reversed(alphas)):
        b = (y @ q) / (y @ s)
        q += (a - b) * s
    return q
