"""Kumaraswamy input warping (HEBO, Cowen-Rivers et al. 2022; Snoek et al. 2014).

Each numeric feature u in [0, 1] is mapped through the Kumaraswamy CDF

    w(u) = 1 - (1 - u^a)^b,   a, b > 0,

a monotone bijection of [0, 1] (a = b = 1 is the identity) that stretches the region where the
objective changes fast, so a stationary kernel fits a non-stationary function. The GP sees w(x);
the acquisition optimiser still works on x, with the chain rule dw/du = a b u^(a-1) (1-u^a)^(b-1).

Fitted per feature on a small grid of (a, b) by the GP's log posterior with the other
hyperparameters fixed (one coordinate pass), with a log-normal prior ln a, ln b ~ N(0, 1):
a handful of Cholesky factorisations per feature instead of another 2F gradient dimensions in the
hyperparameter fit, to stay inside the Lambda latency budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

EPS = 1e-6
GRID = (0.5, 1.0, 2.0)
PRIOR_SD = 1.0
LENGTHSCALE_FACTORS = (0.5, 1.0, 2.0)


def kumaraswamy(u: np.ndarray, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    u = np.clip(u, EPS, 1.0 - EPS)
    return 1.0 - (1.0 - u**a) ** b


def kumaraswamy_derivative(u: np.ndarray, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    u = np.clip(u, EPS, 1.0 - EPS)
    ua = u**a
    return a * b * ua / u * (1.0 - ua) ** (b - 1.0)


def kumaraswamy_inverse(w: np.ndarray, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    w = np.clip(w, 0.0, 1.0)
    return (1.0 - (1.0 - w) ** (1.0 / b)) ** (1.0 / a)


class InputWarp:
    """Per-feature Kumaraswamy parameters; features not in ``columns`` pass through."""

    def __init__(self, columns: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        self.columns, self.a, self.b = columns, a, b

    @property
    def is_identity(self) -> bool:
        return bool(np.all(self.a == 1.0) and np.all(self.b == 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.array(x, dtype=float, copy=True)
        out[:, self.columns] = kumaraswamy(x[:, self.columns], self.a, self.b)
        return out

    def jacobian_diagonal(self, x: np.ndarray) -> np.ndarray:
        out = np.ones_like(x, dtype=float)
        out[:, self.columns] = kumaraswamy_derivative(x[:, self.columns], self.a, self.b)
        return out


def fit_input_warp(x: np.ndarray, columns: np.ndarray,
                   neg_log_posterior: Callable[[np.ndarray, int, float], float]) -> InputWarp:
    """One coordinate pass over ``columns``: for each, the (a, b) on the grid minimising
    ``neg_log_posterior(warped x, i, c) - log prior(a, b)`` over lengthscale factors ``c`` of that
    column (a warp changes the column's spread, so its lengthscale must move with it), the other
    columns at their current choice."""
    a, b = np.ones(len(columns)), np.ones(len(columns))
    for i in range(len(columns)):
        best, best_value = (1.0, 1.0), math.inf
        for ai in GRID:
            for bi in GRID:
                a[i], b[i] = ai, bi
                penalty = 0.5 * (math.log(ai) ** 2 + math.log(bi) ** 2) / PRIOR_SD**2
                warped = InputWarp(columns, a, b)(x)
                value = min(neg_log_posterior(warped, i, c) for c in LENGTHSCALE_FACTORS) + penalty
                if value < best_value:
                    best, best_value = (ai, bi), value
        a[i], b[i] = best
    return InputWarp(columns, a.copy(), b.copy())


class WarpedGP:
    """A GP on warped features behind the GaussianProcess interface the acquisition code uses:
    ``x`` (unwarped), ``weights``, ``predict``, ``predict_with_gradient``, ``condition_on``."""

    def __init__(self, gp, warp: InputWarp, x: np.ndarray) -> None:
        self.gp, self.warp, self.x = gp, warp, x
        self.weights = gp.weights
        self.structure, self.theta = gp.structure, gp.theta

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.predict(self.warp(xs))

    def predict_with_gradient(self, xs: np.ndarray):
        mean, var, d_mean, d_var = self.gp.predict_with_gradient(self.warp(xs))
        jac = self.warp.jacobian_diagonal(xs)
        return mean, var, d_mean * jac, d_var * jac

    def condition_on(self, x_new: np.ndarray, y_new: np.ndarray) -> "WarpedGP":
        return WarpedGP(self.gp.condition_on(self.warp(x_new), y_new), self.warp,
                        np.vstack([self.x, x_new]))
