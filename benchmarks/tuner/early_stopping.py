"""Early-stopping experiment: compute saved vs final result on scikit-learn's digits.

    python -m benchmarks.tuner.early_stopping --seeds 10

Task: SGDClassifier trained epoch by epoch (``partial_fit``) on the bundled digits data;
the objective is validation error after each epoch (max 27 epochs). Each seed draws 60 random
configurations (alpha, eta0 log-scaled; loss; learning-rate schedule) and a fresh
train/validation/test split. The learning curves are computed once, then every policy replays
them in launch order (sequentially), so the policies see identical trials:

* none: every trial runs all 27 epochs;
* median: AMT's early stopping ``Auto`` (skytune's ``median_stopping_rule``, min 3 trials);
* asha / hyperband: skytune's ``Hyperband`` stopping rule, eta = 3, rungs from 1 epoch
  (``n_brackets=1``) or all 4 Hyperband brackets.

Reported per policy: epochs used (relative to none), the best validation error among trials that
ran to the end, its regret against the best of the no-stopping run, and the chosen trial's
test error.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from skytune.optimize import Hyperband, median_stopping_rule, parse_space, suggest  # noqa: E402

MAX_EPOCHS = 27
N_CONFIGS = 60
SPACE = parse_space({
    "ContinuousParameterRanges": [
        {"Name": "alpha", "MinValue": "1e-6", "MaxValue": "1e-1", "ScalingType": "Logarithmic"},
        {"Name": "eta0", "MinValue": "1e-4", "MaxValue": "1", "ScalingType": "Logarithmic"}],
    "CategoricalParameterRanges": [
        {"Name": "loss", "Values": ["hinge", "log_loss", "modified_huber"]},
        {"Name": "learning_rate", "Values": ["constant", "invscaling", "adaptive"]}],
})


def learning_curves(seed: int) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Configurations, validation-error curves (configs, epochs), test error after each epoch."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.5, random_state=seed)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5,
                                                    random_state=seed)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = (scaler.transform(a) for a in (x_train, x_val, x_test))
    configs = suggest("Random", SPACE, [], [], N_CONFIGS, seed)
    val = np.empty((N_CONFIGS, MAX_EPOCHS))
    test = np.empty((N_CONFIGS, MAX_EPOCHS))
    classes = np.unique(y)
    for i, c in enumerate(configs):
        model = SGDClassifier(loss=c["loss"], alpha=c["alpha"], eta0=c["eta0"],
                              learning_rate=c["learning_rate"], random_state=seed)
        order = np.random.default_rng([seed, i])
        for epoch in range(MAX_EPOCHS):
            perm = order.permutation(len(x_train))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.partial_fit(x_train[perm], y_train[perm], classes=classes)
            val[i, epoch] = 1.0 - model.score(x_val, y_val)
            test[i, epoch] = 1.0 - model.score(x_test, y_test)
    return configs, val, test


def replay(val: np.ndarray, policy: str) -> list[int]:
    """Epochs each trial runs under ``policy`` (trials launched and finished in order)."""
    hyperband = {"asha": Hyperband(1, MAX_EPOCHS, 3, n_brackets=1),
                 "hyperband": Hyperband(1, MAX_EPOCHS, 3)}.get(policy)
    ran: list[int] = []
    curves: list[list[tuple[int, float]]] = []
    for i, row in enumerate(val):
        curve: list[tuple[int, float]] = []
        for epoch in range(1, MAX_EPOCHS + 1):
            curve.append((epoch, float(row[epoch - 1])))
            if epoch == MAX_EPOCHS or policy == "none":
                continue
            if policy == "median":
                stop = median_stopping_rule(curve, curves, "Minimize", min_trials=3)
            else:
                bracket = hyperband.bracket_of(i)
                peers = [c for j, c in enumerate(curves) if hyperband.bracket_of(j) == bracket]
                stop = hyperband.should_stop(curve, bracket, peers, "Minimize").stop
            if stop:
                break
        ran.append(len(curve))
        curves.append(curve)
    return ran


POLICIES = ("none", "median", "asha", "hyperband")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    rows = {p: {"epochs": [], "best": [], "regret": [], "test": []} for p in POLICIES}
    for seed in range(args.seeds):
        _, val, test = learning_curves(seed)
        reference = 0.0
        for policy in POLICIES:
            ran = np.array(replay(val, policy))
            finished = np.flatnonzero(ran == MAX_EPOCHS)
            best = finished[np.argmin(val[finished, -1])]
            if policy == "none":
                reference = val[best, -1]
            rows[policy]["epochs"].append(ran.sum())
            rows[policy]["best"].append(val[best, -1])
            rows[policy]["regret"].append(val[best, -1] - reference)
            rows[policy]["test"].append(test[best, -1])
    full = np.mean(rows["none"]["epochs"])
    print(f"## Early stopping on digits (SGDClassifier, {N_CONFIGS} random configurations, "
          f"{MAX_EPOCHS} epochs max, {args.seeds} seeds)\n")
    print("| policy | epochs used (mean) | compute saved | best val. error (mean) "
          "| val. regret vs none: mean / max | test error of chosen (mean) |")
    print("|---|---|---|---|---|---|")
    for p in POLICIES:
        r = rows[p]
        print(f"| {p} | {np.mean(r['epochs']):.0f} | {1 - np.mean(r['epochs']) / full:.0%} | "
              f"{np.mean(r['best']):.4f} | {np.mean(r['regret']):+.4f} / "
              f"{np.max(r['regret']):+.4f} | {np.mean(r['test']):.4f} |")

if __name__ == "__main__":
    main()
