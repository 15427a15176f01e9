"""Train a small neural network on scikit-learn's bundled digits data, SageMaker style.

Hyperparameters arrive as ``--name value`` arguments (as a SageMaker training container gets them
from hyperparameters.json); every epoch prints one line that the tuning job's metric definitions
parse, e.g. ``epoch=3 train_loss=0.4213 val_accuracy=0.9361;``. Deterministic for a given ``--seed``.
"""
from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hidden_units", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    parser.add_argument("--activation", default="relu", choices=["relu", "tanh", "logistic"])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    features, labels = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(features, labels, test_size=0.25, random_state=0, stratify=labels)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)

    model = MLPClassifier(hidden_layer_sizes=(args.hidden_units,), activation=args.activation, alpha=args.alpha,
                          learning_rate_init=args.learning_rate, batch_size=args.batch_size, random_state=args.seed)
    classes = np.unique(labels)
    rng = np.random.default_rng(args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, args.epochs + 1):
            order = rng.permutation(len(x_train))
            model.partial_fit(x_train[order], y_train[order], classes=classes)
            accuracy = model.score(x_val, y_val)
            print(f"epoch={epoch} train_loss={model.loss_:.4f} val_accuracy={accuracy:.4f};", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
