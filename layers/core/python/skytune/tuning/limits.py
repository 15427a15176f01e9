"""Limits of tuning jobs, in one place (AMT's where it has one; ours where Step Functions sets one)."""
from __future__ import annotations

# AMT allows up to 750 training jobs per tuning job (Bayesian/Random/Hyperband).
MAX_TRAINING_JOBS = 750
# The account-level limit of parallel trials per tuning job: an inline Map state runs at most 40
# iterations concurrently, and one iteration is one worker (MaxParallelTrainingJobs above it: 400).
MAX_PARALLEL_TRAINING_JOBS = 40
# AMT: MaxRuntimeInSeconds of a tuning job is 120 s .. 30 days.
MIN_JOB_RUNTIME_SECONDS = 120
MAX_JOB_RUNTIME_SECONDS = 30 * 24 * 3600
# A trial's StoppingCondition.MaxRuntimeInSeconds (SageMaker: up to 28 days).
MAX_TRIAL_RUNTIME_SECONDS = 28 * 24 * 3600
DEFAULT_TRIAL_RUNTIME_SECONDS = 24 * 3600
# External and local workers must send a heartbeat at least this often (HeartbeatSeconds).
DEFAULT_HEARTBEAT_SECONDS = 300
MAX_PARENT_JOBS = 5  # AMT's WarmStartConfig limit
MAX_CURVE_POINTS = 2000  # intermediate objective values kept per trial for early stopping
# Trials started by one state-machine execution before it continues as a new one. One trial costs
# about 30 history events (claim, suggest, run, record and their choices); 500 trials stay far below
# Step Functions' 25,000-event limit even with retries.
TRIALS_PER_EXECUTION = 500
# Bounds of a spec's size (400 past them): integer ranges the optimisers hold exactly in a float,
# and a Grid small enough to enumerate (its points are counted from the ranges, never listed first).
INTEGER_RANGE_MAX_ABS = 2**53 - 1
GRID_MAX_POINTS = 100_000
# Beyond AMT (issue 15): objectives per job (hypervolume cost grows with them) and outcome constraints.
MAX_OBJECTIVES = 4
MAX_OUTCOME_CONSTRAINTS = 8
