"""Each method behind one ask/tell interface, so the same asynchronous loop drives them all."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from benchmarks.tuner.problems import Problem
from skytune.optimize import Observation, parse_space, suggest
from skytune.optimize.gp import Prior


class SkytuneMethod:
    """skytune's stateless ``suggest``: every ask rebuilds from the history, as in Lambda."""

    def __init__(self, strategy: str, problem: Problem, seed: int, **options: Any) -> None:
        self.strategy, self.seed, self.options = strategy, seed, options
        self.space = parse_space(problem.parameter_ranges)
        self.completed: list[Observation] = []
        self.running: dict[int, dict] = {}
        self._next = 0

    def ask(self) -> tuple[int, dict]:
        # index = this trial's position in the job, as the engine passes trial number - 1
        config = suggest(self.strategy, self.space, self.completed, list(self.running.values()),
                         1, self.seed, objective="Minimize", index=self._next, **self.options)[0]
        handle, self._next = self._next, self._next + 1
        self.running[handle] = config
        return handle, config

    def tell(self, handle: int, value: float) -> None:
        self.completed.append(Observation(self.running.pop(handle), value))


class OptunaMethod:
    """Optuna's ask-and-tell; running trials stay RUNNING in the study, which both GPSampler
    (q-batch log EI) and TPE with ``constant_liar`` take into account."""

    def __init__(self, sampler_name: str, problem: Problem, seed: int, parallel: bool) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        if sampler_name == "OptunaGP":
            sampler = optuna.samplers.GPSampler(seed=seed)
        elif sampler_name == "OptunaTPE":
            sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)
        else:
            raise ValueError(sampler_name)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.problem = problem
        self.trials: dict[int, Any] = {}

    def _sample(self, trial) -> dict:
        ranges = self.problem.parameter_ranges
        config: dict[str, Any] = {}
        for r in ranges.get("ContinuousParameterRanges", []):
            config[r["Name"]] = trial.suggest_float(r["Name"], float(r["MinValue"]),
                                                    float(r["MaxValue"]),
                                                    log=r.get("ScalingType") == "Logarithmic")
        for r in ranges.get("IntegerParameterRanges", []):
            config[r["Name"]] = trial.suggest_int(r["Name"], int(r["MinValue"]), int(r["MaxValue"]),
                                                  log=r.get("ScalingType") == "Logarithmic")
        for r in ranges.get("CategoricalParameterRanges", []):
            config[r["Name"]] = trial.suggest_categorical(r["Name"], r["Values"])
        return config

    def ask(self) -> tuple[int, dict]:
        trial = self.study.ask()
        config = self._sample(trial)
        self.trials[trial.number] = trial
        return trial.number, config

    def tell(self, handle: int, value: float) -> None:
        self.study.tell(self.trials.pop(handle), value)


class AxMethod:
    """Meta's Ax (``ax-platform``) through its ``Client`` with the default generation strategy
    (nothing configured: Ax chooses it, i.e. a centre point and Sobol initialisation, then
    BoTorch's modular BO). Trials still running stay RUNNING in the experiment, which Ax treats as
    pending points. Seeded through ``Client(random_seed=seed)``."""

    def __init__(self, problem: Problem, seed: int, parallel: bool) -> None:
        import logging

        from ax.api.client import Client
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

        for name in ("ax", "botorch", "linear_operator", "gpytorch"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
        ranges = problem.parameter_ranges
        params: list[Any] = []
        for r in ranges.get("ContinuousParameterRanges", []):
            params.append(RangeParameterConfig(
                name=r["Name"], bounds=(float(r["MinValue"]), float(r["MaxValue"])), parameter_type="float",
                scaling="log" if r.get("ScalingType") == "Logarithmic" else "linear"))
        for r in ranges.get("IntegerParameterRanges", []):
            params.append(RangeParameterConfig(
                name=r["Name"], bounds=(int(r["MinValue"]), int(r["MaxValue"])), parameter_type="int",
                scaling="log" if r.get("ScalingType") == "Logarithmic" else "linear"))
        for r in ranges.get("CategoricalParameterRanges", []):
            params.append(ChoiceParameterConfig(name=r["Name"], values=list(r["Values"]),
                                                parameter_type="str", is_ordered=False))
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=params, name="suite")
        self.client.configure_optimization(objective="-loss")  # minimise loss

    def ask(self) -> tuple[int, dict]:
        trials = self.client.get_next_trials(max_trials=1)
        if not trials:  # Ax caps parallelism in some phases; never hit in the suite's runs
            raise RuntimeError("Ax returned no trial")
        handle, config = next(iter(trials.items()))
        return handle, dict(config)

    def tell(self, handle: int, value: float) -> None:
        self.client.complete_trial(handle, raw_data={"loss": float(value)})


SKYTUNE_METHODS = {"Bayesian": "Bayesian", "Random": "Random", "Sobol": "Sobol"}
OPTUNA_METHODS = ("OptunaGP", "OptunaTPE")
ALL_METHODS = ("Bayesian", "OptunaGP", "OptunaTPE", "Random")


# Candidate settings of skytune's Bayesian strategy, measured against the default on the suite's
# development problems (``--methods Bayesian,<variant> --ours <variant>``; BENCHMARKS.md).
# rounds 6-7's default model (the mixture noise prior, winsorized outputs); round 8's variants add to it
ROUND7_DEFAULT: dict[str, Any] = {"prior": Prior(noise_form="mixture"), "output_transform": "winsorize"}
# round 8's default (the centre first, 5 initial trials); round 9's variants add to it
ROUND8_DEFAULT: dict[str, Any] = {**ROUND7_DEFAULT, "first_point": "center", "n_initial": 5}

VARIANTS: dict[str, dict[str, Any]] = {
    # rounds 2-3 measured these with a single MAP fit (round 3's default), hence "map" here
    "Bayesian+ei": {"acquisition": "ei", "hyperparameters": "map"},  # round 3's default
    "Bayesian+map": {"hyperparameters": "map"},  # the same
    "Bayesian+power": {"output_transform": "power", "acquisition": "ei", "hyperparameters": "map"},
    "Bayesian+portfolio": {"acquisition": "portfolio", "hyperparameters": "map"},
    "Bayesian+tr": {"trust_region": "auto", "acquisition": "ei", "hyperparameters": "map"},
    "Bayesian+kuma": {"input_warp": "kumaraswamy", "acquisition": "ei", "hyperparameters": "map"},
    # round 4
    "Bayesian+mcmc": {"hyperparameters": "mcmc"},  # the default since round 4
    # Hvarfner et al.'s dimension-scaled lengthscale prior
    "Bayesian+dsp": {"prior": Prior(lengthscale_form="lognormal", lengthscale_shift=0.0),
                     "hyperparameters": "map"},
    "Bayesian+restarts": {"n_refine": 20, "n_candidates": 2048, "hyperparameters": "map"},
    # round 6: BoTorch's default priors (Ax's model), as our densities on ln l and ln noise. Its
    # LogNormal(sqrt2 + ln(P)/2, sqrt3) on l is, for a MAP or posterior over ln l, a normal with the
    # mean shifted by -sd^2 = -3; its LogNormal(-4, 1) on the noise variance likewise a normal at -5.
    "Bayesian+bnoise": {"prior": Prior(log_noise_mean=-5.0, log_noise_sd=1.0)},
    "Bayesian+bls": {"prior": Prior(lengthscale_form="lognormal", lengthscale_shift=-3.0)},
    "Bayesian+botorch": {"prior": Prior(lengthscale_form="lognormal", lengthscale_shift=-3.0,
                                        log_noise_mean=-5.0, log_noise_sd=1.0)},
    # wider noise priors: let the data choose between interpolation and smoothing
    "Bayesian+wnoise8": {"prior": Prior(log_noise_mean=-8.0, log_noise_sd=3.0)},
    "Bayesian+wnoise6": {"prior": Prior(log_noise_mean=-6.0, log_noise_sd=3.0)},
    "Bayesian+mixnoise": {"prior": Prior(noise_form="mixture", smooth_noise_weight=0.5)},
    "Bayesian+mixnoise10": {"prior": Prior(noise_form="mixture", smooth_noise_weight=0.1)},  # round 6's first default
    "Bayesian+lognoise": {"prior": Prior()},  # round 5's default: the log-normal noise prior alone
    # Ax's Winsorize on top: the default since round 6 (BENCHMARKS.md)
    "Bayesian+wins": ROUND7_DEFAULT,
    # round 7: Ax's first point, the centre of the space, before the Sobol design. These two set only
    # first_point, so make_method gave them round 5's model (Prior(), no output transform): round 7
    # measured them against the current default by mistake (BENCHMARKS.md says so)
    "Bayesian+center": {"first_point": "center"},
    # the same on spaces of 8 or more parameters only (first_point="auto")
    "Bayesian+center8": {"first_point": "auto"},
    # the current default with the centre first: the comparison round 7 meant to make
    "Bayesian+wins+center": {**ROUND7_DEFAULT, "first_point": "center"},
    # round 8: the default (since round 8 the centre first) with EI averaged over the ensemble
    "Bayesian+iei": {**ROUND7_DEFAULT, "first_point": "center", "ensemble_acquisition": "average"},
    # round 8: the default with Ax's initialisation budget (5 trials: the centre and 4 Sobol points,
    # whatever the dimension) instead of max(4, min(10, P + 1))
    "Bayesian+init5": ROUND8_DEFAULT,
    # round 9: the default with the TuRBO trust region on spaces of >= 8 parameters (round 3 measured
    # it only with the MAP model, at 30 and 50 trials)
    "Bayesian+init5+tr": {**ROUND8_DEFAULT, "trust_region": "auto"},
    # round 9: the default plus 256 candidates that redraw 1 or 2 parameters of a best-believed
    # trial across their whole range (coordinate moves; Styblinski-Tang 10, a sum of 1-D terms, was
    # the one loss to TPE)
    "Bayesian+coord": {**ROUND8_DEFAULT, "coordinate_candidates": 256},
    # round 10: the default (round 9's, the trust region from 8 parameters) with trials in flight
    # integrated over 16 joint draws of their values instead of the kriging believer
    "Bayesian+fant": {**ROUND8_DEFAULT, "trust_region": "auto", "in_flight": "fantasies"},
    # round 10: the default with the trust region on spaces of any size (from 1 parameter, not 8)
    "Bayesian+trall": {**ROUND8_DEFAULT, "trust_region": "auto", "trust_region_min_dim": 1},
    # round 10: that, with every other pick of the job global (no box): svm_cancer's plateaus held
    # the box-only version around the first good region
    "Bayesian+tralt": {**ROUND8_DEFAULT, "trust_region": "auto", "trust_region_min_dim": 1,
                       "trust_region_global_every": 2},
    # round 11: the box on every space while the objective does not look quantised (ties among
    # the best quarter of the values), as from 8 parameters up to now
    "Bayesian+trsmooth": {**ROUND8_DEFAULT, "trust_region": "auto", "trust_region_smooth_min_dim": 1},
    # ... from 20 completed trials on: trsmooth's box before the first ties (trials 6-12) anchored
    # tree_wine's search on a plateau in 8 of 20 runs. The default since round 12 (plain "Bayesian")
    "Bayesian+trsmooth20": {**ROUND8_DEFAULT, "trust_region": "auto", "trust_region_smooth_min_dim": 1,
                            "trust_region_smooth_after": 20},
    # round 6's first default with a squared-exponential kernel (BoTorch's since 0.12) instead of
    # Matern 5/2: only in a process started with SKYTUNE_BENCH_KERNEL=rbf (make_method refuses otherwise)
    "Bayesian+rbf": {"prior": Prior(noise_form="mixture")},
}


def _rbf(r2):
    k = np.exp(-0.5 * r2)
    return k, -0.5 * k


if os.environ.get("SKYTUNE_BENCH_KERNEL") == "rbf":  # an experiment: the whole process's GPs
    import skytune.optimize.gp as _gp
    _gp.matern52 = _rbf


SETTINGS_OF_THE_DAY = {"prior": Prior(), "output_transform": "none", "first_point": "sobol", "n_initial": None,
                       "trust_region": "off", "trust_region_min_dim": 8, "trust_region_global_every": 0,
                       "trust_region_smooth_min_dim": 8, "trust_region_smooth_after": 0}


def make_method(name: str, problem: Problem, seed: int, parallel: bool):
    if (name == "Bayesian+rbf") != (os.environ.get("SKYTUNE_BENCH_KERNEL") == "rbf"):
        raise SystemExit("Bayesian+rbf runs alone, in a process started with SKYTUNE_BENCH_KERNEL=rbf")
    if name in VARIANTS:
        # variants were measured with the settings of their day (rounds 2-5: Prior(), no output
        # transform; rounds 2-7: the Sobol design first, max(4, min(10, P + 1)) initial trials;
        # rounds 2-8: no trust region; round 9: the trust region from 8 parameters, every pick in it)
        # unless they set their own, so a stored row is what its command reproduces after later
        # defaults change
        return SkytuneMethod("Bayesian", problem, seed, **{**SETTINGS_OF_THE_DAY, **VARIANTS[name]})
    if name == "Ax":
        return AxMethod(problem, seed, parallel)
    if name in OPTUNA_METHODS:
        return OptunaMethod(name, problem, seed, parallel)
    return SkytuneMethod(SKYTUNE_METHODS[name], problem, seed)
