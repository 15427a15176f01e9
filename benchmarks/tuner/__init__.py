"""Optimiser benchmark: skytune's strategies against Optuna on functions with known optima."""
