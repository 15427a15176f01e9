"""Gaussian-process regression with a Matern-5/2 ARD kernel, in numpy.

Hand-written: scikit-learn's GaussianProcessRegressor and BoTorch need scipy or torch, which
do not fit the Lambda layer's size and cold-start budget.

Model (inputs in the feature encoding of :mod:`skytune.optimize.space`, outputs standardised):

    f ~ GP(0, k),   y_i = f(x_i) + eps_i,   eps_i ~ N(0, sigma_n^2)
    k(x, x') = s^2 (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r),
    r^2 = sum_f w_f (x_f - x'_f)^2,   w_f = c_f / l_{p(f)}^2

``p(f)`` is the parameter owning feature ``f``; a categorical parameter's one-hot columns share
one lengthscale and ``c_f = 1/2`` on them, so two different categories are at ``r^2 = 1/l^2``
(a Hamming kernel); ``c_f = 1`` on numeric columns.

Hyperparameters ``theta = (ln l_1..ln l_P, ln s^2, ln(sigma_n^2 - floor))`` are fitted by
maximising the log posterior ``log p(y | theta) + log p(theta)`` with analytic gradients:

    log p(y | theta) = -1/2 y^T K^-1 y - 1/2 ln|K| - n/2 ln 2pi
    d/dtheta_j       =  1/2 tr((alpha alpha^T - K^-1) dK/dtheta_j),   alpha = K^-1 y

and multi-start L-BFGS (:mod:`skytune.optimize.lbfgs`). The priors (see :class:`Prior`) are by
default those of Optuna's GPSampler for the lengthscales, ``ln p(l) = -0.1 (l^2 + l^-2)``, and
a log-normal for the noise variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from skytune.optimize import lbfgs

SQRT5 = math.sqrt(5.0)
NOISE_FLOOR = 1e-6  # on the standardised scale; keeps K well conditioned for exact objectives
JITTER = 1e-9
LOG_LENGTHSCALE_BOUNDS = (math.log(1e-3), math.log(1e3))
LOG_SIGNAL_BOUNDS = (math.log(1e-2), math.log(1e2))
LOG_NOISE_BOUNDS = (math.log(1e-9), math.log(2.0))


@dataclass(frozen=True)
class KernelStructure:
    """How features map onto kernel lengthscales."""

    groups: np.ndarray  # (F,) int: the parameter index owning each feature
    factors: np.ndarray  # (F,) float: c_f above
    n_params: int

    def weights(self, log_lengthscales: np.ndarray) -> np.ndarray:
        """w_f = c_f / l_{p(f)}^2, shape (F,)."""
        return self.factors * np.exp(-2.0 * log_lengthscales)[self.groups]


@dataclass(frozen=True)
class Prior:
    """Priors on lengthscales, signal and noise variance (on standardised y).

    Lengthscales, ``lengthscale_form``:

    * ``"symmetric"`` (default): ln p(l) = -rate (l^2 + l^-2) + const, mode l = 1, the prior
      of Optuna's GPSampler (there on 1/l^2). Both tails fall like exp(l^2): a dimension is
      never declared irrelevant (l >> 1) from a few dozen trials. With the log-normal below,
      Hartmann6 runs often fitted l ~ 10-15 on two dimensions after ~20 trials, stopped
      exploring them and stayed in a local optimum (benchmarked).
    * ``"lognormal"``: Hvarfner et al. (2024), ln l ~ N(sqrt2 + ln(P)/2 + shift, sd^2).
    """

    lengthscale_form: str = "symmetric"
    lengthscale_rate: float = 0.1
    # Log-normal form: median e^(sqrt2 - 2) sqrt(P) = 0.56 sqrt(P), Hvarfner's prior shifted
    # shorter, because with 20-50 trials it otherwise explained Hartmann6 as nearly flat.
    lengthscale_shift: float = -2.0
    lengthscale_sd: float = math.sqrt(3.0)
    log_signal_mean: float = 0.0
    log_signal_sd: float = 1.0
    # Noise variance sigma_n^2 - floor = e^t, ``noise_form``:
    # * ``"lognormal"`` (default): t ~ N(log_noise_mean, log_noise_sd^2). Mean -10 (4.5e-5 on
    #   the standardised scale): at -8 the pull blurred the last digits of Branin's optimum
    #   (~1 in raw units); Optuna's nearly flat Gamma below lost on Hartmann6 (benchmarked).
    # * ``"gamma"``: ln p(t) = (k - 1) t - rate e^t, Optuna's Gamma(1.1, 30) taken on the log
    #   scale: it caps large noise and is nearly flat towards zero.
    # * ``"mixture"`` (the Bayesian strategy's default since round 6): the log-normal above with
    #   weight 1 - ``smooth_noise_weight``, and a second log-normal at ``smooth_noise_mean``
    #   (BoTorch's LogNormal(-4, 1) on the variance, as a density in t). The fit starts in both
    #   modes. From a few dozen trials in 4+ dimensions the likelihood hardly tells noise of 1e-5
    #   from 1e-2 (checked on Levy 8 and noisy bowls: the MAP stays at the prior's mode), so the
    #   prior decides: mostly interpolation (Branin's and Hartmann's last digits need it), with
    #   a tenth of the mass where the slice samples may smooth over ripples too fine for the
    #   trials. BoTorch's prior alone reproduced Ax's results, better on Levy 8 and worse on
    #   Branin and Hartmann 3; this mixture kept both within the noise (BENCHMARKS.md round 6).
    noise_form: str = "lognormal"
    noise_concentration: float = 1.1
    noise_rate: float = 30.0
    log_noise_mean: float = -10.0
    log_noise_sd: float = 2.0
    smooth_noise_mean: float = -5.0
    smooth_noise_sd: float = 1.0
    smooth_noise_weight: float = 0.1

    def noise_modes(self) -> list[float]:
        """Where the fit starts in t: one start per mode of the noise prior."""
        if self.noise_form == "mixture":
            return [self.log_noise_mean, self.smooth_noise_mean]
        return [self.log_noise_mean]

    def lengthscale_mean(self, n_params: int) -> float:
        """The start of the fit: the prior's mode of ln l."""
        if self.lengthscale_form == "symmetric":
            return 0.0
        return math.sqrt(2.0) + 0.5 * math.log(n_params) + self.lengthscale_shift

    def log_noise_density(self, log_noise: float) -> tuple[float, float]:
        """ln p(t) (up to a constant) and its derivative in t = ln(sigma_n^2 - floor)."""
        if self.noise_form == "gamma":
            e = math.exp(log_noise)
            return ((self.noise_concentration - 1.0) * log_noise - self.noise_rate * e,
                    self.noise_concentration - 1.0 - self.noise_rate * e)
        z = (log_noise - self.log_noise_mean) / self.log_noise_sd
        if self.noise_form != "mixture":
            return -0.5 * z * z, -z / self.log_noise_sd
        z2 = (log_noise - self.smooth_noise_mean) / self.smooth_noise_sd
        logs = np.array([-0.5 * z * z - math.log(self.log_noise_sd) + math.log(1.0 - self.smooth_noise_weight),
                         -0.5 * z2 * z2 - math.log(self.smooth_noise_sd) + math.log(self.smooth_noise_weight)])
        top = float(logs.max())
        weights = np.exp(logs - top)
        total = float(weights.sum())
        slope = (weights[0] * -z / self.log_noise_sd + weights[1] * -z2 / self.smooth_noise_sd) / total
        return top + math.log(total), float(slope)

    def log_lengthscale_density(self, log_l: np.ndarray) -> tuple[float, np.ndarray]:
        """ln p(ln l) summed over parameters (up to a constant) and its gradient in ln l."""
        if self.lengthscale_form == "symmetric":
            up, down = np.exp(2.0 * log_l), np.exp(-2.0 * log_l)
            return (-self.lengthscale_rate * float(np.sum(up + down)),
                    -2.0 * self.lengthscale_rate * (up - down))
        mean, sd = self.lengthscale_mean(len(log_l)), self.lengthscale_sd
        return -0.5 * float(np.sum(((log_l - mean) / sd) ** 2)), -(log_l - mean) / sd**2


def matern52(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """m(r) = (1 + sqrt5 r + 5/3 r^2) e^{-sqrt5 r} and dm/d(r^2) = -5/6 (1 + sqrt5 r) e^{-sqrt5 r}."""
    r = np.sqrt(np.maximum(r2, 0.0))
    e = np.exp(-SQRT5 * r)
    return (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e, -(5.0 / 6.0) * (1.0 + SQRT5 * r) * e


def scaled_sqdist(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """r^2 between rows of a (m, F) and b (n, F) under feature weights w, shape (m, n)."""
    sw = np.sqrt(w)
    a, b = a * sw, b * sw
    r2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(r2, 0.0)


def _neg_log_posterior(theta: np.ndarray, x: np.ndarray, y: np.ndarray,
                       structure: KernelStructure, prior: Prior) -> tuple[float, np.ndarray]:
    n, p = len(y), structure.n_params
    log_l, log_s2, log_noise = theta[:p], theta[p], theta[p + 1]
    w = structure.weights(log_l)
    s2, noise = math.exp(log_s2), NOISE_FLOOR + math.exp(log_noise)
    m, dm = matern52(scaled_sqdist(x, x, w))
    k = s2 * m
    k[np.diag_indices(n)] += noise + JITTER
    try:
        chol = np.linalg.cholesky(k)
        k_inv = np.linalg.inv(k)
    except np.linalg.LinAlgError:
        return math.inf, np.zeros_like(theta)
    alpha = k_inv @ y
    lml = -0.5 * y @ alpha - np.log(np.diag(chol)).sum() - 0.5 * n * math.log(2 * math.pi)
    inner = np.outer(alpha, alpha) - k_inv  # W = alpha alpha^T - K^-1

    # dK/d ln l_p = s^2 dm/dr2 * sum_{f in p} (-2 w_f) (x_if - x_jf)^2, summed against W/2:
    g = s2 * inner * dm
    row = g.sum(1)
    sq = 2.0 * ((x * x).T @ row) - 2.0 * (x * (g @ x)).sum(0)  # sum_ij G_ij (x_if - x_jf)^2
    grad_l = np.bincount(structure.groups, weights=-w * sq, minlength=p)
    grad_s2 = 0.5 * np.sum(inner * (k - np.eye(n) * (noise + JITTER)))
    grad_noise = 0.5 * np.trace(inner) * math.exp(log_noise)

    log_prior_l, grad_prior_l = prior.log_lengthscale_density(log_l)
    log_prior = (
        log_prior_l
        - 0.5 * ((log_s2 - prior.log_signal_mean) / prior.log_signal_sd) ** 2
        + prior.log_noise_density(log_noise)[0]
    )
    grad = np.concatenate([
        grad_l + grad_prior_l,
        [grad_s2 - (log_s2 - prior.log_signal_mean) / prior.log_signal_sd**2,
         grad_noise + prior.log_noise_density(log_noise)[1]],
    ])
    return -(lml + log_prior), -grad


def fit_hyperparameters(x: np.ndarray, y: np.ndarray, structure: KernelStructure,
                        rng: np.random.Generator, prior: Prior = Prior(),
                        n_starts: int = 3, max_iter: int = 60,
                        climb_all_starts: bool = True) -> np.ndarray:
    """MAP hyperparameters ``theta`` by multi-start L-BFGS: the prior's mode, a short-lengthscale
    start, then prior draws. ``climb_all_starts=False`` climbs only from the start with the best
    objective (the latency budget's choice for long histories: each step costs ~n^3)."""
    p = structure.n_params
    lower = np.array([LOG_LENGTHSCALE_BOUNDS[0]] * p + [LOG_SIGNAL_BOUNDS[0], LOG_NOISE_BOUNDS[0]])
    upper = np.array([LOG_LENGTHSCALE_BOUNDS[1]] * p + [LOG_SIGNAL_BOUNDS[1], LOG_NOISE_BOUNDS[1]])
    mode = np.array([prior.lengthscale_mean(p)] * p + [prior.log_signal_mean, prior.log_noise_mean])
    starts = [np.concatenate([mode[:-1], [noise]]) for noise in prior.noise_modes()]
    starts.append(np.array([math.log(0.3)] * p + [0.0, prior.log_noise_mean]))
    while len(starts) < n_starts:
        draw = mode.copy()
        draw[:p] += rng.standard_normal(p)
        starts.append(draw)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return _neg_log_posterior(theta, x, y, structure, prior)

    starts = [np.clip(start, lower, upper) for start in starts[:n_starts]]
    if not climb_all_starts:
        starts = [min(starts, key=lambda start: objective(start)[0])]
    best_theta, best_value = mode, math.inf
    for start in starts:
        theta, value = lbfgs.minimize(objective, start, lower, upper, max_iter=max_iter)
        if value < best_value:
            best_theta, best_value = theta, value
    return best_theta


class GaussianProcess:
    """A GP conditioned on (x, y) with fixed hyperparameters ``theta``; predicts f, not y."""

    def __init__(self, x: np.ndarray, y: np.ndarray, theta: np.ndarray,
                 structure: KernelStructure) -> None:
        p = structure.n_params
        self.structure = structure
        self.theta = theta
        self.weights = structure.weights(theta[:p])
        self.signal = math.exp(theta[p])
        self.noise = NOISE_FLOOR + math.exp(theta[p + 1])
        self.x = x
        self.y = y
        k = self.signal * matern52(scaled_sqdist(x, x, self.weights))[0]
        k[np.diag_indices(len(y))] += self.noise + JITTER
        self.k_inv = np.linalg.inv(k)
        self.alpha = self.k_inv @ y

    def condition_on(self, x_new: np.ndarray, y_new: np.ndarray) -> "GaussianProcess":
        """A GP with extra (fantasy) observations and the same hyperparameters."""
        return GaussianProcess(np.vstack([self.x, x_new]), np.concatenate([self.y, y_new]),
                               self.theta, self.structure)

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of f at rows of xs, shapes (m,), (m,)."""
        ks = self.signal * matern52(scaled_sqdist(xs, self.x, self.weights))[0]
        mean = ks @ self.alpha
        var = self.signal - np.einsum("ij,ij->i", ks @ self.k_inv, ks)
        return mean, np.maximum(var, 1e-12 * self.signal)

    def joint_posterior(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean (m,) and covariance (m, m) of f at the rows of xs, jointly."""
        ks = self.signal * matern52(scaled_sqdist(xs, self.x, self.weights))[0]
        kss = self.signal * matern52(scaled_sqdist(xs, xs, self.weights))[0]
        return ks @ self.alpha, kss - ks @ self.k_inv @ ks.T

    def predict_with_coefficients(self, xs: np.ndarray, coefficients: np.ndarray,
                                  gradient: bool = False):
        """Means with each column of ``coefficients`` (n, K) in place of ``alpha``, shape (K, m),
        and the variance, shape (m,); with ``gradient`` also their derivatives w.r.t. xs, shapes
        (K, m, F) and (m, F). The means of a GP whose data's values changed (see FantasyGP)."""
        m, dm = matern52(scaled_sqdist(xs, self.x, self.weights))
        ks = self.signal * m
        kinv_k = ks @ self.k_inv
        means = (ks @ coefficients).T
        var = self.signal - np.einsum("ij,ij->i", kinv_k, ks)
        floor = 1e-12 * self.signal
        if not gradient:
            return means, np.maximum(var, floor)
        scale = 2.0 * self.signal * dm  # (m, n), as in predict_with_gradient
        q = scale[None, :, :] * coefficients.T[:, None, :]  # (K, m, n)
        d_means = self.weights * (q.sum(axis=2)[:, :, None] * xs[None, :, :] - q @ self.x)
        b = scale * kinv_k
        d_var = -2.0 * self.weights * (xs * b.sum(1)[:, None] - b @ self.x)
        d_var = np.where((var > floor)[:, None], d_var, 0.0)
        return means, np.maximum(var, floor), d_means, d_var

    def predict_with_gradient(self, xs: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients w.r.t. xs, shapes (m,), (m,), (m, F), (m, F).

        dk(x, x_j)/dx_f = s^2 dm/dr2 * 2 w_f (x_f - x_jf);  dmu = sum_j alpha_j dk_j;
        dvar = -2 sum_j (K^-1 k)_j dk_j.
        """
        m, dm = matern52(scaled_sqdist(xs, self.x, self.weights))
        ks = self.signal * m
        kinv_k = ks @ self.k_inv
        mean = ks @ self.alpha
        var = self.signal - np.einsum("ij,ij->i", kinv_k, ks)
        scale = 2.0 * self.signal * dm  # (m, n)
        # sum_j c_j scale_ij w_f (x_if - x_jf) = w_f (x_if * (c*scale).sum_j - ((c*scale) @ X)_if)
        a = scale * self.alpha[None, :]
        d_mean = self.weights * (xs * a.sum(1)[:, None] - a @ self.x)
        b = scale * kinv_k
        d_var = -2.0 * self.weights * (xs * b.sum(1)[:, None] - b @ self.x)
        floor = 1e-12 * self.signal
        d_var = np.where((var > floor)[:, None], d_var, 0.0)
        return mean, np.maximum(var, floor), d_mean, d_var


# ----- Hyperparameter uncertainty: slice sampling and an ensemble behind one GP interface -----
# A MAP fit from 20-50 trials is often over-confident about the lengthscales (a dimension judged
# flat stops being explored). Fully Bayesian GPs (BoTorch's SAASBO, Ax's fully Bayesian models)
# average the acquisition over posterior samples of the hyperparameters instead. BoTorch uses
# NUTS; here a coordinate-wise slice sampler (Neal 2003) on theta suffices: it needs only the
# log posterior (one Cholesky per evaluation, no gradients) and has no step size to tune.


def _neg_log_posterior_value(theta: np.ndarray, x: np.ndarray, y: np.ndarray,
                             structure: KernelStructure, prior: Prior) -> float:
    """-(log p(y | theta) + log p(theta)) up to a constant, without gradients (one Cholesky)."""
    n, p = len(y), structure.n_params
    log_l, log_s2, log_noise = theta[:p], theta[p], theta[p + 1]
    k = math.exp(log_s2) * matern52(scaled_sqdist(x, x, structure.weights(log_l)))[0]
    k[np.diag_indices(n)] += NOISE_FLOOR + math.exp(log_noise) + JITTER
    try:
        chol = np.linalg.cholesky(k)
    except np.linalg.LinAlgError:
        return math.inf
    half = np.linalg.solve(chol, y)
    lml = -0.5 * float(half @ half) - float(np.log(np.diag(chol)).sum())
    log_prior = (prior.log_lengthscale_density(log_l)[0]
                 - 0.5 * ((log_s2 - prior.log_signal_mean) / prior.log_signal_sd) ** 2
                 + prior.log_noise_density(log_noise)[0])
    return -(lml + log_prior)


def theta_bounds(n_params: int) -> tuple[np.ndarray, np.ndarray]:
    lower = np.array([LOG_LENGTHSCALE_BOUNDS[0]] * n_params + [LOG_SIGNAL_BOUNDS[0], LOG_NOISE_BOUNDS[0]])
    upper = np.array([LOG_LENGTHSCALE_BOUNDS[1]] * n_params + [LOG_SIGNAL_BOUNDS[1], LOG_NOISE_BOUNDS[1]])
    return lower, upper


def slice_sample_hyperparameters(x: np.ndarray, y: np.ndarray, structure: KernelStructure,
                                 start: np.ndarray, rng: np.random.Generator,
                                 prior: Prior = Prior(), n_samples: int = 4, burn_in: int = 4,
                                 thin: int = 2, width: float = 1.0,
                                 max_steps: int = 4) -> np.ndarray:
    """``n_samples`` draws of theta from p(theta | y), shape (n_samples, P + 2).

    Coordinate-wise slice sampling with stepping out (``width`` in log units, at most
    ``max_steps`` each way) and shrinkage, inside the fit's bounds, from ``start`` (the MAP, so a
    short burn-in suffices); ``burn_in`` sweeps are dropped, then every ``thin``-th sweep kept.
    """
    lower, upper = theta_bounds(structure.n_params)
    theta = np.clip(np.asarray(start, dtype=float).copy(), lower, upper)

    def energy(t: np.ndarray) -> float:
        return _neg_log_posterior_value(t, x, y, structure, prior)

    current = energy(theta)
    if not math.isfinite(current):
        return np.repeat(theta[None, :], n_samples, axis=0)
    samples = []
    sweep = 0
    while len(samples) < n_samples:
        for j in rng.permutation(len(theta)):
            level = current + rng.exponential()  # slice: energy below current + Exp(1)
            left = theta[j] - width * rng.random()
            right = left + width
            trial = theta.copy()
            for _ in range(max_steps):
                if left <= lower[j]:
                    break
                trial[j] = left
                if energy(trial) >= level:
                    break
                left -= width
            for _ in range(max_steps):
                if right >= upper[j]:
                    break
                trial[j] = right
                if energy(trial) >= level:
                    break
                right += width
            left, right = max(left, lower[j]), min(right, upper[j])
            for _ in range(30):
                trial[j] = left + (right - left) * rng.random()
                value = energy(trial)
                if value < level:
                    theta, current = trial, value
                    break
                if trial[j] < theta[j]:
                    left = trial[j]
                else:
                    right = trial[j]
            # (after 30 shrinks the coordinate keeps its value: the slice has collapsed onto it)
        sweep += 1
        if sweep > burn_in and (sweep - burn_in) % thin == 0:
            samples.append(theta.copy())
    return np.array(samples)


class EnsembleGP:
    """Several GPs on the same data (hyperparameter samples), seen by the acquisition code as one
    model through the :class:`GaussianProcess` interface: ``x``, ``weights`` (the kernel weights
    of the first member, the MAP, used to precondition and shape boxes), ``structure``,
    ``theta``, ``predict``, ``predict_with_gradient``, ``condition_on``.

    The prediction is the equally weighted mixture's mean and variance (moment matched):
    mu = mean_i mu_i, var = mean_i (var_i + mu_i^2) - mu^2, so where the samples disagree the
    variance grows and EI explores there.
    """

    def __init__(self, members: list[GaussianProcess]) -> None:
        self.members = members
        first = members[0]
        self.x, self.y, self.structure, self.theta = first.x, first.y, first.structure, first.theta
        self.weights = first.weights

    @classmethod
    def from_samples(cls, x: np.ndarray, y: np.ndarray, thetas: np.ndarray,
                     structure: KernelStructure) -> "EnsembleGP":
        return cls([GaussianProcess(x, y, t, structure) for t in thetas])

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mixture_moments([gp.predict(xs) for gp in self.members])

    def predict_with_gradient(self, xs: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return mixture_moments_with_gradient([gp.predict_with_gradient(xs) for gp in self.members])

    def condition_on(self, x_new: np.ndarray, y_new: np.ndarray) -> "EnsembleGP":
        return EnsembleGP([gp.condition_on(x_new, y_new) for gp in self.members])


class FantasyGP:
    """The model with trials in flight at ``x_pending`` whose values are unknown: ``n_draws`` joint
    draws of f there from the posterior, each conditioned on as if observed (the fantasies of Snoek
    et al. 2012 and BoTorch's ``X_pending``), instead of one kriging-believer fantasy at the mean.

    Conditioning on a draw does not change the variance, and moves the mean linearly in the
    draw: with the believer model B (the data plus the pending points at the posterior mean) and
    a draw differing from that mean by ``z``, the draw's mean is ``mu_B(x) + k(x, X_B) c`` with
    ``c = K_B^-1 [0; z]``. So every draw costs one extra matrix product, not a refit or an
    inverse. ``predict`` is the believer's (candidate centres, -LCB); the acquisition uses
    ``predict_draws`` and a per-draw incumbent (``incumbents``).
    """

    def __init__(self, base: "GaussianProcess | EnsembleGP", x_pending: np.ndarray,
                 rng: np.random.Generator, n_draws: int) -> None:
        mean_pending = base.predict(x_pending)[0]
        self.believer = base.condition_on(x_pending, mean_pending)
        self.x, self.structure, self.theta = self.believer.x, self.believer.structure, self.believer.theta
        self.weights = self.believer.weights
        base_members = base.members if isinstance(base, EnsembleGP) else [base]
        self.members = self.believer.members if isinstance(base, EnsembleGP) else [self.believer]
        draws = np.empty((n_draws, len(x_pending)))
        for k in range(n_draws):
            # a mixture's draw: a member in turn, then a joint draw from its posterior
            mean, cov = base_members[k % len(base_members)].joint_posterior(x_pending)
            cov[np.diag_indices(len(mean))] += 1e-9
            draws[k] = mean + _psd_factor(cov) @ rng.standard_normal(len(mean))
        z = np.zeros((len(self.x), n_draws))
        z[-len(x_pending):] = (draws - mean_pending).T
        self.coefficients = [member.alpha[:, None] + member.k_inv @ z for member in self.members]
        # each draw's best (lowest) posterior mean over the data and pending points, shape (K,)
        self.incumbents = self.predict_draws(self.x)[0].min(axis=1)

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.believer.predict(xs)

    def predict_with_gradient(self, xs: np.ndarray):
        return self.believer.predict_with_gradient(xs)

    def condition_on(self, x_new: np.ndarray, y_new: np.ndarray):
        raise NotImplementedError("rebuild the FantasyGP with the new point among the pending ones")

    def predict_draws(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each draw's mean and variance at the rows of xs, shapes (K, m), (K, m)."""
        parts = [member.predict_with_coefficients(xs, coefficients)
                 for member, coefficients in zip(self.members, self.coefficients)]
        if len(parts) == 1:  # the variance as is, not mean(var + mu^2) - mu^2
            means, var = parts[0]
            return means, np.broadcast_to(var, means.shape)
        return mixture_moments(parts)

    def predict_draws_with_gradient(self, xs: np.ndarray):
        """As ``predict_draws`` plus the gradients w.r.t. xs, shapes (K, m, F)."""
        parts = [member.predict_with_coefficients(xs, coefficients, gradient=True)
                 for member, coefficients in zip(self.members, self.coefficients)]
        if len(parts) == 1:
            means, var, d_means, d_var = parts[0]
            return (means, np.broadcast_to(var, means.shape), d_means,
                    np.broadcast_to(d_var, d_means.shape))
        return mixture_moments_with_gradient(parts)


def mixture_moments(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the equally weighted mixture of the (mean, var) ``parts``, moment
    matched: mu = mean_i mu_i, var = mean_i (var_i + mu_i^2) - mu^2. Shapes broadcast (a member's
    (m,) variance against a stack of draws' (K, m) means)."""
    means, second = 0.0, 0.0
    for mean, var in parts:
        means = means + mean
        second = second + var + mean * mean
    k = len(parts)
    mean = means / k
    return mean, np.maximum(second / k - mean * mean, 1e-12)


def mixture_moments_with_gradient(parts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``mixture_moments`` of (mean, var, d_mean, d_var) parts, with the gradients (last axis F)."""
    mean, second, d_mean, d_second = 0.0, 0.0, 0.0, 0.0
    for m, v, dm, dv in parts:
        mean, second = mean + m, second + v + m * m
        d_mean, d_second = d_mean + dm, d_second + dv + 2.0 * m[..., None] * dm
    k = len(parts)
    mean, second, d_mean, d_second = mean / k, second / k, d_mean / k, d_second / k
    var = second - mean * mean
    d_var = d_second - 2.0 * mean[..., None] * d_mean
    floor = 1e-12
    d_var = np.where((var > floor)[..., None], d_var, 0.0)
    return mean, np.maximum(var, floor), d_mean, d_var


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    """A matrix L with L L^T = cov for a covariance that may be singular to rounding (two pending
    points very close): Cholesky, else the eigendecomposition with negative eigenvalues at 0."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(cov)
        return vectors * np.sqrt(np.maximum(values, 0.0))
