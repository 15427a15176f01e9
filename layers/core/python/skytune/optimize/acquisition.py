"""Log expected improvement (minimisation), numerically stable far from the incumbent.

    EI(x) = sigma h(z),  z = (f* - mu) / sigma,  h(z) = phi(z) + z Phi(z)

For z < -5, h(z) underflows and cancels, so (Ament et al., "Unexpected Improvements to Expected
Improvement", 2023) we use h(z) = phi(z) (1 + z R(z)) with Mills' ratio R = Phi/phi from its
continued fraction: log EI stays informative where EI itself is 0.0 in float64.
"""

from __future__ import annotations

import math

import numpy as np

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SWITCH = -5.0


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function, fractional error < 1.2e-7 (Numerical Recipes' erfcc).

    Hand-written: numpy has no erf, and scipy.special is too heavy for the Lambda layer.
    """
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    r = t * np.exp(poly)
    return np.where(x >= 0, r, 2.0 - r)


def normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * erfc(-z / math.sqrt(2.0))


def _mills_ratio_negative(z: np.ndarray, terms: int = 24) -> np.ndarray:
    """R(z) = Phi(z)/phi(z) for z <= -5 by the continued fraction 1/(t+1/(t+2/(t+3/(t+...)))),
    t = -z."""
    t = -z
    acc = np.zeros_like(t)
    for k in range(terms, 0, -1):
        acc = k / (t + acc)
    return 1.0 / (t + acc)


def log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log h(z) and d log h / dz = Phi(z) / h(z)."""
    z = np.asarray(z, dtype=float)
    far = z < _SWITCH
    zn = np.where(far, 0.0, z)  # keep the direct branch away from underflow
    phi = np.exp(-0.5 * zn * zn - LOG_SQRT_2PI)
    cdf = normal_cdf(zn)
    h = np.maximum(phi + zn * cdf, 1e-300)
    direct_log, direct_ratio = np.log(h), cdf / h

    zf = np.where(far, z, _SWITCH - 1.0)
    mills = _mills_ratio_negative(zf)
    one_plus = np.maximum(1.0 + zf * mills, 1e-300)
    far_log = -0.5 * zf * zf - LOG_SQRT_2PI + np.log(one_plus)
    far_ratio = mills / one_plus
    return np.where(far, far_log, direct_log), np.where(far, far_ratio, direct_ratio)


def log_expected_improvement(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    sigma = np.sqrt(var)
    value, _ = log_h((best - mean) / sigma)
    return value + np.log(sigma)


def log_expected_improvement_and_gradient(mean: np.ndarray, var: np.ndarray, d_mean: np.ndarray,
                                          d_var: np.ndarray, best: float
                                          ) -> tuple[np.ndarray, np.ndarray]:
    """log EI and its gradient, from the posterior and its gradient (shapes (m,), (m, F); or
    (K, m), (K, m, F) for K models at once).

    d log EI = d sigma / sigma + (Phi/h)(z) dz,   dz = -(d mu + z d sigma) / sigma.
    """
    sigma = np.sqrt(var)
    z = (best - mean) / sigma
    value, ratio = log_h(z)
    d_sigma = d_var / (2.0 * sigma)[..., None]
    dz = -(d_mean + z[..., None] * d_sigma) / sigma[..., None]
    grad = d_sigma / sigma[..., None] + ratio[..., None] * dz
    return value + np.log(sigma), grad


def log_normal_cdf(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log Phi(z) and d log Phi / dz = phi(z) / Phi(z), stable for z << 0 (Mills' ratio)."""
    z = np.asarray(z, dtype=float)
    far = z < _SWITCH
    zn = np.where(far, 0.0, z)
    cdf = np.maximum(normal_cdf(zn), 1e-300)
    phi = np.exp(-0.5 * zn * zn - LOG_SQRT_2PI)
    zf = np.where(far, z, _SWITCH - 1.0)
    mills = _mills_ratio_negative(zf)  # Phi = phi R
    far_log = -0.5 * zf * zf - LOG_SQRT_2PI + np.log(mills)
    return np.where(far, far_log, np.log(cdf)), np.where(far, 1.0 / mills, phi / cdf)


def log_probability_of_improvement(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    return log_normal_cdf((best - mean) / np.sqrt(var))[0]


def log_probability_of_improvement_and_gradient(mean, var, d_mean, d_var, best):
    """log PI = log Phi(z) and its gradient: (phi/Phi)(z) dz."""
    sigma = np.sqrt(var)
    z = (best - mean) / sigma
    value, ratio = log_normal_cdf(z)
    d_sigma = d_var / (2.0 * sigma)[..., None]
    dz = -(d_mean + z[..., None] * d_sigma) / sigma[..., None]
    return value, ratio[..., None] * dz


def negative_lower_confidence_bound(mean: np.ndarray, var: np.ndarray, kappa: float) -> np.ndarray:
    """-(mu - kappa sigma): larger is better, as for the other acquisitions (minimisation)."""
    return kappa * np.sqrt(var) - mean


def negative_lower_confidence_bound_and_gradient(mean, var, d_mean, d_var, kappa: float):
    sigma = np.sqrt(var)
    return kappa * sigma - mean, kappa * d_var / (2.0 * sigma)[:, None] - d_mean
