"""Bayesian optimisation: GP surrogate + log expected improvement, stateless per call.

One call rebuilds everything from the history:

1. Until ``n_initial`` trials exist, propose scrambled Sobol points (continuing the sequence at
   the number of trials already issued, so successive calls do not repeat themselves).
2. Encode completed trials (features, see :mod:`space`); failed trials get the worst observed
   value so the model learns to avoid their region; values are signed so we always minimise,
   then standardised.
3. Fit the GP's hyperparameters (MAP, multi-start L-BFGS), then, up to ``mcmc_max_points``
   trials, draw a few more from their posterior by slice sampling and use the ensemble (see
   ``hyperparameters``). Beyond ``max_fit_points`` trials,
   fit on a random subset of that size from the best start only: each step is cubic in the
   trials, and a hundred of them pin the hyperparameters down well. The GP itself then
   conditions on every trial.
4. Pending trials and earlier picks in this batch enter as *kriging-believer* fantasies: observed
   at the posterior mean, so their variance collapses and the incumbent accounts for them. This
   keeps asynchronous workers and batch members apart without inventing values.
5. Maximise log EI: Sobol candidates plus perturbations of the best trials; L-BFGS on the
   numeric features (preconditioned by the lengthscales) from the best candidate, from others
   drawn in proportion to EI and from the incumbent, as Optuna's GPSampler does; then snapped
   to integers/categories and polished by one-step discrete moves (each other category, each
   integer +-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from skytune.optimize import lbfgs
from skytune.optimize.acquisition import (
    log_expected_improvement,
    log_expected_improvement_and_gradient,
    log_probability_of_improvement,
    log_probability_of_improvement_and_gradient,
    negative_lower_confidence_bound,
    negative_lower_confidence_bound_and_gradient,
)
from skytune.optimize.gp import (
    LOG_LENGTHSCALE_BOUNDS,
    LOG_NOISE_BOUNDS,
    LOG_SIGNAL_BOUNDS,
    EnsembleGP,
    FantasyGP,
    GaussianProcess,
    KernelStructure,
    Prior,
    _neg_log_posterior,
    fit_hyperparameters,
    slice_sample_hyperparameters,
)
from skytune.optimize.observation import Objective, Observation, sign_for
from skytune.optimize.sobol import sobol
from skytune.optimize.space import CategoricalParameter, SearchSpace
from skytune.optimize.warping import WarpedGP, fit_input_warp


_CHOICES = {
    "first_point": ("center", "sobol", "auto"),
    "output_transform": ("winsorize", "none", "power"),
    "acquisition": ("ei", "portfolio", "pi", "lcb"),
    "trust_region": ("off", "auto"),
    "input_warp": ("none", "kumaraswamy"),
    "hyperparameters": ("mcmc", "map"),
    "ensemble_acquisition": ("moments", "average"),
    "in_flight": ("believer", "fantasies"),
}


@dataclass(frozen=True)
class BayesianOptions:
    # Trials of the initial design, whatever the number of parameters P (default since round 8:
    # 5, Ax's initialisation budget, better than rounds 1-7's max(4, min(10, P + 1)) on
    # styblinski10, hartmann6 and levy6int and nowhere worse, BENCHMARKS.md); None: that old rule
    n_initial: int | None = 5
    # "center" (default since round 8, BENCHMARKS.md: better on griewank12 and ackley20, where Ax
    # led by it, and no suite cell worse): a fresh job's first trial is the centre of the space
    # (mid-range in each parameter's own scale, the middle category; Ax's default first point),
    # then the job's scrambled Sobol sequence from its start; "sobol": the Sobol sequence alone
    # (rounds 1-7); "auto": the centre on spaces of at least center_min_dim parameters
    first_point: str = "center"
    center_min_dim: int = 8
    n_candidates: int = 1024
    n_local_per_scale: int = 64
    n_refine: int = 10
    refine_iter: int = 100
    max_fit_points: int = 100
    n_fit_starts: int = 3
    prior: Prior = Prior(noise_form="mixture")  # round 6's default (BENCHMARKS.md); Prior(): round 5's
    # "winsorize" (default since round 6, BENCHMARKS.md): Ax's clipping of the bad tail, see
    # winsorize_outputs; "none"; or "power": Box-Cox, see warp_outputs
    output_transform: str = "winsorize"
    # "ei" (log EI), or "portfolio": the job's picks cycle through log EI, the lower confidence
    # bound (kappa below) and log PI by their position in the job, HEBO's three acquisitions
    # (log EI replaces log PI while other trials are in flight)
    acquisition: str = "ei"
    lcb_kappa: float = 2.0
    # Trust region (TuRBO, Eriksson et al. 2019), replayed from the history (see
    # trust_region_length): "auto" (default since round 9, BENCHMARKS.md: better on
    # Styblinski-Tang 10 at 100 trials, the one suite loss to TPE, and no cell worse) = on when the
    # space has >= trust_region_min_dim parameters, or "off" (rounds 1-8)
    trust_region: str = "auto"
    trust_region_min_dim: int = 8
    # On smaller spaces, also on from this many parameters while the objective does not look
    # quantised (see looks_quantised): the box helped smooth functions of 2-6 parameters in round
    # 10 and held a cross-validated error's plateaus (svm_cancer) to its first good region.
    # Default since round 12 (BENCHMARKS.md): 1, with the wait below
    trust_region_smooth_min_dim: int = 1
    # ... and only once this many trials have completed: on a quantised objective the first ties
    # come after about 10 trials, and a box before them anchored the search (tree_wine, round 11)
    trust_region_smooth_after: int = 20
    # With the trust region on, every k-th pick of the job (by its position) maximises the
    # acquisition over the whole space instead of the box (0: every pick in the box)
    trust_region_global_every: int = 0
    # "none", or "kumaraswamy": per-feature input warping (see skytune.optimize.warping), for
    # spaces of at most input_warp_max_dim parameters (its grid fit costs ~9 factorisations each)
    input_warp: str = "none"
    input_warp_max_dim: int = 10
    # "mcmc" (default since round 4: won on the suite's development and a confirmation problem,
    # BENCHMARKS.md): the acquisition sees an ensemble of the MAP and ``mcmc_samples`` slice
    # samples of the GP hyperparameters (see gp.slice_sample_hyperparameters), while at most
    # ``mcmc_max_points`` trials are completed (beyond, MAP: the latency budget); "map": the
    # single MAP fit (round 3's default)
    hyperparameters: str = "mcmc"
    # How the acquisition sees the ensemble: "moments" (the mixture moment matched to one Gaussian,
    # see gp.EnsembleGP), or "average": log EI / log PI averaged over the members (the integrated
    # acquisition of Snoek et al. 2012 and BoTorch's fully Bayesian models); -LCB always "moments"
    ensemble_acquisition: str = "moments"
    # Candidates that redraw 1 or 2 parameters of a best-believed trial uniformly, the others
    # kept (a move along few coordinates across the whole range, which the Gaussian local
    # candidates never make: e.g. another basin of one coordinate of a separable function)
    coordinate_candidates: int = 0
    # Trials in flight (and earlier picks of a batch): "believer" (kriging believer: observed at
    # the posterior mean, so their variance collapses and the incumbent counts them), or
    # "fantasies": EI averaged over n_fantasies joint posterior draws of their values, each with its
    # own incumbent (gp.FantasyGP). An input-warped model always uses the believer
    in_flight: str = "believer"
    n_fantasies: int = 16
    mcmc_samples: int = 4
    mcmc_max_points: int = 64  # 0.14 s CPU at 64 x 6 (0.24 s at 100: over the 0.2 s budget)

    def __post_init__(self) -> None:
        # Refused here, before any work: an unknown value used to fall through to the default
        # branch (a misspelt output_transform ran "none" under the variant's name)
        for option, choices in _CHOICES.items():
            value = getattr(self, option)
            if value not in choices:
                raise ValueError(f"{option} must be one of {', '.join(choices)}, not {value!r}")

    def center_first(self, space: SearchSpace) -> bool:
        return self.first_point == "center" or (self.first_point == "auto"
                                                  and space.dimension >= self.center_min_dim)

    def uses_trust_region(self, space: SearchSpace, values: Sequence[float]) -> bool:
        """Whether this pick is made in the box, given the completed values (minimised)."""
        if self.trust_region != "auto":
            return False
        if space.dimension >= self.trust_region_min_dim:
            return True
        return (space.dimension >= self.trust_region_smooth_min_dim
                and len(values) >= self.trust_region_smooth_after and not looks_quantised(values))

    def initial_count(self, space: SearchSpace) -> int:
        if self.n_initial is not None:
            return self.n_initial
        return max(4, min(10, space.dimension + 1))


def kernel_structure(space: SearchSpace) -> KernelStructure:
    groups, factors = [], []
    for j, (p, (_, width)) in enumerate(zip(space.parameters, space.feature_blocks())):
        groups += [j] * width
        factors += [0.5 if isinstance(p, CategoricalParameter) else 1.0] * width
    return KernelStructure(np.array(groups, dtype=int), np.array(factors), space.dimension)


def suggest_bayesian(space: SearchSpace, completed: Sequence[Observation],
                     pending: Sequence[dict[str, Any]], n: int, seed: int, *,
                     objective: Objective = "Minimize", index: int | None = None,
                     **options: Any) -> list[dict[str, Any]]:
    opts = BayesianOptions(**options)
    sign = sign_for(objective)
    usable = [o for o in completed if space.contains(o.params)]
    pending = [p for p in pending if space.contains(p)]
    successes = [o for o in usable if o.is_success]
    issued = len(completed) + len(pending)
    if index is None:
        index = issued
    rng = np.random.default_rng([seed, index, len(completed), len(pending), 0xB0])

    n_initial_left = max(0, opts.initial_count(space) - issued)
    if len(successes) < 2:
        n_initial_left = n
    n_sobol = min(n, n_initial_left)
    picks: list[dict[str, Any]] = []
    if n_sobol:
        taken = {space.key(o.params) for o in usable} | {space.key(p) for p in pending}
        picks = initial_design(space, taken, n_sobol, index, seed,
                               center_first=opts.center_first(space))
    if n_sobol == n:
        return picks

    structure = kernel_structure(space)
    x = space.to_features([o.params for o in usable])
    worst = max(sign * o.value for o in successes)
    y_raw = np.array([sign * o.value if o.is_success else worst for o in usable])
    y = {"power": warp_outputs, "winsorize": winsorize_outputs, "none": np.copy}[opts.output_transform](y_raw)
    y = (y - y.mean()) / max(y.std(), 1e-12)

    fit_idx, long_history = np.arange(len(y)), len(y) > opts.max_fit_points
    if long_history:
        fit_idx = np.sort(rng.choice(len(y), opts.max_fit_points, replace=False))
    theta = fit_hyperparameters(x[fit_idx], y[fit_idx], structure, rng, opts.prior,
                                n_starts=opts.n_fit_starts, climb_all_starts=not long_history)
    gp = GaussianProcess(x, y, theta, structure)
    if opts.hyperparameters == "mcmc" and not long_history and len(y) <= opts.mcmc_max_points:
        thetas = slice_sample_hyperparameters(x, y, structure, theta, rng, opts.prior,
                                              n_samples=opts.mcmc_samples)
        gp = EnsembleGP([gp] + [GaussianProcess(x, y, t, structure) for t in thetas])
    if opts.input_warp == "kumaraswamy" and space.dimension <= opts.input_warp_max_dim:
        gp = _warped(space, x, y, fit_idx, theta, structure, opts)

    believe = opts.in_flight == "believer" or isinstance(gp, WarpedGP)
    model, in_flight = gp, space.to_features(picks + list(pending))
    if len(in_flight):
        model = (gp.condition_on(in_flight, gp.predict(in_flight)[0]) if believe
                 else FantasyGP(gp, in_flight, rng, opts.n_fantasies))

    box = None
    signed = [sign * o.value for o in usable if o.is_success]
    if opts.uses_trust_region(space, signed):
        length = trust_region_length(signed, opts.initial_count(space), space.dimension)
        box = trust_region_box(space, model, x[int(np.argmin(y))], length)
    for k in range(n - n_sobol):
        kind = opts.acquisition
        if kind == "portfolio":
            kind = PORTFOLIO[(index + n_sobol + k) % len(PORTFOLIO)]
            if kind == "pi" and (pending or picks):
                # PI against a kriging-believer incumbent piles onto the fantasies (a batch's
                # picks 0.01 apart in the unit square): with trials in flight, EI instead
                kind = "ei"
        position = index + n_sobol + k
        every = opts.trust_region_global_every
        pick_box = None if every and position % every == every - 1 else box
        x_next = _maximise_acquisition(space, model, rng, opts, seed, kind, pick_box)
        picks.extend(space.from_features(x_next[None, :]))
        if believe:
            model = model.condition_on(x_next[None, :], model.predict(x_next[None, :])[0])
        else:
            in_flight = np.vstack([in_flight, x_next[None, :]])
            model = FantasyGP(gp, in_flight, rng, opts.n_fantasies)
    return picks


def _warped(space: SearchSpace, x: np.ndarray, y: np.ndarray, fit_idx: np.ndarray,
            theta: np.ndarray, structure: KernelStructure, opts: BayesianOptions):
    """Fit the input warp at the MAP ``theta``, refit ``theta`` on the warped inputs (one climb
    from the current one), and return the GP behind the warp."""
    xf, yf = x[fit_idx], y[fit_idx]
    columns = space.numeric_feature_columns()
    owner = structure.groups[columns]

    def objective(xw: np.ndarray, i: int, factor: float) -> float:
        t = theta.copy()
        t[owner[i]] += np.log(factor)
        return _neg_log_posterior(t, xw, yf, structure, opts.prior)[0]

    warp = fit_input_warp(xf, columns, objective)
    if warp.is_identity:
        return GaussianProcess(x, y, theta, structure)
    xw = warp(xf)
    bounds = np.array(_theta_bounds(structure))
    lower, upper = bounds[:, 0], bounds[:, 1]
    theta, _ = lbfgs.minimize(lambda t: _neg_log_posterior(t, xw, yf, structure, opts.prior),
                              theta, lower, upper, max_iter=30)
    return WarpedGP(GaussianProcess(warp(x), y, theta, structure), warp, x)


def _theta_bounds(structure: KernelStructure) -> list[tuple[float, float]]:
    return [LOG_LENGTHSCALE_BOUNDS] * structure.n_params + [LOG_SIGNAL_BOUNDS, LOG_NOISE_BOUNDS]


INITIAL_DESIGN_LOOKAHEAD = 256


def initial_design(space: SearchSpace, taken: set, n: int, index: int, seed: int, *,
                   center_first: bool = False) -> list[dict[str, Any]]:
    """``n`` points of the job's Sobol sequence from position ``index`` on, skipping points whose
    configuration is already taken (on a small integer or categorical space several Sobol points
    snap to the same configuration). After ``INITIAL_DESIGN_LOOKAHEAD`` points without a new one
    the point at ``index`` is returned as is (the caller replaces repeats, see ``suggest``).

    With ``center_first`` the job's trial 0 is the centre of the space and trial ``k`` the Sobol
    point ``k - 1``, so the Sobol part keeps its balance (its first 2^m points are whole)."""
    picks: list[dict[str, Any]] = []
    taken = set(taken)
    if center_first:
        if index == 0 and n:
            center = space.from_unit(np.full((1, space.dimension), 0.5))[0]
            if space.key(center) not in taken:
                picks.append(center)
                taken.add(space.key(center))
        else:
            index -= 1
    n -= len(picks)
    found: list[dict[str, Any]] = []
    batch = max(16, 2 * n)
    start = index
    while len(found) < n and start < index + INITIAL_DESIGN_LOOKAHEAD:
        for config in space.from_unit(sobol(start, batch, space.dimension, seed)):
            key = space.key(config)
            if key not in taken and len(found) < n:
                found.append(config)
                taken.add(key)
        start += batch
    if len(found) < n:
        found += space.from_unit(sobol(index + len(found), n - len(found), space.dimension, seed))
    return picks + found


BOX_COX_LAMBDAS = np.linspace(-1.0, 1.0, 21)


def winsorize_outputs(y: np.ndarray) -> np.ndarray:
    """Minimised values above Tukey's upper fence (q3 + 1.5 IQR) clipped to it, Ax's default for an
    objective: a few huge values (a shifted polynomial's far edge) otherwise flatten the basin once
    standardised. The best values, hence the incumbent, are untouched."""
    q1, q3 = np.percentile(y, [25.0, 75.0])
    if q3 <= q1:
        return y.copy()
    return np.minimum(y, q3 + 1.5 * (q3 - q1))


def warp_outputs(y: np.ndarray) -> np.ndarray:
    """Monotone Box-Cox warp of minimised values, so heavy upper tails do not dominate the GP.

    s = (y - min y) / (max y - min y) + 0.01  (shifted positive; the offset bounds the stretch
    near the best value), then t = (s^lam - 1) / lam (ln s at lam = 0) with lam on a grid
    maximising the Box-Cox profile likelihood  -n/2 ln var(t) + (lam - 1) sum ln s.
    Monotone, so the minimiser is unchanged; lam = 1 is the identity up to scale.
    """
    spread = float(np.max(y) - np.min(y))
    if spread <= 0.0:
        return y.copy()
    s = (y - np.min(y)) / spread + 0.01
    log_s = np.log(s)
    best, best_ll = y, -np.inf
    for lam in BOX_COX_LAMBDAS:
        t = log_s if abs(lam) < 1e-12 else (s**lam - 1.0) / lam
        ll = -0.5 * len(y) * np.log(max(np.var(t), 1e-300)) + (lam - 1.0) * np.sum(log_s)
        if ll > best_ll:
            best, best_ll = t, ll
    return best


PORTFOLIO = ("ei", "lcb", "pi")

TR_INITIAL, TR_MIN, TR_MAX, TR_SUCCESSES = 0.8, 0.5**7, 1.6, 3


def trust_region_length(values: Sequence[float], n_initial: int, dimension: int) -> float:
    """TuRBO's side length (on the unit cube), replayed over the minimised ``values`` in the
    order they completed, so a stateless call recovers it: after the initial design, an
    improvement by more than 1e-3 |best| is a success, anything else a failure; 3 successes in a
    row double the length (up to 1.6), ``max(4, dimension)`` failures in a row halve it, and below
    0.5^7 it restarts at 0.8 (TuRBO restarts its whole design there; we keep the data)."""
    if len(values) <= n_initial:
        return TR_INITIAL
    length, successes, failures = TR_INITIAL, 0, 0
    tolerance = max(4, dimension)
    best = min(values[:n_initial]) if n_initial else values[0]
    for v in values[max(n_initial, 1):]:
        if v < best - 1e-3 * abs(best):
            successes, failures = successes + 1, 0
        else:
            successes, failures = 0, failures + 1
        best = min(best, v)
        if successes == TR_SUCCESSES:
            length, successes = min(2.0 * length, TR_MAX), 0
        elif failures == tolerance:
            length, failures = length / 2.0, 0
        if length < TR_MIN:
            length = TR_INITIAL
    return length


def looks_quantised(values: Sequence[float]) -> bool:
    """Whether two trials tie exactly among the best quarter (at least 5) of the values: an
    accuracy on a finite validation set, a count, a lattice. A smooth objective almost never
    repeats a value at two different points; a quantised one does near its best, where the
    trust region's shrinking on "no improvement" mistakes a plateau for convergence."""
    best = sorted(values)[:max(5, len(values) // 4)]
    return len(set(best)) < len(best)


def trust_region_box(space: SearchSpace, gp: GaussianProcess, centre: np.ndarray, length: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Feature bounds (lower, upper) of the trust region: numeric features within
    ``length * l_f / geomean(l) / 2`` of the centre (TuRBO's lengthscale-shaped box), clipped to
    the unit cube; categorical features unrestricted."""
    lower, upper = np.zeros(space.feature_count), np.ones(space.feature_count)
    numeric = space.numeric_feature_columns()
    if len(numeric):
        lengthscales = 1.0 / np.sqrt(gp.weights[numeric])
        shape = lengthscales / np.exp(np.mean(np.log(lengthscales)))
        half = 0.5 * length * shape
        lower[numeric] = np.clip(centre[numeric] - half, 0.0, 1.0)
        upper[numeric] = np.clip(centre[numeric] + half, 0.0, 1.0)
    return lower, upper


class _Acquisition:
    """The acquisition being maximised: log EI, log PI (both against ``best``) or -LCB."""

    def __init__(self, kind: str, best: float, kappa: float, average: bool = False) -> None:
        if kind not in ("ei", "pi", "lcb"):
            raise ValueError(f"acquisition must be ei, pi, lcb or portfolio, not {kind!r}")
        self.kind, self.best, self.kappa, self.average = kind, best, kappa, average

    def score(self, gp: "GaussianProcess | EnsembleGP | FantasyGP", xs: np.ndarray) -> np.ndarray:
        if self._over_draws(gp):
            return _log_mean_exp(self._at(*gp.predict_draws(xs), gp.incumbents[:, None]))[0]
        if self._averages(gp):
            values = np.stack([self(*member.predict(xs)) for member in gp.members])
            return _log_mean_exp(values)[0]
        return self(*gp.predict(xs))

    def score_with_gradient(self, gp: "GaussianProcess | EnsembleGP", xs: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
        if self._over_draws(gp):
            means, variances, d_means, d_variances = gp.predict_draws_with_gradient(xs)
            values, grads = self._at(means, variances, gp.incumbents[:, None], d_means, d_variances,
                                     with_gradient=True)
            value, weights = _log_mean_exp(values)
            return value, np.einsum("kn,knd->nd", weights, grads)
        if self._averages(gp):
            parts = [self.with_gradient(*member.predict_with_gradient(xs)) for member in gp.members]
            value, weights = _log_mean_exp(np.stack([v for v, _ in parts]))
            return value, np.einsum("kn,knd->nd", weights, np.stack([g for _, g in parts]))
        return self.with_gradient(*gp.predict_with_gradient(xs))

    def _averages(self, gp) -> bool:
        return self.average and self.kind != "lcb" and isinstance(gp, EnsembleGP)

    def _over_draws(self, gp) -> bool:
        # EI (or PI) averaged over the fantasies' draws, each against its own incumbent; -LCB
        # has no incumbent and sees the believer's mean and variance
        return self.kind != "lcb" and isinstance(gp, FantasyGP)

    def _at(self, mean, var, best, d_mean=None, d_var=None, with_gradient: bool = False):
        """log EI or log PI against ``best`` (a float, or one per row of a stack of draws)."""
        if self.kind == "ei":
            if with_gradient:
                return log_expected_improvement_and_gradient(mean, var, d_mean, d_var, best)
            return log_expected_improvement(mean, var, best)
        if with_gradient:
            return log_probability_of_improvement_and_gradient(mean, var, d_mean, d_var, best)
        return log_probability_of_improvement(mean, var, best)

    def __call__(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        if self.kind == "lcb":
            return negative_lower_confidence_bound(mean, var, self.kappa)
        return self._at(mean, var, self.best)

    def with_gradient(self, mean, var, d_mean, d_var) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "lcb":
            return negative_lower_confidence_bound_and_gradient(mean, var, d_mean, d_var, self.kappa)
        return self._at(mean, var, self.best, d_mean, d_var, with_gradient=True)


def _candidates(space: SearchSpace, gp: GaussianProcess, mean_at_data: np.ndarray,
                rng: np.random.Generator, opts: BayesianOptions, seed: int,
                box: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    start = int(rng.integers(0, 2**20))
    global_points = space.features_from_unit(
        sobol(start, opts.n_candidates, space.dimension, seed))
    if box is not None:
        global_points = space.snap_features(box[0] + global_points * (box[1] - box[0]))
    # Local candidates around the trials the model currently believes are best.
    centres = gp.x[np.argsort(mean_at_data)[: min(5, len(mean_at_data))]]
    numeric = space.numeric_feature_columns()
    local = []
    for scale in (0.2, 0.05, 0.01, 0.002):
        base = centres[rng.integers(0, len(centres), opts.n_local_per_scale)].copy()
        base[:, numeric] += scale * rng.standard_normal((len(base), len(numeric)))
        if box is None:
            base[:, numeric] = np.clip(base[:, numeric], 0.0, 1.0)
        else:
            base[:, numeric] = np.clip(base[:, numeric], box[0][numeric], box[1][numeric])
        _resample_some_categories(space, base, rng)
        local.append(space.snap_features(base))
    if opts.coordinate_candidates:
        local.append(_coordinate_moves(space, centres, opts.coordinate_candidates, rng, box))
    return np.vstack([global_points, *local])


def _coordinate_moves(space: SearchSpace, centres: np.ndarray, count: int,
                      rng: np.random.Generator, box: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    moves = centres[rng.integers(0, len(centres), count)].copy()
    fresh = space.features_from_unit(rng.random((count, space.dimension)))
    if box is not None:
        fresh = space.snap_features(box[0] + fresh * (box[1] - box[0]))
    blocks = space.feature_blocks()
    for row in range(count):
        for j in rng.choice(space.dimension, min(space.dimension, 1 + int(rng.integers(0, 2))), replace=False):
            start, width = blocks[j]
            moves[row, start : start + width] = fresh[row, start : start + width]
    return moves


def _resample_some_categories(space: SearchSpace, x: np.ndarray, rng: np.random.Generator) -> None:
    rows = np.arange(len(x))
    for p, (start, width) in zip(space.parameters, space.feature_blocks()):
        if isinstance(p, CategoricalParameter):
            flip = rng.random(len(x)) < 1.0 / space.dimension
            idx = rng.integers(0, width, len(x))
            x[flip, start : start + width] = 0.0
            x[rows[flip], start + idx[flip]] = 1.0


def _maximise_acquisition(space: SearchSpace, gp: GaussianProcess, rng: np.random.Generator,
                          opts: BayesianOptions, seed: int, kind: str = "ei",
                          box: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    # Incumbent: the best posterior mean over observed and fantasy points (robust to noise).
    mean_at_data = gp.predict(gp.x)[0]
    best = float(np.min(mean_at_data))
    acquisition = _Acquisition(kind, best, opts.lcb_kappa, opts.ensemble_acquisition == "average")
    candidates = _candidates(space, gp, mean_at_data, rng, opts, seed, box)
    scores = acquisition.score(gp, candidates)
    order = np.argsort(-scores)
    numeric = space.numeric_feature_columns()

    refined = [candidates[order[: 4 * opts.n_refine]]]
    if len(numeric):
        starts = np.vstack([candidates[_refine_starts(scores, opts.n_refine - 1, rng)],
                            gp.x[np.argmin(mean_at_data)][None, :]])
        for start in starts:
            refined.append(_refine_numeric(gp, start, numeric, acquisition, opts.refine_iter,
                                           box)[None, :])
    pool = space.snap_features(np.vstack(refined))
    pool_scores = acquisition.score(gp, pool)
    top = pool[np.argsort(-pool_scores)[: 2 * opts.n_refine + 1]]
    pool = np.vstack([pool, _discrete_neighbours(space, top)])
    pool_scores = acquisition.score(gp, pool)

    taken = gp.x
    for i in np.argsort(-pool_scores):
        if not _is_taken(pool[i], taken):
            return pool[i]
    for i in order:  # every refined point was taken: fall back to the raw candidates
        if not _is_taken(candidates[i], taken):
            return candidates[i]
    return space.features_from_unit(rng.random((1, space.dimension)))[0]


def _log_mean_exp(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(mean_k exp(values[k])) over axis 0, and the weights exp(values[k]) / sum_k exp(values[k])
    (its gradient is their weighted sum of the members' gradients). By hand: scipy.special's
    logsumexp does not fit the Lambda layer (see acquisition.py)."""
    top = values.max(axis=0)
    scaled = np.exp(values - top)
    total = scaled.sum(axis=0)
    return top + np.log(total / len(values)), scaled / total


def _refine_starts(scores: np.ndarray, n_more: int, rng: np.random.Generator) -> np.ndarray:
    """The best candidate plus ``n_more`` drawn with probability proportional to EI
    (softmax of log EI, as Optuna's GPSampler does): starts spread over several promising
    basins instead of crowding into the best one."""
    best = int(np.argmax(scores))
    probs = np.exp(scores - scores[best])
    probs[best] = 0.0
    n_more = min(n_more, int(np.count_nonzero(probs > 0.0)))
    if n_more <= 0:
        return np.array([best])
    more = rng.choice(len(scores), size=n_more, replace=False, p=probs / probs.sum())
    return np.concatenate([[best], more])


def _refine_numeric(gp: GaussianProcess, start: np.ndarray, numeric: np.ndarray,
                    acquisition: "_Acquisition | float", max_iter: int,
                    box: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Maximise the acquisition (log EI against a float ``best``) over the numeric features with
    the categorical ones fixed, inside ``box`` (default the unit cube).

    Preconditioned: L-BFGS works on v_f = x_f sqrt(w_f) = x_f / l_f, in which the kernel is
    isotropic, so one step length suits every direction however unequal the lengthscales.
    """
    if not isinstance(acquisition, _Acquisition):
        acquisition = _Acquisition("ei", float(acquisition), 0.0)
    lower, upper = (np.zeros(len(numeric)), np.ones(len(numeric))) if box is None else (
        box[0][numeric], box[1][numeric])
    point = start.copy()
    scale = 1.0 / np.sqrt(gp.weights[numeric])  # x = v * scale

    def negative(v: np.ndarray) -> tuple[float, np.ndarray]:
        point[numeric] = v * scale
        value, grad = acquisition.score_with_gradient(gp, point[None, :])
        return -float(value[0]), -grad[0, numeric] * scale

    x0 = np.clip(start[numeric], lower, upper)
    v, _ = lbfgs.minimize(negative, x0 / scale, lower / scale, upper / scale, max_iter=max_iter)
    out = start.copy()
    out[numeric] = np.clip(v * scale, lower, upper)
    return out


def _discrete_neighbours(space: SearchSpace, points: np.ndarray) -> np.ndarray:
    """Each point with one categorical changed to each other category, or one integer +-1."""
    moves = []
    for p, (start, width) in zip(space.parameters, space.feature_blocks()):
        if isinstance(p, CategoricalParameter):
            for c in range(width):
                moved = points.copy()
                moved[:, start : start + width] = 0.0
                moved[:, start + c] = 1.0
                moves.append(moved)
        elif p.is_integer:
            values = p.from_unit(points[:, start])
            for delta in (-1.0, 1.0):
                moved = points.copy()
                moved[:, start] = p.to_unit(np.clip(values + delta, p.low, p.high))
                moves.append(moved)
    return np.vstack(moves) if moves else np.empty((0, points.shape[1]))


def _is_taken(point: np.ndarray, taken: np.ndarray) -> bool:
    return bool(np.any(np.max(np.abs(taken - point), axis=1) < 1e-9)) if len(taken) else False


def count_initial(space: SearchSpace, **options: Any) -> int:
    """How many trials the Bayesian strategy spends on its initial design (the centre, then Sobol points)."""
    return BayesianOptions(**options).initial_count(space)

