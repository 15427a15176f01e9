"""The synthetic runs both systems load: one deterministic list, so they hold exactly the same data.

A run has 20 params (floats, ints and strings, the kinds a training job logs) and 10 metrics, each a
short series of 5-10 points, so the summaries skytune keeps (min, max, ...) are over real series.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

T0_MS = 1_800_000_000_000
METRICS = ("val_loss", "val_acc", "train_loss", "train_acc", "val_f1", "val_precision", "val_recall",
           "learning_rate", "grad_norm", "throughput")


@dataclass(frozen=True)
class SyntheticRun:
    name: str
    params: dict[str, float | int | str]
    series: dict[str, list[tuple[int, int, float]]]  # metric -> [(step, timestamp_ms, value)]

    def summary(self, metric: str, stat: str) -> float:
        values = [value for _step, _ts, value in self.series[metric]]
        return {"min": min, "max": max}[stat](values)


def _curve(rnd: random.Random, start: float, end: float, points: int, noise: float) -> list[float]:
    """An exponential approach from `start` to `end` with a little multiplicative noise."""
    rate = rnd.uniform(0.3, 0.9)
    return [end + (start - end) * math.exp(-rate * step) * (1 + rnd.uniform(-noise, noise)) for step in range(points)]


def synthetic_run(index: int, seed: int = 0) -> SyntheticRun:
    rnd = random.Random(f"{seed}:{index}")  # a run depends only on its index: sizes share a prefix
    params: dict[str, float | int | str] = {
        "optimizer": rnd.choice(("adam", "sgd", "adamw", "rmsprop")),
        "lr": 10 ** rnd.uniform(-5, -1),
        "batch_size": rnd.choice((16, 32, 64, 128, 256)),
        "epochs": rnd.randint(5, 50),
        "momentum": rnd.uniform(0.8, 0.99),
        "weight_decay": 10 ** rnd.uniform(-6, -2),
        "dropout": rnd.uniform(0.01, 0.5),
        "layers": rnd.randint(1, 12),
        "hidden_units": rnd.choice((64, 128, 256, 512, 1024)),
        "activation": rnd.choice(("relu", "gelu", "tanh", "silu")),
        "scheduler": rnd.choice(("cosine", "step", "none", "linear")),
        "warmup_steps": rnd.randint(0, 2000),
        "seed": rnd.randint(0, 2**31 - 1),
        "label_smoothing": rnd.uniform(0.01, 0.2),
        "grad_clip": rnd.uniform(0.5, 5.0),
        "dataset": rnd.choice(("cifar10", "cifar100", "imagenet-subset")),
        "precision": rnd.choice(("fp32", "bf16", "fp16")),
        "beta1": rnd.uniform(0.85, 0.95),
        "beta2": rnd.uniform(0.99, 0.9999),
        "eps": 10 ** rnd.uniform(-9, -6),
    }
    points = rnd.randint(5, 10)
    final_loss = rnd.uniform(0.05, 0.6)  # min(val_loss) < 0.2 for roughly a quarter of the runs
    final_acc = rnd.uniform(0.6, 0.99)
    values = {
        "val_loss": _curve(rnd, rnd.uniform(0.8, 1.5), final_loss, points, 0.05),
        "val_acc": [min(v, 0.999) for v in _curve(rnd, rnd.uniform(0.1, 0.3), final_acc, points, 0.03)],
        "train_loss": _curve(rnd, rnd.uniform(0.8, 1.5), final_loss * 0.8, points, 0.05),
        "train_acc": [min(v, 0.999) for v in _curve(rnd, rnd.uniform(0.1, 0.3), min(final_acc * 1.02, 0.999), points, 0.03)],
        "val_f1": _curve(rnd, 0.1, final_acc * 0.97, points, 0.03),
        "val_precision": _curve(rnd, 0.1, final_acc * 0.98, points, 0.03),
        "val_recall": _curve(rnd, 0.1, final_acc * 0.96, points, 0.03),
        "learning_rate": _curve(rnd, float(params["lr"]), float(params["lr"]) / 10, points, 0.0),
        "grad_norm": _curve(rnd, rnd.uniform(5, 20), rnd.uniform(0.5, 2), points, 0.2),
        "throughput": [rnd.uniform(800, 1200) for _ in range(points)],
    }
    start = T0_MS + index * 60_000
    series = {metric: [(step, start + step * 1_000, value) for step, value in enumerate(values[metric])] for metric in METRICS}
    return SyntheticRun(name=f"run-{index:06d}", params=params, series=series)


def synthetic_runs(count: int, seed: int = 0) -> list[SyntheticRun]:
    return [synthetic_run(index, seed) for index in range(count)]
