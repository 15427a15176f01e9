"""Lambda constraints: import time of skytune.optimize and Bayesian suggestion latency.

    python -m benchmarks.tuner.latency            # runs in the project venv (numpy only)

Import time: median of 7 fresh interpreters (``import skytune.optimize`` after Python's own
start-up). Suggestion latency: median over 7 calls (different seeds) of one Bayesian
suggestion from a history of N random observations in D dimensions, one pending trial.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # Lambda's vCPU share: measure one thread
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from skytune.optimize import Observation, parse_space, suggest  # noqa: E402

IMPORT_PROBE = ("import time; t = time.perf_counter(); import skytune.optimize; "
                "print(time.perf_counter() - t)")


def import_seconds(repeats: int = 7) -> float:
    runs = [float(subprocess.run([sys.executable, "-c", IMPORT_PROBE], check=True,
                                 capture_output=True, text=True).stdout) for _ in range(repeats)]
    return statistics.median(runs)


def suggestion_seconds(n_observations: int, dimension: int, repeats: int = 7, cpu: bool = False,
                       **options) -> float:
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(dimension)]})
    rng = np.random.default_rng(0)
    configs = space.from_unit(rng.random((n_observations + 1, dimension)))
    shift = rng.random(dimension)
    completed = [Observation(c, float(np.sum((np.array(list(c.values())) - shift) ** 2)))
                 for c in configs[:-1]]
    times = []
    clock = time.process_time if cpu else time.perf_counter
    for seed in range(repeats):
        started = clock()
        suggest("Bayesian", space, completed, [configs[-1]], 1, seed, **options)
        times.append(clock() - started)
    return statistics.median(times)


def package_megabytes() -> float:
    import skytune.optimize

    root = Path(skytune.optimize.__file__).parent
    return sum(p.stat().st_size for p in root.glob("*.py")) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--mcmc", action="store_true",
                        help="CPU seconds of one suggestion, MAP vs hyperparameters='mcmc' (a loaded "
                             "machine's wall time says little; CPU time does)")
    args = parser.parse_args()
    if args.mcmc:
        for n, d in ((50, 6), (64, 6), (100, 6), (300, 6), (60, 30)):
            cpu = [suggestion_seconds(n, d, args.repeats, cpu=True, hyperparameters=mode)
                   for mode in ("map", "mcmc")]
            print(f"{n} observations x {d}: MAP {cpu[0]:.3f} s, mcmc {cpu[1]:.3f} s CPU (median)")
        return
    print(f"import skytune.optimize: {import_seconds(args.repeats):.3f} s (limit 0.5 s)")
    for n, d, limit in ((300, 6, 0.2), (750, 30, 1.0)):
        print(f"Bayesian suggestion, {n} observations, {d} dims: "
              f"{suggestion_seconds(n, d, args.repeats):.3f} s median (limit {limit} s)")
    print(f"skytune.optimize source: {package_megabytes():.2f} MB (+ numpy in the deps layer)")


if __name__ == "__main__":
    main()
