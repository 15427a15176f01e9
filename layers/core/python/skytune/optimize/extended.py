"""The Bayesian strategy for jobs AMT cannot express: several objectives, outcome constraints,
conditional search spaces (any combination). Stateless and deterministic like :func:`suggest`.

One call:

1. Until ``n_initial`` trials have outcomes, points of the job's scrambled Sobol sequence
   (inactive conditional parameters dropped), skipping configurations already taken.
2. Encode the trials with the arc embedding of :mod:`skytune.optimize.conditional` (for a space
   without conditions it is the usual feature encoding). Fit one GP per objective (values signed
   so that every objective is minimised, standardised; failed trials take the worst value seen,
   so the model learns to avoid their region), and one per constrained metric on the trials that
   reported it (:mod:`skytune.optimize.constraints`).
3. Acquisition, maximised over Sobol candidates plus perturbations of the best trials, then
   four rounds of finer perturbations around the best candidates (and the best feasible trial):

   * one objective: log expected improvement over the best *feasible* posterior mean;
   * several, ``acquisition="ehvi"`` (default): the exact expected hypervolume improvement over
     the feasible Pareto front (:func:`expected_hypervolume_improvement`: a box decomposition
     of the non-dominated region, independent Gaussian posteriors per objective), objectives
     normalised by the observed range, reference point 1.1 past the worst (or the objective's
     stated ``Goal.reference``); Monte Carlo (:func:`hypervolume_improvement_mc`) only for 4
     objectives with a front too large for the boxes;
   * several, ``acquisition="parego"``: ParEGO (Knowles 2006): a random weight vector per pick,
     the augmented Chebyshev scalarisation max_j w_j y_j + 0.05 sum_j w_j y_j of the normalised
     objectives, one GP on it and log EI;

   plus the log probability of feasibility of every constraint. Until a feasible trial exists
   the acquisition is the probability of feasibility alone (find the feasible region first).
4. Pending trials and earlier picks of the batch are *kriging believer* fantasies in every model.

Benchmarks (ParEGO vs EHVI, against Optuna's samplers): BENCHMARKS.md, "Beyond AMT".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skytune.optimize.acquisition import log_expected_improvement
from skytune.optimize.bayesian import initial_design, winsorize_outputs
from skytune.optimize.conditional import embed, embedding_structure
from skytune.optimize.constraints import OutcomeConstraint, is_feasible, log_probability_of_feasibility
from skytune.optimize.gp import GaussianProcess, Prior, fit_hyperparameters
from skytune.optimize.history import usable_configs
from skytune.optimize.multiobjective import (
    MAX_CELLS,
    expected_hypervolume_improvement,
    hypervolume_improvement_mc,
    pareto_mask,
    uniform_box_points,
)
from skytune.optimize.observation import Objective, Observation, sign_for
from skytune.optimize.sampling import replace_repeats
from skytune.optimize.sobol import sobol
from skytune.optimize.space import CategoricalParameter, SearchSpace

ACQUISITIONS = ("ehvi", "parego")
REFINE_SCALES = ((0.05, 0.01, 0.002), (0.01, 0.002, 0.0005), (0.002, 0.0005, 0.0001), (0.0005, 0.0001, 0.00002))
MAX_FIT_POINTS = 100  # hyperparameters are fitted on at most this many trials (each step is cubic)


@dataclass(frozen=True)
class Outcome:
    """A finished trial: its configuration and final metrics (name -> value; a metric it never
    reported is absent). ``failed``: the trial failed or reported no objective."""

    params: Mapping[str, Any]
    metrics: Mapping[str, float] = field(default_factory=dict)
    failed: bool = False
    trial_id: Any = None


@dataclass(frozen=True)
class Goal:
    """An objective. ``reference``: optionally the worst value of the metric worth improving on
    (Ax's objective threshold): the hypervolume reference point in this objective, else 10% past
    the worst value observed."""

    metric: str
    type: Objective = "Minimize"
    reference: float | None = None


def outcomes_from_observations(observations: Sequence[Observation], metric: str) -> list[Outcome]:
    """Single-objective observations as outcomes of ``metric``."""
    return [Outcome(o.params, {metric: o.value} if o.is_success else {}, not o.is_success, o.trial_id)
            for o in observations]


@dataclass(frozen=True)
class ExtendedOptions:
    acquisition: str = "ehvi"
    ehvi_reference: str = "observed"  # or "front": the nadir of the Pareto front + 10% of its range
    # ablations measured in round 5 (BENCHMARKS.md, "Round 5: DTLZ2"; defaults unchanged): how far
    # past the worst value (observed) or the front's nadir (front) the reference sits, as a share
    # of the range; and a factor on the posterior standard deviations EHVI sees (< 1 explores less)
    ehvi_margin: float = 0.1
    ehvi_sd_scale: float = 1.0
    n_initial: int | None = None  # None: max(4, min(10, P + 1)), the Bayesian strategy's rule of rounds 1-7
    n_candidates: int = 1024
    n_local: int = 64
    mc_samples: int = 32
    mc_box_points: int = 2048
    mc_shortlist: int = 64
    n_fit_starts: int = 2
    refine_rounds: int = 4
    refine_top: int = 3
    # the single-objective strategy's model choices (skytune.optimize.bayesian); measured here in
    # round 7 (BENCHMARKS.md, "Beyond AMT"): the GP hyperparameter prior, and "none" or
    # "winsorize" for the objective values the GPs fit (constraint models are never clipped)
    prior: Prior = Prior()
    output_transform: str = "none"
    # several objectives: 0 draws the candidates from the whole space (Sobol); a width w in (0, 1]
    # draws them in boxes of side w (unit space) around the Pareto-set trials instead (round 13)
    pareto_box: float = 0.0
    pareto_box_share: float = 1.0  # the share of the model's picks that use the box (by trial index)


def suggest_extended(space: SearchSpace, completed: Sequence[Outcome], pending: Sequence[Mapping[str, Any]],
                     n: int, seed: int, *, objectives: Sequence[Goal],
                     constraints: Sequence[OutcomeConstraint] = (), index: int | None = None,
                     **options: Any) -> list[dict[str, Any]]:
    """``n`` configurations for the next trials (see module docstring)."""
    opts = ExtendedOptions(**options)
    if opts.acquisition not in ACQUISITIONS:
        raise ValueError(f"acquisition must be one of {', '.join(ACQUISITIONS)}")
    if opts.ehvi_reference not in ("front", "observed"):
        raise ValueError("ehvi_reference must be front or observed")
    if not (math.isfinite(opts.ehvi_margin) and opts.ehvi_margin > -1.0):
        raise ValueError("ehvi_margin must be a number above -1")
    if not (math.isfinite(opts.ehvi_sd_scale) and opts.ehvi_sd_scale > 0.0):
        raise ValueError("ehvi_sd_scale must be a positive number")
    if not (math.isfinite(opts.pareto_box) and 0.0 <= opts.pareto_box <= 1.0):
        raise ValueError("pareto_box must be a number from 0 to 1")
    if not (math.isfinite(opts.pareto_box_share) and 0.0 <= opts.pareto_box_share <= 1.0):
        raise ValueError("pareto_box_share must be a number from 0 to 1")
    if opts.output_transform not in ("none", "winsorize"):
        raise ValueError("output_transform must be none or winsorize")
    if not objectives:
        raise ValueError("at least one objective is required")
    history = []
    for o in completed:
        try:
            history.append(Outcome(space.coerce(o.params), dict(o.metrics), o.failed, o.trial_id))
        except ValueError:
            continue
    running = usable_configs(space, pending)
    if index is None:
        index = len(history) + len(running)
    rng = np.random.default_rng([seed, index, len(history), len(running), 0xE7])
    taken = {space.key(o.params) for o in history} | {space.key(p) for p in running}

    names = [g.metric for g in objectives]
    successes = [o for o in history if not o.failed and all(_finite(o.metrics.get(m)) for m in names)]
    n_initial = opts.n_initial if opts.n_initial is not None else max(4, min(10, space.dimension + 1))
    picks: list[dict[str, Any]] = []
    n_sobol = n if len(successes) < 2 else min(n, max(0, n_initial - len(history) - len(running)))
    if n_sobol:
        picks = replace_repeats(space, initial_design(space, taken, n_sobol, index, seed), taken, rng)
    if n_sobol == n:
        return picks

    model = _Models(space, history, successes, objectives, constraints, rng, opts)
    for pick in picks + running:
        model.fantasise(pick)
    for k in range(n_sobol, n):
        config = model.best_candidate(taken, seed, index + k)
        picks.append(config)
        taken.add(space.key(config))
        model.fantasise(config)
    return picks


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fit(x: np.ndarray, y: np.ndarray, space: SearchSpace, rng: np.random.Generator, starts: int,
         prior: Prior = Prior()) -> tuple[GaussianProcess, float, float]:
    """A GP on standardised ``y``; returns it with the mean and scale used."""
    mean, scale = float(np.mean(y)), float(max(np.std(y), 1e-12))
    structure = embedding_structure(space)
    z = (y - mean) / scale
    if len(z) > MAX_FIT_POINTS:  # as the Bayesian strategy: fit on a subset, condition on all
        rows = np.sort(rng.choice(len(z), MAX_FIT_POINTS, replace=False))
        theta = fit_hyperparameters(x[rows], z[rows], structure, rng, prior, n_starts=starts,
                                    climb_all_starts=False)
    else:
        theta = fit_hyperparameters(x, z, structure, rng, prior, n_starts=starts)
    return GaussianProcess(x, z, theta, structure), mean, scale


class _Models:
    """The objective and constraint GPs of one call, with their fantasies."""

    def __init__(self, space: SearchSpace, history: list[Outcome], successes: list[Outcome],
                 objectives: Sequence[Goal], constraints: Sequence[OutcomeConstraint],
                 rng: np.random.Generator, opts: ExtendedOptions) -> None:
        self.space, self.rng, self.opts = space, rng, opts
        self.objectives, self.constraints = list(objectives), list(constraints)
        signs = np.array([sign_for(g.type) for g in objectives])
        names = [g.metric for g in objectives]
        x = embed(space, [o.params for o in history])
        succeeded = {id(o) for o in successes}
        ok = np.array([id(o) in succeeded for o in history])
        raw = np.array([[signs[j] * o.metrics[m] if ok[i] else np.nan for j, m in enumerate(names)]
                        for i, o in enumerate(history)])
        worst = np.nanmax(raw[ok], axis=0)
        raw[~ok] = worst  # failed trials: the worst value seen, per objective
        # normalised objectives: 0 at the best observed, 1 at the worst
        low, high = np.nanmin(raw[ok], axis=0), worst
        self.norm_low, self.norm_span = low, np.maximum(high - low, 1e-12)
        y = (raw - low) / self.norm_span
        feasible = np.array([ok[i] and is_feasible(constraints, o.metrics) for i, o in enumerate(history)])
        self.y, self.feasible, self.x_data = y, feasible, x
        self.configs = [o.params for o in history]

        self.constraint_models = []
        for c in constraints:
            rows = [i for i, o in enumerate(history) if _finite(o.metrics.get(c.metric))]
            if len(rows) < 2:
                self.constraint_models.append(None)  # too little to model: no pressure yet
                continue
            values = np.array([history[i].metrics[c.metric] for i in rows])
            self.constraint_models.append(_fit(x[rows], values, space, rng, opts.n_fit_starts, opts.prior))

        self.multi = len(objectives) > 1
        if self.multi and opts.acquisition == "parego":
            weights = rng.dirichlet(np.ones(len(objectives)))
            self.weights = weights
            target = self._chebyshev(y)
            self.objective_models = [_fit(x, self._fitted(target), space, rng, opts.n_fit_starts, opts.prior)]
        else:
            self.objective_models = [_fit(x, self._fitted(y[:, j]), space, rng, opts.n_fit_starts, opts.prior)
                                     for j in range(y.shape[1])]
        self.fantasy_y: list[np.ndarray] = []
        self._box: tuple[np.ndarray, float] | None = None

    def _fitted(self, values: np.ndarray) -> np.ndarray:
        """What an objective GP fits. Normalisation, the front and the reference point keep the
        values as observed."""
        return winsorize_outputs(values) if self.opts.output_transform == "winsorize" else values

    def _chebyshev(self, y: np.ndarray) -> np.ndarray:
        weighted = y * self.weights
        return weighted.max(axis=1) + 0.05 * weighted.sum(axis=1)

    def fantasise(self, config: Mapping[str, Any]) -> None:
        """Kriging believer: observe every model at its posterior mean at ``config``."""
        x = embed(self.space, [config])
        for group in (self.objective_models, self.constraint_models):
            for i, entry in enumerate(group):
                if entry is None:
                    continue
                gp, mean, scale = entry
                group[i] = (gp.condition_on(x, gp.predict(x)[0]), mean, scale)
        if self.multi and self.opts.acquisition != "parego":
            means = np.array([(gp.predict(x)[0][0] * scale + mean) for gp, mean, scale in self.objective_models])
            self.fantasy_y.append(means)

    # -- acquisition ---------------------------------------------------------------------------
    def _log_feasibility(self, x: np.ndarray) -> np.ndarray:
        total = np.zeros(len(x))
        for c, entry in zip(self.constraints, self.constraint_models):
            if entry is None:
                continue
            gp, mean, scale = entry
            mu, var = gp.predict(x)
            total += log_probability_of_feasibility(c, mu * scale + mean, var * scale * scale)
        return total

    def score(self, x: np.ndarray) -> np.ndarray:
        log_pof = self._log_feasibility(x)
        if self.constraints and not self.feasible.any():
            return log_pof
        if not self.multi or self.opts.acquisition == "parego":
            gp, mean, scale = self.objective_models[0]
            mu_data = gp.predict(gp.x)[0]
            n_data = len(self.y)
            feasible = np.concatenate([self.feasible, np.ones(len(gp.x) - n_data, dtype=bool)])
            best = float(np.min(mu_data[feasible])) if feasible.any() else float(np.min(mu_data))
            return log_expected_improvement(*gp.predict(x), best) + log_pof
        return self._log_ehvi(x) + log_pof

    def _front(self) -> np.ndarray:
        points = [self.y[self.feasible]]
        if self.fantasy_y:
            # already in normalised units (the models' own); until round 5 they were normalised
            # a second time, so with a wide objective range a pending trial's fantasy sat far
            # ahead of the front and the next picks of a batch saw a front that did not exist
            points.append(np.array(self.fantasy_y))
        front = np.vstack(points) if any(len(p) for p in points) else np.empty((0, self.y.shape[1]))
        return front[pareto_mask(front)] if len(front) else front

    def _reference(self, front: np.ndarray) -> np.ndarray:
        """The hypervolume reference point, in normalised units (0 best observed, 1 worst)."""
        m = self.y.shape[1]
        margin = self.opts.ehvi_margin
        if self.opts.ehvi_reference == "observed" or not len(front):
            reference = np.full(m, 1.0 + margin)  # 10% (the margin) past the worst value observed
        else:
            # BoTorch/Ax's default (infer_reference_point): the nadir of the Pareto front, 10% of
            # the front's range further (measured: worse than "observed" on ZDT1, no better on
            # DTLZ2; kept as an option)
            nadir, ideal = front.max(axis=0), front.min(axis=0)
            reference = nadir + margin * np.maximum(nadir - ideal, 0.1)
        for j, goal in enumerate(self.objectives):  # a stated reference wins
            if goal.reference is not None and math.isfinite(goal.reference):
                reference[j] = (sign_for(goal.type) * goal.reference - self.norm_low[j]) / self.norm_span[j]
        return reference

    def _log_ehvi(self, x: np.ndarray) -> np.ndarray:
        front = self._front()
        m = self.y.shape[1]
        reference = self._reference(front)
        means, sds = [], []
        for gp, mean, scale in self.objective_models:
            mu, var = gp.predict(x)
            means.append(mu * scale + mean)
            sds.append(np.sqrt(var) * scale * self.opts.ehvi_sd_scale)
        mu, sd = np.array(means).T, np.array(sds).T  # (c, m), normalised units
        inside = front[np.all(front < reference, axis=1)] if len(front) else front
        if (len(inside) + 1) ** (m - 1) <= MAX_CELLS:
            ehvi = expected_hypervolume_improvement(mu, sd, front, reference)
        else:
            ehvi = self._mc_ehvi(mu, sd, front, reference)
        # where EHVI underflows (far behind the front), rank by the standardised distance to
        # the front's best values, so the search still moves towards the front
        gap = np.sum(np.maximum(mu - (front.min(axis=0) if len(front) else 0.0), 0.0) / np.maximum(sd, 1e-12),
                     axis=1)
        return np.where(ehvi > 1e-300, np.log(np.maximum(ehvi, 1e-300)), -1e3 - gap)

    def _mc_ehvi(self, mu: np.ndarray, sd: np.ndarray, front: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Monte Carlo EHVI (4 objectives with a large front): posterior samples scored against
        one set of uniform points in the box, on the candidates whose optimistic point
        (mean - sd) improves most; 0 elsewhere."""
        m = len(reference)
        if self._box is None:  # one set of box points per pick: candidates' scores stay comparable
            lower = np.minimum(front.min(axis=0) if len(front) else np.zeros(m), 0.0) - 0.5
            self._box = (uniform_box_points(lower, reference, self.opts.mc_box_points, self.rng),
                         float(np.prod(reference - lower)))
        box, volume = self._box
        optimistic = hypervolume_improvement_mc(mu - sd, front, reference, box, volume)
        short = np.argsort(-optimistic)[: self.opts.mc_shortlist]
        eps = self.rng.standard_normal((self.opts.mc_samples, len(short), m))
        samples = mu[short][None, :, :] + sd[short][None, :, :] * eps
        hvi = hypervolume_improvement_mc(samples.reshape(-1, m), front, reference, box, volume)
        out = np.zeros(len(mu))
        out[short] = hvi.reshape(self.opts.mc_samples, len(short)).mean(axis=0)
        return out

    # -- candidates ----------------------------------------------------------------------------
    def _boxed_pick(self, index: int) -> bool:
        share = self.opts.pareto_box_share
        return (self.multi and self.opts.pareto_box > 0.0
                and math.floor((index + 1) * share + 1e-9) > math.floor(index * share + 1e-9))

    def best_candidate(self, taken: set, seed: int, index: int = 0) -> dict[str, Any]:
        space, rng = self.space, self.rng
        self._box = None
        start = int(rng.integers(0, 2**20))
        centres = self._centres()
        if self._boxed_pick(index):
            configs = self._boxed(centres, self.opts.pareto_box, start, seed)
        else:
            configs = space.from_unit(sobol(start, self.opts.n_candidates, space.dimension, seed))
        configs += self._local(centres, (0.2, 0.05, 0.01), redraw=True)
        seen = set(taken)
        configs = _untaken(space, configs, seen)
        if not configs:
            return space.from_unit(rng.random((1, space.dimension)))[0]
        scores = self.score(embed(space, configs))
        # refine around the best candidates with shrinking steps and no re-drawn parameters: the
        # acquisition's optimum often sits in a small region (e.g. just inside a constraint's
        # boundary, where expected improvement grows and the probability of feasibility falls);
        # the best trial is always one of the centres, as its neighbourhood is where that region
        # usually is, even when no first-round candidate happened to land in it
        incumbents = list(self._centres()[:1]) if not self.multi else []
        for scales in REFINE_SCALES[: self.opts.refine_rounds]:
            top = [configs[i] for i in np.argsort(-scores)[: self.opts.refine_top]] + incumbents
            more = _untaken(space, self._local(top, scales, redraw=False), seen)
            if more:
                configs, scores = configs + more, np.concatenate([scores, self.score(embed(space, more))])
        return configs[int(np.argmax(scores))]

    def _centres(self) -> list[Mapping[str, Any]]:
        """The trials to search around: the feasible Pareto set (several objectives) or the best
        feasible trials (one), else the best trials."""
        rows = np.flatnonzero(self.feasible) if self.feasible.any() else np.arange(len(self.y))
        y = self.y[rows]
        if self.multi:
            chosen = rows[pareto_mask(y)]
        else:
            chosen = rows[np.argsort(y[:, 0])[:5]]
        return [self.configs[i] for i in chosen]

    def _boxed(self, centres: Sequence[Mapping[str, Any]], width: float, start: int, seed: int
               ) -> list[dict[str, Any]]:
        base = self.space.to_unit(list(centres))
        u = sobol(start, self.opts.n_candidates, self.space.dimension, seed)
        which = self.rng.integers(0, len(base), len(u))
        # TuRBO's box: clipped to the cube, points uniform inside it (not piled onto the bounds)
        low = np.clip(base[which] - width / 2, 0.0, 1.0)
        high = np.clip(base[which] + width / 2, 0.0, 1.0)
        return self.space.from_unit(low + u * (high - low))

    def _local(self, centres: Sequence[Mapping[str, Any]], scales: Sequence[float], redraw: bool = True
               ) -> list[dict[str, Any]]:
        if not centres:
            return []
        space, rng = self.space, self.rng
        base = space.to_unit(list(centres))
        categorical = np.array([isinstance(p, CategoricalParameter) for p in space.parameters])
        out = []
        per_scale = max(1, self.opts.n_local // len(scales))
        for scale in scales:
            z = base[rng.integers(0, len(base), per_scale)].copy()
            step = scale * rng.standard_normal((per_scale, int((~categorical).sum())))
            # half the moves change a random subset of the numeric parameters only (fine moves
            # along a few axes, and onto the bounds, which clipping reaches exactly)
            subset = rng.random(step.shape) < 0.5
            subset[: per_scale // 2] = True
            z[:, ~categorical] += step * subset
            if redraw:
                # a quarter of the moves re-draw one parameter uniformly: moves categories and
                # switches conditional branches on and off. (Until round 4 every parameter was
                # re-drawn with probability 1/P: with 2 parameters three moves in four landed
                # anywhere, and the local search rarely stayed local.)
                rows = np.flatnonzero(rng.random(per_scale) < 0.25)
                cols = rng.integers(0, space.dimension, len(rows))
                z[rows, cols] = rng.random(len(rows))
            out += space.from_unit(np.clip(z, 0.0, 1.0))
        return out


def _untaken(space: SearchSpace, configs: Sequence[dict[str, Any]], seen: set) -> list[dict[str, Any]]:
    """The configurations whose key is not in ``seen`` (which then holds them too)."""
    out = []
    for config in configs:
        key = space.key(config)
        if key not in seen:
            seen.add(key)
            out.append(config)
    return out
